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
mod leader;
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
        /// Watch only these namespaces (comma-separated), e.g. `team-a,team-b`; the operator
        /// then needs Roles in them only. Default: every namespace.
        #[arg(long, env = kaspr_reconcile::WATCH_NAMESPACES_ENV, value_name = "NS,...")]
        namespaces: Option<String>,
        #[command(flatten)]
        lease: LeaseArgs,
    },
    /// Print every child object of each KasprApp and component in manifests as YAML, without a
    /// cluster.
    #[command(long_about = render::LONG_ABOUT, after_help = render::AFTER_HELP)]
    Render {
        /// A manifest (YAML, any number of documents), or a directory of them (its `.yaml` and
        /// `.yml` files); `-` reads standard input. Repeat it for several: an app's components
        /// are mounted when they are in any of them.
        #[arg(short = 'f', long = "filename", value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the CustomResourceDefinitions: KasprApp, then KasprAgent, KasprTable, KasprWebView,
    /// KasprTask and KasprJoin (one YAML stream, for `kubectl apply --server-side -f -`).
    Crd,
}

/// Leader election: only the replica holding the Lease reconciles.
#[derive(clap::Args)]
struct LeaseArgs {
    /// Reconcile only while holding the Lease (`false`: a single replica, e.g. on a laptop).
    #[arg(long, env = "KASPR_LEADER_ELECTION", value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    leader_election: bool,
    /// Name of the Lease.
    #[arg(
        long,
        env = "KASPR_LEASE_NAME",
        value_name = "NAME",
        default_value = "kaspr-operator"
    )]
    lease_name: String,
    /// Namespace of the Lease: the operator's own (the Deployment sets POD_NAMESPACE).
    #[arg(
        long,
        env = "POD_NAMESPACE",
        value_name = "NAMESPACE",
        default_value = "default"
    )]
    lease_namespace: String,
    /// A leader not heard of for this long is replaced; it renews a third of it before the end.
    #[arg(long, value_name = "SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(3..=300))]
    lease_duration: u64,
}

impl LeaseArgs {
    fn config(&self) -> Option<leader::LeaseConfig> {
        self.leader_election.then(|| leader::LeaseConfig {
            name: self.lease_name.clone(),
            namespace: self.lease_namespace.clone(),
            identity: leader::identity(),
            duration: std::time::Duration::from_secs(self.lease_duration),
        })
    }
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Crd => print_crd(),
        Command::Render { files } => render::run(&files),
        Command::Run {
            listen,
            namespaces,
            lease,
        } => run(&listen, namespaces.as_deref(), lease.config()),
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
    let mut docs = vec![serde_yaml::to_string(&kaspr_types::crd())?];
    for (_, crd) in kaspr_components::crds() {
        docs.push(serde_yaml::to_string(&crd)?);
    }
    print!("{}", docs.join("---\n"));
    Ok(true)
}

fn run(
    listen: &str,
    namespaces: Option<&str>,
    lease: Option<leader::LeaseConfig>,
) -> anyhow::Result<bool> {
    let listen: std::net::SocketAddr = listen
        .parse()
        .map_err(|e| anyhow::anyhow!("--listen {listen}: {e}"))?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            telemetry::init_logging();
            // Before anything starts: a setting that cannot be used is one clear line.
            let mut settings = kaspr_reconcile::Settings::from_env()?;
            if let Some(list) = namespaces {
                settings.namespaces = kaspr_reconcile::parse_namespaces(list);
            }
            // First, so a port in use ends the process at once with one clear line.
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {listen} (--listen): {e}"))?;
            let (metrics, export) = kaspr_reconcile::metrics::prometheus()?;
            let client = client().await?;
            let watches = kaspr_reconcile::WatchErrors::default();
            let ready = http::Readiness::new(watches.clone());
            tokio::spawn(http::serve(listener, std::sync::Arc::new(export), ready.clone()));
            let mut elector = lease.map(|config| leader::Elector::new(client.clone(), config));
            let result = {
                let work = async {
                    ready.wait_for_api(&client).await;
                    tracing::info!(%listen, "kaspr-operator started");
                    if let Some(elector) = elector.as_mut() {
                        elector.acquire().await;
                    }
                    match settings.namespaces.as_slice() {
                        [] => tracing::info!("watching every namespace"),
                        list => tracing::info!(namespaces = %list.join(","), "watching only these namespaces"),
                    }
                    let controllers = kaspr_reconcile::run(client.clone(), metrics, settings, watches);
                    match elector.as_mut() {
                        None => controllers.await,
                        Some(elector) => tokio::select! {
                            () = controllers => {}
                            why = elector.hold() => {
                                tracing::error!(reason = %why, "no longer leading: stopping at once; the restart rejoins as a follower");
                                return false;
                            }
                        },
                    }
                    true
                };
                tokio::pin!(work);
                tokio::select! {
                    done = &mut work => done,
                    () = shutdown_signal() => {
                        // The controller stops taking work on the same signal and finishes what
                        // runs; a reconcile stuck on a failing API server is not waited for long.
                        tokio::time::timeout(SHUTDOWN_GRACE, &mut work).await.unwrap_or_else(|_| {
                            tracing::warn!(grace = ?SHUTDOWN_GRACE, "stopping without waiting further for running reconciles");
                            true
                        })
                    }
                }
            };
            // Stopped by a signal: hand the lease over now rather than at its expiry.
            if result && let Some(elector) = elector.as_mut() {
                // Bounded: the API may be what failed.
                let _ = tokio::time::timeout(SHUTDOWN_GRACE, elector.release()).await;
            }
            tracing::info!("kaspr-operator stopped");
            Ok(result)
        })
}

/// How long a running reconcile may take after SIGTERM (the kubelet's default grace is 30 s).
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the process still ends on the default action.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: stopping"),
        _ = int.recv() => tracing::info!("SIGINT: stopping"),
    }
}
