//! The `KasprApp` custom resource (`kaspr.io/v1alpha1`).
//!
//! This crate holds the API and nothing else: the spec and status types (serde + schemars, from
//! which the CRD is generated), their defaults ([`defaults`]) and the validation that the API
//! server cannot do itself ([`validate`]). It does no I/O, so other controllers can depend on it
//! to read or write KasprApps.
//!
//! Field names follow the upstream (Python) kaspr-operator so that its manifests parse unchanged.

mod crd;
pub mod defaults;
mod python_packages;
mod spec;
mod status;
mod template;
pub mod validate;

pub use crd::crd;
pub use python_packages::*;
pub use spec::*;
pub use status::*;
pub use template::*;
pub use validate::{FieldError, ValidationErrors};
