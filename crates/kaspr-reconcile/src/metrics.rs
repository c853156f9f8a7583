//! The operator's metrics, in a Prometheus registry (the `prometheus` crate). Names carry the
//! `kasprop_` prefix; every series has `app_name` and `namespace` except the reconcile duration
//! histogram and `kasprop_build_info`, which are operator-wide: per app, its buckets made 15
//! series per app (30,000 series and a 2.8 MB scrape with 1,000 apps, measured). The series of
//! a deleted app are removed ([`Metrics::forget`]).
//!
//! Install metrics are recorded once per install report (see [`crate::status::PodReport::key`]),
//! never once per reconcile; after a restart, reports already counted are recognised by the
//! pod annotation the operator sets (see `count_new_reports`).
//!
//! Label values: `result` of `kasprop_package_install_total` is `installed` (the installer
//! ran), `cached` (the environment was in the cache) or `failed`; `error_type` of
//! `kasprop_package_install_errors_total` is an install error type of the protocol
//! (`docs/install-protocol.md`); `error` of `kasprop_reconcile_errors_total` is the API call
//! that failed ([`Error::metric_label`]); `type` of `kasprop_package_cache_usage_bytes` is
//! `total`, `used` or `available`.

use std::time::Duration;

use kaspr_script::{InstallReport, InstallResult};
use kaspr_types::{InstallErrorType, KasprApp};
use kube::ResourceExt;
use prometheus::{
    GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
};

use crate::error::Error;

/// The instruments.
#[derive(Clone)]
pub struct Metrics {
    install_total: IntCounterVec,
    install_duration: HistogramVec,
    install_errors: IntCounterVec,
    install_retries: IntCounterVec,
    install_timeouts: IntCounterVec,
    auth_enabled: IntGaugeVec,
    custom_index_enabled: IntGaugeVec,
    cache_usage_bytes: IntGaugeVec,
    cache_usage_percent: GaugeVec,
    reconcile_total: IntCounterVec,
    reconcile_errors: IntCounterVec,
    reconcile_duration: HistogramVec,
}

const APP: [&str; 2] = ["app_name", "namespace"];

fn labels(app: &KasprApp) -> [String; 2] {
    [app.name_any(), app.namespace().unwrap_or_default()]
}

fn with<'a>(base: &'a [String; 2], value: &'a str) -> [&'a str; 3] {
    [base[0].as_str(), base[1].as_str(), value]
}

fn app_only(base: &[String; 2]) -> [&str; 2] {
    [base[0].as_str(), base[1].as_str()]
}

/// The `result` values of `kasprop_package_install_total`.
const RESULTS: [&str; 3] = ["installed", "cached", "failed"];
/// The `type` values of `kasprop_package_cache_usage_bytes`.
const USAGE_TYPES: [&str; 3] = ["total", "used", "available"];

macro_rules! register {
    ($registry:expr, $metric:expr) => {{
        let metric = $metric;
        $registry.register(Box::new(metric.clone()))?;
        metric
    }};
}

