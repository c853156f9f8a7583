//! Test helpers shared by the workspace's tests, so that each exists once.
//!
//! - [`app`]: `KasprApp`s and specs from YAML or from a small builder.
//! - [`check`]: assertions on what `KasprAppSpec::check` accepts and refuses.
//! - [`examples`]: the manifests under `examples/`.
//! - [`net`]: free loopback ports and a plain HTTP GET.
//! - [`process`]: children in their own process group, killed as a group.
//! - [`python`]: the tags a python3 reports (`cp311`, `cpython-311-x86_64-linux-gnu`).
//! - [`upstream`]: what the upstream operator builds, recorded from its own code.
//!
//! Everything here panics with a message naming what went wrong: it is for tests only, and is
//! never published (`publish = false`). Use it as a dev-dependency:
//!
//! ```toml
//! [dev-dependencies]
//! kaspr-test-support.workspace = true
//! ```
//!
//! ```
//! use kaspr_test_support::app::AppBuilder;
//!
//! let app = AppBuilder::new("orders").packages(&["requests==2.31.0"]).build();
//! assert_eq!(app.metadata.namespace.as_deref(), Some("default"));
//! assert!(app.spec.check().is_ok());
//! ```

#![warn(missing_docs)]

use std::path::PathBuf;

pub mod app;
pub mod check;
pub mod examples;
pub mod net;
pub mod process;
pub mod python;
pub mod schema;
pub mod tools;
pub mod upstream;

/// The root of the workspace (the directory holding `examples/`, `crds/` and `docs/`).
pub fn workspace_root() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}
