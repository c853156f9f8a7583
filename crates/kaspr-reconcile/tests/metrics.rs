//! Every metric the user guide documents, set through the Metrics API from install reports and
//! reconciles, as Prometheus scrapes it from `/metrics`.

use std::collections::BTreeMap;
use std::time::Duration;

use kaspr_reconcile::error::Error;
use kaspr_reconcile::metrics::{Metrics, PrometheusExport, prometheus};
use kaspr_script::InstallReport;
use kaspr_test_support::app::AppBuilder;
use kaspr_test_support::workspace_root;
use kaspr_types::KasprApp;

/// `orders` in `shop`, with a private index, credentials and the shared cache.
fn app() -> KasprApp {
    AppBuilder::new("orders")
        .namespace("shop")
        .python_packages(
            "packages: [requests==2.31.0]\nindexUrl: https://pypi.example.com/simple\n\
             credentials: {secretRef: {name: pypi-creds}}\ncache: {enabled: true}\n",
        )
        .build()
}

/// A v1 install report as the init container writes it, with `extra` fields added.
fn report(result: &str, attempts: u32, extra: &str) -> InstallReport {
    let text = format!(
        r#"{{"v":1,"result":"{result}","hash":"a38d296f011adb6e","pythonTag":"cp311","installer":"pip","pod":"orders-app-0","startedAt":"2026-11-26T10:30:00Z","finishedAt":"2026-11-26T10:30:45Z","durationSeconds":45.0,"attempts":{attempts}{extra}}}"#
    );
    InstallReport::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// One sample of the Prometheus text: its value when a line has exactly this name and label set.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let wanted: BTreeMap<&str, &str> = labels.iter().copied().collect();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, "}"));
            let found: BTreeMap<&str, &str> = rest
                .trim_end_matches('}')
                .split(',')
                .filter(|kv| !kv.is_empty())
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k, v.trim_matches('"')))
                .collect();
            (metric == name && found == wanted).then(|| value.parse().ok())?
        })
}

const APP: [(&str, &str); 2] = [("app_name", "orders"), ("namespace", "shop")];

fn with(extra: (&'static str, &'static str)) -> Vec<(&'static str, &'static str)> {
    let mut labels = APP.to_vec();
    labels.push(extra);
    labels
}

fn assert_sample(export: &PrometheusExport, name: &str, labels: &[(&str, &str)], expected: f64) {
    let text = export.render();
    assert_eq!(
        sample(&text, name, labels),
        Some(expected),
        "{name} {labels:?} in:\n{text}"
    );
}

/// Reports of three pods and two reconciles (one failed on an apply).
fn record_everything(metrics: &Metrics, app: &KasprApp) {
    let cache =
        r#","cache":{"totalBytes":10737418240,"usedBytes":2684354560,"availableBytes":8053063680}"#;
    metrics.record_spec(app);
    // Installed on the second attempt: one retry, 45 s, cache usage 25 %.
    metrics.record_report(app, &report("installed", 2, cache));
    // Timed out on every one of 3 attempts: two retries.
    let timeout = r#","errorType":"timeout","error":"pip ran past 600s""#;
    metrics.record_report(app, &report("failed", 3, timeout));
    // Found the env ready: no installer run.
    metrics.record_report(app, &report("cached", 0, ""));
    metrics.record_reconcile(app, Duration::from_millis(500), None);
    let refused = Error::Apply {
        kind: "StatefulSet",
        name: "orders-app".into(),
        source: kube::Error::Api(
            kube::core::Status::failure("spec.template.spec.volumes[2].name: Required", "Invalid")
                .with_code(422)
                .boxed(),
        ),
    };
    metrics.record_reconcile(app, Duration::from_millis(1500), Some(&refused));
}

