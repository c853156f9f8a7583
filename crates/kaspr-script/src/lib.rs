//! The install protocol between the operator and the `install-packages` init container
//! (DESIGN.md section 5): the script that runs in every pod, and the report it leaves behind.
//!
//! [`render`] turns a validated `pythonPackages` spec and its hash into the script text plus the
//! environment variables the init container must carry. No user-supplied string ever becomes
//! script text: packages, URLs, hosts and credentials travel in those variables.
//! [`InstallReport::parse`] reads what the script wrote to the termination-message path.

mod escape;
mod render;
mod report;

pub use render::{
    EnvSource, InstallScript, Paths, ScriptEnv, Waits, env_names, render, render_with_waits,
};
pub use report::{CacheBytes, InstallReport, InstallResult, REPORT_MAX_BYTES, ReportError};
