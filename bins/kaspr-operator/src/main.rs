//! `kaspr-operator`: the operator binary.
//!
//! - `run [--listen ADDR]`: reconcile KasprApps (in-cluster, or the current kubeconfig) and
//!   serve `/metrics`, `/healthz` and `/readyz` on ADDR (default `0.0.0.0:8080`)
//! - `render -f FILE|-`: no cluster needed: print every child object of each KasprApp in FILE
//!   (`-`: standard input) as YAML, or its errors with field paths (exit 1)
//! - `crd`: print the KasprApp CustomResourceDefinition
//!
//! `--version` prints the version, `-h`/`--help` the usage of the binary or of a subcommand;
//! a wrong argument exits 2 with clap's message.

mod http;
mod render;
mod telemetry;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Kubernetes operator for KasprApp resources with Python package management.
#[derive(Parser)]
#[command(name = "kaspr-operator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Reconcile KasprApps (in-cluster, or the current kubeconfig) and serve /metrics, /healthz
    /// and /readyz.
    Run {
        /// Address of the /metrics, /healthz and /readyz server.
        #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8080")]
        listen: String,
    },
    /// Print every child object of each KasprApp in a manifest as YAML, without a cluster.
    #[command(long_about = render::LONG_ABOUT, after_help = render::AFTER_HELP)]
    Render {
        /// The manifest (YAML, any number of documents); `-` reads standard input.
        #[arg(short = 'f', long = "filename", value_name = "FILE")]
        file: PathBuf,
    },
    /// Print the KasprApp CustomResourceDefinition (YAML).
    Crd,
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Crd => print_crd(),
        Command::Render { file } => render::run(&file),
        Command::Run { listen } => run(&listen),
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
