//! The status of a component (KasprAgent, KasprTable, KasprWebView, KasprTask, KasprJoin): what
//! upstream writes (`app`, `configMap`, `hash`, a join's `leftTable`/`rightTable`) plus
//! `observedGeneration` and a `Ready` condition saying what, if anything, to fix. Pure: what was
//! seen and the clock in, the status out.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kaspr_components::{
    AppState, AppStatus, Component, ComponentStatus, JoinTableState, JoinTableStatus,
    KasprJoinStatus,
};
use serde_json::Value;

use super::make_condition;

/// What became of the component's ConfigMap.
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigMapOutcome {
    /// Applied: it holds the definition of this hash.
    Applied { hash: String },
    /// The spec is refused (the errors, one per line, with their fields).
    Invalid(String),
    /// A ConfigMap of its name exists and is not this component's.
    NameConflict { name: String, holder: String },
    /// The API refused the apply (its message).
    ApplyFailed { name: String, message: String },
}

/// What the reconcile saw.
#[derive(Clone, Debug, PartialEq)]
pub struct Seen {
    /// Whether the KasprApp of the `kaspr.io/app` label exists.
    pub app_found: bool,
    /// For a join: whether its left and right tables exist.
    pub tables: Option<(bool, bool)>,
    pub outcome: ConfigMapOutcome,
}

/// The status for `component` (as JSON, in the shape of its kind's status type), keeping the
/// Ready condition's transition time from `previous` while it holds.
pub fn compute(component: &Component, previous: &[Condition], seen: &Seen, now: &Time) -> Value {
    let meta = component.metadata();
    let ns = meta.namespace.as_deref().unwrap_or("default");
    let app_name = component.app_name().unwrap_or_default();
    let app = AppStatus {
        name: Some(app_name.to_owned()),
        status: Some(if seen.app_found {
            AppState::AppFound
        } else {
            AppState::AppNotFound
        }),
    };
    let (ok, reason, message) = ready(component, seen, ns, app_name);
    let condition = make_condition(
        "Ready",
        ok,
        reason,
        &message,
        meta.generation,
        previous,
        now,
    );
    let hash = match &seen.outcome {
        ConfigMapOutcome::Applied { hash } => Some(hash.clone()),
        _ => None,
    };
    let config_map = hash.as_ref().map(|_| component.config_map_name());
    let status = match (component, seen.tables) {
        (Component::Join(_), tables) => serde_json::to_value(KasprJoinStatus {
            observed_generation: meta.generation,
            app: Some(app),
            left_table: tables.map(|(left, _)| table(component, true, left)),
            right_table: tables.map(|(_, right)| table(component, false, right)),
            config_map,
            hash,
            conditions: vec![condition],
        }),
        _ => serde_json::to_value(ComponentStatus {
            observed_generation: meta.generation,
            app: Some(app),
            config_map,
            hash,
            conditions: vec![condition],
        }),
    };
    status.unwrap_or(Value::Null)
}

fn table(component: &Component, left: bool, found: bool) -> JoinTableStatus {
    let Component::Join(join) = component else {
        return JoinTableStatus {
            name: None,
            status: None,
        };
    };
    let (name, state) = match (left, found) {
        (true, true) => (&join.spec.left_table, JoinTableState::LeftTableFound),
        (true, false) => (&join.spec.left_table, JoinTableState::LeftTableNotFound),
        (false, true) => (&join.spec.right_table, JoinTableState::RightTableFound),
        (false, false) => (&join.spec.right_table, JoinTableState::RightTableNotFound),
    };
    JoinTableStatus {
        name: Some(name.clone()),
        status: Some(state),
    }
}

