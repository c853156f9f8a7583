//! Each installer failure classified as what it is, with the retry policy applied. Each test
//! runs the rendered script against a real index (or none).

mod support;

use kaspr_script::InstallResult;
use kaspr_types::InstallErrorType;
use support::*;

#[test]
fn wrong_password_is_authentication_without_retries() {
    let server = pypiserver();
    let s = authed(
        &server,
        "[kaspr-demo==1.0]",
        "installPolicy: {retries: 3}\n",
    );
    let run = Run::new("dash", "app-0", s).with_credentials(USER, "wrong-password");
    for case in per_installer(run) {
        let (installer, out, cache) = (case.installer, &case.out, &case.cache);
        assert_eq!(out.code, Some(1), "block fails the pod: {}", out.output);
        let r = out.assert_error(InstallErrorType::Authentication, installer);
        assert_eq!(r.result, InstallResult::Failed);
        assert_eq!(r.attempts, 1, "a permanent error is not retried");
        assert!(
            r.error
                .as_deref()
                .is_some_and(|d| d.to_lowercase().starts_with("error")),
            "the detail is the installer's own error line: {:?}",
            r.error
        );
        assert!(cache.envs().is_empty());
        assert!(!out.site().exists(), "no site link after a failure");
    }
}

#[test]
fn unknown_package_is_package_not_found() {
    let server = pypiserver();
    let s = authed(&server, "[kaspr-no-such-package]", "");
    let run = Run::authed("dash", "app-0", s);
    for Case { installer, out, .. } in per_installer(run) {
        let r = out.assert_error(InstallErrorType::PackageNotFound, installer);
        assert_eq!(r.attempts, 1);
    }
}

#[test]
fn conflicting_requirements_are_dependency_conflict() {
    let server = pypiserver();
    let cache = Cache::new();
    let s = authed(&server, "[kaspr-demo==2.0, kaspr-conflict]", "");
    let out = run_authed("dash", "app-0", s, &cache);
    let r = out.assert_error(InstallErrorType::DependencyConflict, "kaspr-conflict");
    assert_eq!(r.attempts, 1);
}

#[test]
fn connection_refused_is_network_after_retries() {
    let cache = Cache::new();
    let port = free_port();
    let s = spec(&format!(
        "packages: [kaspr-demo]\nindexUrl: http://127.0.0.1:{port}/simple/\ninstaller: uv\ninstallPolicy: {{retries: 1, timeout: 60}}\n"
    ));
    let out = run_script(&Run::new("busybox", "app-0", s), &cache);
    let r = out.assert_error(InstallErrorType::Network, "connection refused");
    assert_eq!(r.attempts, 2, "retries: 1 means two attempts");
    assert_eq!(out.installer_calls, 2);
    assert!(
        r.error.as_deref().is_some_and(|d| d.starts_with("error:")),
        "the detail is the installer's own error line: {:?}",
        r.error
    );
}

#[test]
fn silent_index_times_out_within_the_timeout() {
    let hang = hanging_index();
    let cache = Cache::new();
    let s = spec(&format!(
        "packages: [kaspr-demo]\nindexUrl: {}\ninstallPolicy: {{retries: 0, timeout: 10}}\n",
        hang.url
    ));
    let t = std::time::Instant::now();
    let out = run_script(&Run::new("dash", "app-0", s), &cache);
    let took = t.elapsed().as_secs_f64();
    out.assert_error(InstallErrorType::Timeout, "a silent index");
    // The kill comes at the timeout (plus a 10 s grace); the bound is loose for a loaded
    // machine: it only has to tell "ended by the timeout" from "hung until the test's end".
    assert!(took < 10.0 + 60.0, "took {took:.1}s for a 10 s timeout");
    assert!(took >= 9.0, "gave up before the timeout: {took:.1}s");
}

#[test]
fn full_filesystem_is_disk_full() {
    let server = pypiserver();
    let cache = Cache::on_tmpfs(3);
    let s = authed(&server, "[kaspr-big]", "installPolicy: {retries: 0}\n");
    let out = run_authed("dash", "app-0", s, &cache);
    let r = out.assert_error(InstallErrorType::DiskFull, "a 3 MiB volume");
    assert!(r.cache.is_some());
}

#[test]
fn on_failure_allow_starts_the_pod_and_block_does_not() {
    let cache = Cache::new();
    let port = free_port();
    for (policy, code) in [("allow", 0), ("block", 1)] {
        let s = spec(&format!(
            "packages: [kaspr-demo]\nindexUrl: http://127.0.0.1:{port}/simple/\ninstaller: uv\ninstallPolicy: {{retries: 0, onFailure: {policy}}}\n"
        ));
        let out = run_script(&Run::new("bash", "app-0", s), &cache);
        assert_eq!(out.code, Some(code), "{policy}: {}", out.output);
        let r = out.assert_result(InstallResult::Failed, policy);
        assert!(r.error.is_some());
        // The main container's PYTHONPATH names a link that does not exist: Python ignores it.
        assert!(!out.site().exists());
    }
}

#[test]
fn a_file_that_does_not_match_its_hash_is_hash_mismatch_and_not_retried() {
    let mirror = bad_hash_index();
    let s = spec(&format!(
        "packages: [kaspr-other]\nindexUrl: {}\ninstallPolicy: {{retries: 2}}\n",
        mirror.url
    ));
    let run = Run::new("dash", "app-0", s);
    for case in per_installer(run) {
        let (installer, out, cache) = (case.installer, &case.out, &case.cache);
        let r = out.assert_error(InstallErrorType::HashMismatch, installer);
        assert_eq!(r.attempts, 1, "{installer}: not retried");
        assert!(cache.envs().is_empty());
    }
}
