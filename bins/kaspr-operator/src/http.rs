//! `/metrics`, `/healthz`, `/readyz`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use kaspr_reconcile::metrics::PrometheusExport;
use kaspr_types::KasprApp;
use kube::api::{Api, ListParams};

/// Ready once the API server has answered a list of KasprApps (the CRD is installed and RBAC
/// allows it).
#[derive(Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    pub async fn wait_for_api(&self, client: &kube::Client) {
        let api = Api::<KasprApp>::all(client.clone());
        loop {
            match api.list(&ListParams::default().limit(1)).await {
                Ok(_) => {
                    self.0.store(true, Ordering::Relaxed);
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot list KasprApps yet (is the CRD installed and RBAC granted?)");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            }
        }
    }
}

#[derive(Clone)]
struct AppState {
    export: Arc<PrometheusExport>,
    ready: Readiness,
}

pub async fn serve(addr: SocketAddr, export: Arc<PrometheusExport>, ready: Readiness) {
    let app = Router::new()
        .route(
            "/metrics",
            get(|State(s): State<AppState>| async move { s.export.render() }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(|State(s): State<AppState>| async move {
                if s.ready.0.load(Ordering::Relaxed) {
                    (StatusCode::OK, "ok")
                } else {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "waiting for the API server",
                    )
                }
            }),
        )
        .with_state(AppState { export, ready });
    match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "HTTP server stopped");
            }
        }
        Err(e) => tracing::error!(error = %e, %addr, "cannot listen"),
    }
}