#[test]
fn all_twelve_documented_metrics_are_set_with_their_labels() {
    let (metrics, export) = prometheus().expect("exporter");
    let app = app();
    record_everything(&metrics, &app);

    let install = "kasprop_package_install_total";
    assert_sample(&export, install, &with(("result", "installed")), 1.0);
    assert_sample(&export, install, &with(("result", "failed")), 1.0);
    assert_sample(&export, install, &with(("result", "cached")), 1.0);
    // Only the run that installed is timed.
    let duration = "kasprop_package_install_duration_seconds";
    assert_sample(&export, &format!("{duration}_count"), &APP, 1.0);
    assert_sample(&export, &format!("{duration}_sum"), &APP, 45.0);
    assert_sample(
        &export,
        "kasprop_package_install_errors_total",
        &with(("error_type", "timeout")),
        1.0,
    );
    assert_sample(&export, "kasprop_package_install_retries_total", &APP, 3.0);
    assert_sample(&export, "kasprop_package_install_timeouts_total", &APP, 1.0);
    assert_sample(&export, "kasprop_package_auth_enabled", &APP, 1.0);
    assert_sample(&export, "kasprop_package_custom_index_enabled", &APP, 1.0);
    let bytes = "kasprop_package_cache_usage_bytes";
    assert_sample(&export, bytes, &with(("type", "total")), 10737418240.0);
    assert_sample(&export, bytes, &with(("type", "used")), 2684354560.0);
    assert_sample(&export, bytes, &with(("type", "available")), 8053063680.0);
    assert_sample(&export, "kasprop_package_cache_usage_percent", &APP, 25.0);
    assert_sample(&export, "kasprop_reconcile_total", &APP, 2.0);
    assert_sample(
        &export,
        "kasprop_reconcile_errors_total",
        &with(("error", "apply")),
        1.0,
    );
    let reconcile = "kasprop_reconcile_duration_seconds";
    // Operator-wide: no app labels (one histogram, not one per app).
    assert_sample(&export, &format!("{reconcile}_count"), &[], 2.0);
    assert_sample(&export, &format!("{reconcile}_sum"), &[], 2.0);
    assert!(
        !export
            .render()
            .lines()
            .any(|l| l.starts_with(reconcile) && l.contains("app_name")),
        "the reconcile histogram has no per-app series"
    );
}

#[test]
fn the_metrics_section_of_the_user_guide_lists_exactly_these_thirteen() {
    let guide =
        std::fs::read_to_string(workspace_root().join("docs/user-guide/python-packages.md"))
            .expect("user guide");
    let section = guide
        .split("## Metrics")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a Metrics section");
    let mut documented: Vec<&str> = section
        .split('`')
        .filter(|s| s.starts_with("kasprop_"))
        .map(|s| s.split('{').next().unwrap_or(s))
        .collect();
    documented.sort_unstable();
    let (metrics, export) = prometheus().expect("exporter");
    record_everything(&metrics, &app());
    let text = export.render();
    let mut exported: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    exported.sort_unstable();
    assert_eq!(documented.len(), 13, "{documented:?}");
    assert_eq!(documented, exported, "{text}");
}

#[test]
fn a_deleted_apps_series_are_removed_and_build_info_stays() {
    let (metrics, export) = prometheus().expect("exporter");
    record_everything(&metrics, &app());
    let other = AppBuilder::new("other").namespace("shop").build();
    metrics.record_spec(&other);
    metrics.forget("orders", "shop");
    let text = export.render();
    assert!(!text.contains("app_name=\"orders\""), "{text}");
    assert!(text.contains("app_name=\"other\""), "{text}");
    assert!(
        text.contains(&format!(
            "kasprop_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
}

/// Every `kasprop_*` name in `text`, without the histogram series suffixes.
fn metric_names(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("kasprop_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        names.insert(base.to_owned());
        rest = &tail[end..];
    }
    names
}

#[test]
fn the_dashboard_and_the_alerts_use_only_exported_metrics() {
    let (metrics, export) = prometheus().expect("exporter");
    record_everything(&metrics, &app());
    let exported = metric_names(&export.render());
    let dir = workspace_root().join("deploy/monitoring");
    let rules_text = std::fs::read_to_string(dir.join("prometheusrule.yaml")).expect("rules");
    let rules: serde_json::Value = serde_yaml::from_str(&rules_text).expect("YAML");
    let mut alerts = 0;
    for group in rules["spec"]["groups"].as_array().expect("groups") {
        for rule in group["rules"].as_array().expect("rules") {
            assert!(
                rule["alert"].is_string() && rule["expr"].is_string(),
                "{rule}"
            );
            assert!(rule["labels"]["severity"].is_string(), "{rule}");
            alerts += 1;
        }
    }
    assert!(alerts >= 5, "{alerts} alerts");
    let dashboard_text =
        std::fs::read_to_string(dir.join("grafana-dashboard.json")).expect("dashboard");
    let dashboard: serde_json::Value = serde_json::from_str(&dashboard_text).expect("JSON");
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(
        panels
            .iter()
            .all(|p| p["targets"].as_array().is_some_and(|t| !t.is_empty()))
    );
    for (file, text) in [("alerts", &rules_text), ("dashboard", &dashboard_text)] {
        let used = metric_names(text);
        let unknown: Vec<&String> = used.difference(&exported).collect();
        assert!(
            unknown.is_empty(),
            "the {file} names metrics the operator does not export: {unknown:?}"
        );
    }
    // Every exported metric is shown on the dashboard.
    let shown = metric_names(&dashboard_text);
    let missing: Vec<&String> = exported.difference(&shown).collect();
    assert!(missing.is_empty(), "not on the dashboard: {missing:?}");
}
