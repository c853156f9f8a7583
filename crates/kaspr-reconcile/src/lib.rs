//! Reconciling a KasprApp: `observe` (the app's StatefulSet, pods, PVC and live set from the
//! controller's caches, its Secret by name) -> `validate` (a [`ValidatedApp`] or every reason it
//! cannot roll out) -> `build` (pure: no client) -> `apply` (server-side apply, one field
//! manager; children the spec no longer asks for are deleted) -> `status` (pure) and one status
//! patch.
//!
//! `validate`, `build` and `status` are plain functions tested without any client; `controller`
//! wires the stages into a kube-runtime Controller.

mod apply;
pub mod build;
pub mod component_controller;
pub mod controller;
pub mod error;
pub mod member_actions;
pub mod members;
pub mod metrics;
pub mod names;
pub mod observe;
pub mod ownership;
mod settings;
pub mod status;
pub mod storage_class;
pub mod takeover;
pub mod validate;
mod wiring;

pub use controller::Context;
pub use error::Error;
pub use observe::WatchErrors;
pub use settings::{
    HungMembers, IMAGE_REGISTRY_ENV, Ramp, SettingError, Settings, WATCH_NAMESPACES_ENV,
    parse_namespaces,
};
pub use validate::{ValidatedApp, validate};
pub use wiring::run;
