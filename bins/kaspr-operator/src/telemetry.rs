//! Logs (tracing) and metrics (OpenTelemetry SDK with the Prometheus exporter).

use anyhow::Result;
use kaspr_reconcile::metrics::Metrics;
use opentelemetry::metrics::MeterProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use tracing_subscriber::EnvFilter;

/// `RUST_LOG` filters (default `info`); `KASPR_LOG_FORMAT=json` for structured logs.
pub fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if std::env::var("KASPR_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// The operator's instruments, exported to a Prometheus registry that `/metrics` renders.
pub fn metrics() -> Result<(Metrics, prometheus::Registry)> {
    let registry = prometheus::Registry::new();
    let exporter = opentelemetry_prometheus::exporter()
        .with_registry(registry.clone())
        .without_target_info()
        .build()?;
    let provider = SdkMeterProvider::builder().with_reader(exporter).build();
    let meter = provider.meter("kaspr-operator");
    // The provider must outlive the process's metrics; keep it for the program's lifetime.
    std::mem::forget(provider);
    Ok((Metrics::new(&meter), registry))
}

/// The registry in the Prometheus text format.
pub fn render(registry: &prometheus::Registry) -> String {
    prometheus::TextEncoder::new()
        .encode_to_string(&registry.gather())
        .unwrap_or_default()
}
