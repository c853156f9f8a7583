//! Tables of runs (one pod's run with each installer, or under each shell too, every row on a
//! cache of its own) and the assertions the tests make on an outcome.

use std::fmt::Display;

use kaspr_script::{InstallReport, InstallResult};
use kaspr_types::{InstallErrorType, Installer, PythonPackagesSpec};

use super::{Cache, Outcome, Run, SHELLS, run_authed, run_script};

/// The installers the script supports, in the order the tables run them.
pub const INSTALLERS: [Installer; 2] = [Installer::Pip, Installer::Uv];

/// One row of a table of runs.
pub struct Case {
    pub shell: &'static str,
    pub installer: Installer,
    /// The run as it was made: its shell and `spec.installer` are the row's; `run.as_pod(..)`
    /// runs it again as another pod.
    pub run: Run,
    pub out: Outcome,
    /// The row's own cache.
    pub cache: Cache,
}

impl Case {
    /// `shell/installer`, for assertion messages.
    pub fn label(&self) -> String {
        format!("{}/{}", self.shell, self.installer)
    }
}

/// `run` under each (shell, installer) of `table`, each on a fresh cache. A row runs when the
/// loop asks for it, so a failed assertion ends the table where it failed.
pub fn runs_of(
    run: Run,
    table: impl IntoIterator<Item = (&'static str, Installer)>,
) -> impl Iterator<Item = Case> {
    table.into_iter().map(move |(shell, installer)| {
        let mut run = run.clone();
        run.shell = shell;
        run.spec.installer = installer;
        let cache = Cache::new();
        let out = run_script(&run, &cache);
        Case {
            shell,
            installer,
            run,
            out,
            cache,
        }
    })
}

/// `run` with pip, then with uv, under its own shell.
pub fn per_installer(run: Run) -> impl Iterator<Item = Case> {
    let shell = run.shell;
    runs_of(run, INSTALLERS.map(|installer| (shell, installer)))
}

/// `run` under every shell, with each installer.
pub fn per_shell_and_installer(run: Run) -> impl Iterator<Item = Case> {
    let table = SHELLS
        .into_iter()
        .flat_map(|shell| INSTALLERS.map(|installer| (shell, installer)));
    runs_of(run, table)
}

/// Pod app-0 installs `spec` into `cache` (dash, with the credentials of `pypiserver()`) and
/// starts: the first pod of the tests about what later pods find.
#[track_caller]
pub fn install_first(spec: &PythonPackagesSpec, cache: &Cache) -> Outcome {
    let out = run_authed("dash", "app-0", spec.clone(), cache);
    assert_eq!(out.code, Some(0), "the first install: {}", out.output);
    out
}

impl Outcome {
    /// Asserts that the run ended as `result`; `what` names the case in the message.
    #[track_caller]
    pub fn assert_result(&self, result: InstallResult, what: impl Display) -> &InstallReport {
        let report = self.report();
        assert_eq!(report.result, result, "{what}: {}", self.output);
        report
    }

    /// Asserts that the run failed with an error of type `kind`.
    #[track_caller]
    pub fn assert_error(&self, kind: InstallErrorType, what: impl Display) -> &InstallReport {
        let report = self.report();
        assert_eq!(report.error_type, Some(kind), "{what}: {}", self.output);
        report
    }

    /// Asserts that the run installed its env and starts the pod.
    #[track_caller]
    pub fn assert_installed(&self, what: impl Display) -> &InstallReport {
        assert_eq!(self.code, Some(0), "{what}: {}", self.output);
        self.assert_result(InstallResult::Installed, what)
    }
}
