//! Reconciling a KasprApp: `observe` (the app, its Secret, StatefulSet, pods) -> `validate` ->
//! `build` (pure: no client) -> `apply` (server-side apply, one field manager) -> `status` (pure)
//! and one status patch.
//!
//! `build` and `status` are plain functions tested without any client; `controller` wires the
//! stages into a kube-runtime Controller.

pub mod build;
pub mod controller;
pub mod error;
pub mod mapper;
pub mod metrics;
pub mod names;
pub mod observe;
pub mod status;

pub use controller::{Context, run};
pub use error::Error;
