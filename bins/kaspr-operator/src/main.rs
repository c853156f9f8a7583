//! `kaspr-operator`: the operator binary.
//!
//! - `run [--listen ADDR]`: reconcile KasprApps (in-cluster, or the current kubeconfig) and
//!   serve `/metrics`, `/healthz` and `/readyz` on ADDR (default `0.0.0.0:8080`)
//! - `render -f FILE`: no cluster needed: print every child object of each KasprApp in FILE as
//!   YAML, or its validation errors with field paths (exit 1)
//! - `crd`: print the KasprApp CustomResourceDefinition

mod http;
mod render;
mod telemetry;

use std::process::ExitCode;

const USAGE: &str = "usage: kaspr-operator run [--listen ADDR] | render -f FILE | crd";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["crd"] => print_crd(),
        ["render", "-f", file] => render::run(std::path::Path::new(file)),
        ["run"] => run("0.0.0.0:8080"),
        ["run", "--listen", addr] => run(addr),
        ["-h" | "--help" | "help"] => {
            println!("{USAGE}");
            Ok(true)
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A client for the current cluster (in-cluster, or the kubeconfig) that names itself in the
/// API server's audit log.
async fn client() -> anyhow::Result<kube::Client> {
    use axum::http::{HeaderValue, header::USER_AGENT};
    let mut config = kube::Config::infer().await?;
    let agent = concat!("kaspr-operator/", env!("CARGO_PKG_VERSION"));
    config
        .headers
        .push((USER_AGENT, HeaderValue::from_static(agent)));
    Ok(kube::Client::try_from(config)?)
}

fn print_crd() -> anyhow::Result<bool> {
    print!("{}", serde_yaml::to_string(&kaspr_types::crd())?);
    Ok(true)
}

fn run(listen: &str) -> anyhow::Result<bool> {
    let listen: std::net::SocketAddr = listen
        .parse()
        .map_err(|e| anyhow::anyhow!("--listen {listen}: {e}"))?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            telemetry::init_logging();
            let (metrics, export) = kaspr_reconcile::metrics::prometheus()?;
            let client = client().await?;
            let ready = http::Readiness::default();
            tokio::spawn(http::serve(
                listen,
                std::sync::Arc::new(export),
                ready.clone(),
            ));
            ready.wait_for_api(&client).await;
            tracing::info!(%listen, "kaspr-operator started");
            kaspr_reconcile::run(client, metrics, kaspr_reconcile::Settings::from_env()).await;
            Ok(true)
        })
}
