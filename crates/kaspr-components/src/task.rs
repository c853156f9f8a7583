//! `KasprTask`: a job of a Kaspr app, run once at start, on an interval or on a cron schedule.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{CodeSpec, Processors, TableUse, TopicSend};
use crate::status::ComponentStatus;
use crate::validate::{self, Report, patterns, rules, syntax};

/// A job of a Kaspr app: a pipeline of Python operations run once when the app starts, every
/// `interval`, or on a `cron` schedule.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "kaspr.io",
    version = "v1alpha1",
    kind = "KasprTask",
    plural = "kasprtasks",
    singular = "kasprtask",
    shortname = "ktasks",
    shortname = "ktask",
    category = "kaspr",
    namespaced,
    status = "ComponentStatus",
    derive = "Default",
    derive = "PartialEq",
    doc = "A job of the KasprApp named by its `kaspr.io/app` label: a pipeline of Python operations run once when the app starts, every interval, or on a cron schedule.",
    printcolumn = r#"{"name":"App","type":"string","jsonPath":".metadata.labels.kaspr\\.io/app"}"#,
    printcolumn = r#"{"name":"Cron","type":"string","jsonPath":".spec.schedule.cron"}"#,
    printcolumn = r#"{"name":"Interval","type":"string","jsonPath":".spec.schedule.interval"}"#,
    printcolumn = r#"{"name":"On Leader","type":"boolean","jsonPath":".spec.onLeader"}"#,
    printcolumn = r#"{"name":"App Status","type":"string","jsonPath":".status.app.status"}"#,
    printcolumn = r#"{"name":"Hash","type":"string","jsonPath":".status.hash","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KasprTaskSpec {
    /// Ignored: the task is named after its `metadata.name` (upstream overwrites this field with
    /// it too). Accepted so that manifests written for upstream, which requires it, apply
    /// unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub name: Option<String>,
    /// A short description of what this task does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Run the task on the leader member only, not on every member of the app.
    #[serde(default)]
    pub on_leader: bool,
    /// When the task runs: every `interval` or on a `cron` schedule. Without it the task runs
    /// once, when the app starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<TaskSchedule>,
    /// The pipeline each run goes through.
    pub processors: TaskProcessors,
}

/// The processors of a task.
pub type TaskProcessors = Processors<TopicSend>;

/// When a task runs: `cron` or `interval`, exactly one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": rules::CRON_OR_INTERVAL,
    "message": "schedule needs exactly one of cron or interval"
}]))]
pub struct TaskSchedule {
    /// A cron expression (UTC): `minute hour day-of-month month day-of-week`, optionally
    /// followed by `second` and `year`, e.g. `*/5 * * * *`; or `@hourly`, `@daily`, `@weekly`,
    /// `@monthly`, `@yearly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = syntax::cron_pattern()))]
    pub cron: Option<String>,
    /// Time between runs: a whole number and a unit `s`, `m`, `h` or `d`, e.g. `10s`, `5m`,
    /// `1h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = patterns::DURATION))]
    pub interval: Option<String>,
}

impl KasprTaskSpec {
    /// Checks the spec: every rule of the CRD schema serde does not enforce, and beyond it. Each
    /// error names its field, e.g. `spec.schedule.cron`.
    pub fn check(&self) -> Result<(), validate::ValidationErrors> {
        let mut r = Report::default();
        if let Some(name) = &self.name {
            r.non_empty("spec.name", name, "the task's name, or leave name out");
        }
        if let Some(s) = &self.schedule {
            match (&s.cron, &s.interval) {
                (None, None) => r.add(
                    "spec.schedule",
                    "set cron (a cron expression) or interval (e.g. 10s); to run the task once at \
                     start, leave schedule out",
                ),
                (Some(_), Some(_)) => r.add(
                    "spec.schedule",
                    "both cron and interval are set; a task runs on one of them",
                ),
                _ => {}
            }
            if let Some(cron) = &s.cron {
                r.field("spec.schedule.cron", syntax::cron(cron));
            }
            if let Some(interval) = &s.interval {
                r.field("spec.schedule.interval", syntax::duration(interval));
            }
        }
        validate::processors(
            &mut r,
            "spec.processors",
            &self.processors,
            |r, path, send| send.check(r, path),
        );
        r.finish()
    }

    /// Things that are allowed but probably not what was meant.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        validate::processor_warnings("spec.processors", &self.processors, &mut out);
        for (path, code) in self.code() {
            validate::entrypoint_warning(&path, Some(code), &mut out);
        }
        out
    }

    /// Every table the task's operations use.
    pub fn table_uses(&self) -> Vec<TableUse> {
        self.processors.table_uses("spec.processors")
    }

    /// Every block of Python code, with its field path.
    pub fn code(&self) -> Vec<(String, &CodeSpec)> {
        let mut out = Vec::new();
        crate::common::processors_code(
            &mut out,
            "spec.processors",
            &self.processors,
            |out, p, s| s.code(out, p),
        );
        out
    }
}
