//! `/metrics`, `/healthz`, `/readyz`.

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
use tokio::net::TcpListener;

/// Ready once the API server has answered a list of KasprApps (the CRD is installed and RBAC
/// allows it), and while no watch the reconciles need is failing.
#[derive(Clone)]
pub struct Readiness {
    listed: Arc<AtomicBool>,
    watches: kaspr_reconcile::WatchErrors,
}

impl Readiness {
    pub fn new(watches: kaspr_reconcile::WatchErrors) -> Self {
        Self {
            listed: Arc::default(),
            watches,
        }
    }

    /// None when ready, else why not.
    fn not_ready(&self) -> Option<String> {
        if !self.listed.load(Ordering::Relaxed) {
            return Some("waiting for the API server to list KasprApps".to_owned());
        }
        let failing = self.watches.failing();
        (!failing.is_empty()).then(|| {
            failing
                .iter()
                .map(|(kind, message)| format!("the watch of {kind} fails: {message}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    pub async fn wait_for_api(&self, client: &kube::Client) {
        let api = Api::<KasprApp>::all(client.clone());
        loop {
            match api.list(&ListParams::default().limit(1)).await {
                Ok(_) => {
                    self.listed.store(true, Ordering::Relaxed);
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

/// Serves on `listener` (bound by the caller, so a port in use is an error at start).
pub async fn serve(listener: TcpListener, export: Arc<PrometheusExport>, ready: Readiness) {
    let app = Router::new()
        .route(
            "/metrics",
            get(|State(s): State<AppState>| async move { s.export.render() }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(|State(s): State<AppState>| async move {
                match s.ready.not_ready() {
                    None => (StatusCode::OK, "ok".to_owned()),
                    Some(why) => (StatusCode::SERVICE_UNAVAILABLE, why),
                }
            }),
        )
        .with_state(AppState { export, ready });
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "HTTP server stopped");
    }
}
