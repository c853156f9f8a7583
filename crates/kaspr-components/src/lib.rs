//! The components of a Kaspr app as custom resources (`kaspr.io/v1alpha1`): `KasprAgent`,
//! `KasprTable`, `KasprWebView`, `KasprTask` and `KasprJoin`.
//!
//! Each kind has its spec type (serde + schemars, from which its CRD is generated, see
//! [`crds`]), a `check()` that refuses what the operator would not roll out, naming the field
//! (`spec.processors.operations[0].map.python`), and `warnings()`. A component belongs to the
//! KasprApp its `kaspr.io/app` label names ([`APP_LABEL`]). Like `kaspr-types`, this crate does
//! no I/O and picks no Kubernetes version of `k8s-openapi`.
//!
//! Field names and shapes follow the upstream (Python) kaspr-operator's CRDs, so its manifests
//! apply unchanged; `docs/components.md` in the repository is the reference, with what differs
//! from upstream and why.
//!
//! # Example
//!
//! Read a manifest of any of the five kinds and check it as the operator does:
//!
//! ```
//! use kaspr_components::Component;
//!
//! let value: serde_json::Value = serde_yaml::from_str(
//!     r#"
//! apiVersion: kaspr.io/v1alpha1
//! kind: KasprTask
//! metadata: {name: cleanup, labels: {kaspr.io/app: orders}}
//! spec:
//!   schedule: {cron: "*/5 * * * *"}
//!   processors:
//!     pipeline: [purge]
//!     operations:
//!       - name: purge
//!         map: {entrypoint: purge, python: "def purge(value):\n    return None\n"}
//! "#,
//! )?;
//! let task = Component::parse(value).expect("a KasprTask");
//! assert_eq!(task.kind(), "KasprTask");
//! assert_eq!(task.app_name(), Some("orders"));
//! assert!(task.check().is_ok());
//!
//! // Each error names the field as the user wrote it.
//! let Component::Task(mut t) = task else { unreachable!() };
//! t.spec.schedule.as_mut().expect("schedule").cron = Some("61 * * * *".into());
//! let errors = t.spec.check().expect_err("minute 61 is refused");
//! assert_eq!(errors.0[0].path, "spec.schedule.cron");
//! # Ok::<(), serde_yaml::Error>(())
//! ```

#![warn(missing_docs)]

mod agent;
mod common;
mod crd;
mod definition;
mod join;
mod status;
mod table;
mod task;
pub mod validate;
mod webview;
mod yaml;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use agent::*;
pub use common::{
    CodeSpec, ConfigValue, KafkaConfig, Operation, Processors, Serializer, TableRef,
    TableSerializer, TableUse, TopicSend,
};
pub use crd::*;
pub use join::*;
pub use status::*;
pub use table::*;
pub use task::*;
pub use validate::{FieldError, ValidationErrors};
pub use webview::*;

/// The API version of every component kind.
pub const API_VERSION: &str = "kaspr.io/v1alpha1";

/// The label naming the KasprApp a component belongs to (required, as upstream).
pub const APP_LABEL: &str = "kaspr.io/app";

/// The component kinds.
pub const KINDS: [&str; 5] = [
    "KasprAgent",
    "KasprTable",
    "KasprWebView",
    "KasprTask",
    "KasprJoin",
];

/// A component of any of the five kinds.
#[derive(Clone, Debug, PartialEq)]
pub enum Component {
    /// A KasprAgent.
    Agent(KasprAgent),
    /// A KasprTable.
    Table(KasprTable),
    /// A KasprWebView.
    WebView(KasprWebView),
    /// A KasprTask.
    Task(KasprTask),
    /// A KasprJoin.
    Join(KasprJoin),
}

impl Component {
    /// Reads a manifest document of one of the five kinds (by its `kind`). A document that
    /// does not parse is refused with the path of the field at fault, e.g.
    /// `spec.input.topic.keySerializer: unknown variant ...` or `spec.processors: missing`.
    pub fn parse(value: Value) -> Result<Component, ValidationErrors> {
        let api_version = value["apiVersion"].as_str().unwrap_or_default();
        if api_version != API_VERSION {
            return Err(one_error(
                "apiVersion",
                format!("{api_version:?} is not served; the component kinds are {API_VERSION}"),
            ));
        }
        Ok(match value["kind"].as_str().unwrap_or_default() {
            "KasprAgent" => Component::Agent(from_value(value)?),
            "KasprTable" => Component::Table(from_value(value)?),
            "KasprWebView" => Component::WebView(from_value(value)?),
            "KasprTask" => Component::Task(from_value(value)?),
            "KasprJoin" => Component::Join(from_value(value)?),
            other => {
                return Err(one_error(
                    "kind",
                    format!(
                        "{other:?} is not a component kind; one of {}",
                        KINDS.join(", ")
                    ),
                ));
            }
        })
    }