/// Ready, its reason and a message naming what to fix.
fn ready(component: &Component, seen: &Seen, ns: &str, app: &str) -> (bool, &'static str, String) {
    let kind = component.kind();
    match &seen.outcome {
        ConfigMapOutcome::Invalid(errors) => {
            return (
                false,
                "InvalidSpec",
                format!("the {kind} is refused; fix these fields:\n{errors}"),
            );
        }
        ConfigMapOutcome::NameConflict { name, holder } => {
            return (
                false,
                "NameConflict",
                format!(
                    "ConfigMap {name} exists and is not this {kind}'s ({holder}); rename the \
                     {kind} or remove that ConfigMap"
                ),
            );
        }
        ConfigMapOutcome::ApplyFailed { name, message } => {
            return (
                false,
                "ApplyFailed",
                format!("applying ConfigMap {name} failed: {message}"),
            );
        }
        ConfigMapOutcome::Applied { .. } => {}
    }
    if !seen.app_found {
        return (
            false,
            "AppNotFound",
            format!(
                "no KasprApp {app} in namespace {ns}: create it, or set the kaspr.io/app label \
                 to an existing app's name; the definition is ready for it"
            ),
        );
    }
    if let (Component::Join(join), Some((left, right))) = (component, seen.tables) {
        let missing: Vec<String> = [
            (left, "spec.leftTable", &join.spec.left_table),
            (right, "spec.rightTable", &join.spec.right_table),
        ]
        .into_iter()
        .filter(|(found, _, _)| !found)
        .map(|(_, field, name)| format!("{field} {name}"))
        .collect();
        if !missing.is_empty() {
            return (
                false,
                "TableNotFound",
                format!(
                    "no KasprTable of the name in {} in namespace {ns}: create it or fix the name",
                    missing.join(" and ")
                ),
            );
        }
        return (
            true,
            "AppFound",
            format!(
                "defined for KasprApp {app}; joins are not mounted into the app's pods (as \
                 upstream): the runtime versions in use do not read them"
            ),
        );
    }
    (
        true,
        "AppFound",
        format!("mounted into the pods of KasprApp {app}"),
    )
}

/// The events a change of status calls for: the app or a join's table appearing or
/// disappearing (upstream's reasons), and a newly refused spec. `previous` is the status as
/// last written (JSON), `status` the new one.
pub fn events(previous: Option<&Value>, status: &Value) -> Vec<(bool, &'static str, String)> {
    let mut out = Vec::new();
    let changed =
        |field: &str| previous.map(|p| &p[field]["status"]) != Some(&status[field]["status"]);
    if changed("app") {
        let name = status["app"]["name"].as_str().unwrap_or_default();
        match status["app"]["status"].as_str() {
            Some("AppFound") => out.push((false, "AppFound", format!("KasprApp {name} exists"))),
            _ => out.push((
                true,
                "AppNotFound",
                format!("KasprApp {name} does not exist in this namespace"),
            )),
        }
    }
    for field in ["leftTable", "rightTable"] {
        if status[field].is_null() || !changed(field) {
            continue;
        }
        let name = status[field]["name"].as_str().unwrap_or_default();
        let state = status[field]["status"].as_str().unwrap_or_default();
        let (warning, reason, message) = match state {
            "LeftTableFound" => (false, "LeftTableFound", format!("KasprTable {name} exists")),
            "RightTableFound" => (
                false,
                "RightTableFound",
                format!("KasprTable {name} exists"),
            ),
            "LeftTableNotFound" => (
                true,
                "LeftTableNotFound",
                format!("KasprTable {name} does not exist in this namespace"),
            ),
            _ => (
                true,
                "RightTableNotFound",
                format!("KasprTable {name} does not exist in this namespace"),
            ),
        };
        out.push((warning, reason, message));
    }
    let reason = |s: Option<&Value>| {
        s.and_then(|s| s["conditions"][0]["reason"].as_str().map(str::to_owned))
    };
    let new_reason = reason(Some(status));
    let refused = matches!(
        new_reason.as_deref(),
        Some("InvalidSpec" | "NameConflict" | "ApplyFailed")
    );
    let generation_changed =
        previous.map(|p| &p["observedGeneration"]) != Some(&status["observedGeneration"]);
    if refused && (reason(previous) != new_reason || generation_changed) {
        let message = status["conditions"][0]["message"]
            .as_str()
            .unwrap_or_default();
        out.push((
            true,
            reason_static(new_reason.as_deref()),
            message.to_owned(),
        ));
    }
    out
}

fn reason_static(reason: Option<&str>) -> &'static str {
    match reason {
        Some("InvalidSpec") => "InvalidSpec",
        Some("NameConflict") => "NameConflict",
        _ => "ApplyFailed",
    }
}