impl Metrics {
    /// The instruments, registered in `registry`.
    pub fn new(registry: &Registry) -> prometheus::Result<Self> {
        let counter = |name: &str, help: &str, extra: &[&str]| {
            let names: Vec<&str> = APP.iter().chain(extra).copied().collect();
            IntCounterVec::new(Opts::new(name, help), &names)
        };
        let gauge = |name: &str, help: &str, extra: &[&str]| {
            let names: Vec<&str> = APP.iter().chain(extra).copied().collect();
            IntGaugeVec::new(Opts::new(name, help), &names)
        };
        let build_info = IntGaugeVec::new(
            Opts::new("kasprop_build_info", "The operator's version (always 1)"),
            &["version"],
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        registry.register(Box::new(build_info))?;
        Ok(Self {
            install_total: register!(
                registry,
                counter(
                    "kasprop_package_install_total",
                    "Package install runs by result (installed, cached, failed)",
                    &["result"],
                )?
            ),
            install_duration: register!(
                registry,
                HistogramVec::new(
                    HistogramOpts::new(
                        "kasprop_package_install_duration_seconds",
                        "Duration of package installs that ran the installer",
                    )
                    // Seconds to tens of minutes.
                    .buckets(vec![
                        1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0,
                    ]),
                    &APP,
                )?
            ),
            install_errors: register!(
                registry,
                counter(
                    "kasprop_package_install_errors_total",
                    "Failed package installs by error type",
                    &["error_type"],
                )?
            ),
            install_retries: register!(
                registry,
                counter(
                    "kasprop_package_install_retries_total",
                    "Install attempts beyond the first",
                    &[],
                )?
            ),
            install_timeouts: register!(
                registry,
                counter(
                    "kasprop_package_install_timeouts_total",
                    "Package installs that failed on installPolicy.timeout",
                    &[],
                )?
            ),
            auth_enabled: register!(
                registry,
                gauge(
                    "kasprop_package_auth_enabled",
                    "1 when the app installs from an index with credentials",
                    &[],
                )?
            ),
            custom_index_enabled: register!(
                registry,
                gauge(
                    "kasprop_package_custom_index_enabled",
                    "1 when the app sets indexUrl or extraIndexUrls",
                    &[],
                )?
            ),
            cache_usage_bytes: register!(
                registry,
                gauge(
                    "kasprop_package_cache_usage_bytes",
                    "Packages cache filesystem usage by type (total, used, available)",
                    &["type"],
                )?
            ),
            cache_usage_percent: register!(
                registry,
                GaugeVec::new(
                    Opts::new(
                        "kasprop_package_cache_usage_percent",
                        "Used share of the packages cache filesystem",
                    ),
                    &APP,
                )?
            ),
            reconcile_total: register!(
                registry,
                counter("kasprop_reconcile_total", "Reconciles", &[])?
            ),
            reconcile_errors: register!(
                registry,
                counter(
                    "kasprop_reconcile_errors_total",
                    "Reconciles that failed, by the failing API call (error)",
                    &["error"],
                )?
            ),
            reconcile_duration: register!(
                registry,
                HistogramVec::new(
                    HistogramOpts::new(
                        "kasprop_reconcile_duration_seconds",
                        "Duration of reconciles, all apps",
                    )
                    // A reconcile reads caches and sends a few applies: milliseconds, seconds when
                    // the API server is slow.
                    .buckets(vec![
                        0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                    ]),
                    &[],
                )?
            ),
        })
    }

    /// Removes every series of the app `name` in `namespace` (it was deleted): a deleted app's
    /// last values would otherwise be scraped for the life of the process.
    pub fn forget(&self, name: &str, namespace: &str) {
        let base = [name.to_owned(), namespace.to_owned()];
        let two = app_only(&base);
        for vec in [
            &self.install_retries,
            &self.install_timeouts,
            &self.reconcile_total,
        ] {
            let _ = vec.remove_label_values(&two);
        }
        for vec in [&self.auth_enabled, &self.custom_index_enabled] {
            let _ = vec.remove_label_values(&two);
        }
        let _ = self.install_duration.remove_label_values(&two);
        let _ = self.cache_usage_percent.remove_label_values(&two);
        for result in RESULTS {
            let _ = self.install_total.remove_label_values(&with(&base, result));
        }
        for usage in USAGE_TYPES {
            let _ = self
                .cache_usage_bytes
                .remove_label_values(&with(&base, usage));
        }
        for error_type in InstallErrorType::ALL {
            let _ = self
                .install_errors
                .remove_label_values(&with(&base, error_type.as_str()));
        }
        for error in Error::METRIC_LABELS {
            let _ = self
                .reconcile_errors
                .remove_label_values(&with(&base, error));
        }
    }

    /// One install report, seen for the first time.
    pub fn record_report(&self, app: &KasprApp, report: &InstallReport) {
        let base = labels(app);
        let two = app_only(&base);
        let result = match report.result {
            InstallResult::Installed => "installed",
            InstallResult::Cached => "cached",
            InstallResult::Failed => "failed",
        };
        self.install_total
            .with_label_values(&with(&base, result))
            .inc();
        if report.result == InstallResult::Installed {
            self.install_duration
                .with_label_values(&two)
                .observe(report.duration_seconds);
        }
        if report.retries() > 0 {
            self.install_retries
                .with_label_values(&two)
                .inc_by(u64::from(report.retries()));
        }
        if let Some(error) = report
            .error_type
            .filter(|_| report.result == InstallResult::Failed)
        {
            self.install_errors
                .with_label_values(&with(&base, error.as_str()))
                .inc();
            if error == InstallErrorType::Timeout {
                self.install_timeouts.with_label_values(&two).inc();
            }
        }
        if let Some(cache) = &report.cache {
            let bytes = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
            for (usage, value) in [
                ("total", cache.total_bytes),
                ("used", cache.used_bytes),
                ("available", cache.available_bytes),
            ] {
                self.cache_usage_bytes
                    .with_label_values(&with(&base, usage))
                    .set(bytes(value));
            }
            self.cache_usage_percent
                .with_label_values(&two)
                .set(cache.usage_percent());
        }
    }

    /// What the spec turns on; set on every reconcile (a gauge, so repeating is harmless).
    pub fn record_spec(&self, app: &KasprApp) {
        let base = labels(app);
        let two = app_only(&base);
        let pp = app.spec.python_packages.as_ref();
        let auth = pp.is_some_and(|p| p.credentials.is_some());
        let custom = pp.is_some_and(|p| p.index_url.is_some() || !p.extra_index_urls.is_empty());
        self.auth_enabled
            .with_label_values(&two)
            .set(i64::from(auth));
        self.custom_index_enabled
            .with_label_values(&two)
            .set(i64::from(custom));
    }

    /// One reconcile; a failed one is also counted under its error's
    /// [`metric_label`](Error::metric_label) (the API call that failed).
    pub fn record_reconcile(&self, app: &KasprApp, took: Duration, error: Option<&Error>) {
        let base = labels(app);
        self.reconcile_total
            .with_label_values(&app_only(&base))
            .inc();
        self.reconcile_duration
            .with_label_values::<&str>(&[])
            .observe(took.as_secs_f64());
        if let Some(error) = error {
            self.reconcile_errors
                .with_label_values(&with(&base, error.metric_label()))
                .inc();
        }
    }
}

/// The exporter side: the registry, as `/metrics` serves it.
pub struct PrometheusExport {
    registry: Registry,
}

impl PrometheusExport {
    /// The registry in the Prometheus text format, as `/metrics` serves it.
    pub fn render(&self) -> String {
        prometheus::TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_default()
    }
}

/// The instruments in a fresh registry, and its export.
pub fn prometheus() -> prometheus::Result<(Metrics, PrometheusExport)> {
    let registry = Registry::new();
    let metrics = Metrics::new(&registry)?;
    Ok((metrics, PrometheusExport { registry }))
}