    /// The kind, e.g. `KasprAgent`.
    pub fn kind(&self) -> &'static str {
        match self {
            Component::Agent(_) => "KasprAgent",
            Component::Table(_) => "KasprTable",
            Component::WebView(_) => "KasprWebView",
            Component::Task(_) => "KasprTask",
            Component::Join(_) => "KasprJoin",
        }
    }

    /// The object's metadata.
    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Component::Agent(c) => &c.metadata,
            Component::Table(c) => &c.metadata,
            Component::WebView(c) => &c.metadata,
            Component::Task(c) => &c.metadata,
            Component::Join(c) => &c.metadata,
        }
    }

    /// The object's metadata, to change (e.g. to give it a namespace).
    pub fn metadata_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Component::Agent(c) => &mut c.metadata,
            Component::Table(c) => &mut c.metadata,
            Component::WebView(c) => &mut c.metadata,
            Component::Task(c) => &mut c.metadata,
            Component::Join(c) => &mut c.metadata,
        }
    }

    /// `metadata.name`, the component's name everywhere (tables are referred to by it).
    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }

    /// The KasprApp the component belongs to: its `kaspr.io/app` label.
    pub fn app_name(&self) -> Option<&str> {
        app_name(self.metadata())
    }

    /// `spec.name`, which upstream accepts and ignores.
    fn spec_name(&self) -> Option<&str> {
        match self {
            Component::Agent(c) => c.spec.name.as_deref(),
            Component::Table(c) => c.spec.name.as_deref(),
            Component::WebView(c) => c.spec.name.as_deref(),
            Component::Task(c) => c.spec.name.as_deref(),
            Component::Join(c) => c.spec.name.as_deref(),
        }
    }

    /// Checks the object: its `metadata` (a name, and the `kaspr.io/app` label) and its spec.
    pub fn check(&self) -> Result<(), ValidationErrors> {
        let mut errors = check_metadata(self.metadata());
        let spec = match self {
            Component::Agent(c) => c.spec.check(),
            Component::Table(c) => c.spec.check(),
            Component::WebView(c) => c.spec.check(),
            Component::Task(c) => c.spec.check(),
            Component::Join(c) => c.spec.check(),
        };
        if let Err(e) = spec {
            errors.extend(e.0);
        }
        errors.sort_by(|a, b| a.path.cmp(&b.path));
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors(errors))
        }
    }

    /// Things that are allowed but probably not what was meant.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(spec_name) = self.spec_name().filter(|n| *n != self.name()) {
            out.push(format!(
                "spec.name {spec_name:?} is ignored: the {} is named after metadata.name {:?}",
                self.kind(),
                self.name()
            ));
        }
        out.extend(match self {
            Component::Agent(c) => c.spec.warnings(),
            Component::Table(c) => c.spec.warnings(),
            Component::WebView(c) => c.spec.warnings(),
            Component::Task(c) => c.spec.warnings(),
            Component::Join(c) => c.spec.warnings(),
        });
        out
    }

    /// Every KasprTable the component uses, with the field naming it (none for a table).
    pub fn table_uses(&self) -> Vec<TableUse> {
        match self {
            Component::Agent(c) => c.spec.table_uses(),
            Component::Table(_) => Vec::new(),
            Component::WebView(c) => c.spec.table_uses(),
            Component::Task(c) => c.spec.table_uses(),
            Component::Join(c) => c.spec.table_uses(),
        }
    }
}

/// The KasprApp an object's `kaspr.io/app` label names.
pub fn app_name(metadata: &ObjectMeta) -> Option<&str> {
    metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(APP_LABEL))
        .map(String::as_str)
}

/// Longest label value, and so longest KasprApp name a component can name.
const MAX_LABEL_VALUE_LEN: usize = 63;

/// A component's metadata: a name, and the `kaspr.io/app` label naming a possible KasprApp.
pub fn check_metadata(metadata: &ObjectMeta) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if metadata.name.as_deref().unwrap_or_default().is_empty() {
        errors.push(FieldError {
            path: "metadata.name".into(),
            message: "missing; the component is known by its name".into(),
        });
    }
    let path = format!("metadata.labels[{APP_LABEL}]");
    match app_name(metadata) {
        None => errors.push(FieldError {
            path,
            message: format!(
                "missing; label the component with the name of its KasprApp, e.g. \
                 `{APP_LABEL}: my-app`"
            ),
        }),
        Some(app) => {
            let name_ok =
                validate::syntax::object_name(app).is_ok() && app.len() <= MAX_LABEL_VALUE_LEN;
            if !name_ok {
                errors.push(FieldError {
                    path,
                    message: format!(
                        "{} is not a KasprApp name; use lowercase letters, digits, '-' and '.', \
                         at most {MAX_LABEL_VALUE_LEN} characters",
                        validate::syntax::shown(app)
                    ),
                });
            }
        }
    }
    errors
}

fn one_error(path: &str, message: String) -> ValidationErrors {
    ValidationErrors(vec![FieldError {
        path: path.to_owned(),
        message,
    }])
}

/// Deserialises `value`, naming the field at fault on failure: serde's "missing field `x`" at
/// `spec` becomes `spec.x: missing`.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ValidationErrors> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let mut path = e.path().to_string();
        if path == "." {
            path.clear();
        }
        let message = e.into_inner().to_string();
        let join = |p: &str, field: &str| {
            if p.is_empty() {
                field.to_owned()
            } else {
                format!("{p}.{field}")
            }
        };
        let (path, message) = match message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split_once('`'))
        {
            Some((field, _)) => (
                join(&path, field),
                "missing; this field is required".to_owned(),
            ),
            None => (
                if path.is_empty() {
                    ".".to_owned()
                } else {
                    path
                },
                message,
            ),
        };
        one_error(&path, message)
    })
}
