//! Honest errors: each fault is reported as what it is, leaves nothing half-written, and the
//! next pod recovers. Each test runs the rendered script.

mod support;

use std::path::Path;

use kaspr_script::InstallResult;
use kaspr_types::InstallErrorType;
use support::*;

fn staging_entries(cache: &Cache) -> Vec<String> {
    std::fs::read_dir(cache.root().join(".staging"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn the_env_key_and_report_carry_the_abi_tag() {
    let server = pypiserver();
    let cache = Cache::new();
    let s = authed(&server, "[kaspr-demo==1.0]", "");
    let out = run_authed("busybox", "app-0", s.clone(), &cache);
    assert_eq!(out.code, Some(0), "{}", out.output);
    let abi = abi_tag();
    assert!(
        abi.contains("x86_64") || abi.contains("aarch64"),
        "the tag names the CPU: {abi}"
    );
    assert_eq!(cache.envs(), vec![env_key(&s)]);
    assert!(env_key(&s).starts_with(&format!("{}-{abi}-", hash_of(&s))));
    assert_eq!(out.report().abi_tag.as_deref(), Some(abi.as_str()));
    let hit = run_authed("dash", "app-1", s, &cache);
    assert_eq!(hit.report().abi_tag.as_deref(), Some(abi.as_str()));
}

/// A volume owned by root, written by an image whose user is nobody (65534).
fn as_nobody(s: kaspr_types::PythonPackagesSpec, pod: &str) -> Run {
    let mut run = Run::authed("dash", pod, s);
    run.user = Some(65534);
    // The venv's python3 lives under /root; the image's own python3 stands in.
    run.python = Some("/usr/bin/python3".into());
    run
}

#[test]
fn a_volume_the_image_user_cannot_write_is_permission_naming_the_path() {
    let server = pypiserver();
    assert!(
        Path::new("/usr/bin/python3").exists(),
        "this test runs the script as uid 65534 with /usr/bin/python3 (apt-get install python3)"
    );
    let s = authed(
        &server,
        "[kaspr-demo==1.0]",
        "installPolicy: {retries: 0, timeout: 10}\n",
    );
    // An empty volume owned by root; and one open to all where a root pod already made the
    // layout (today that waits for a lock it can never take).
    let fresh = Cache::new();
    std::fs::create_dir_all(fresh.root()).expect("root");
    let used = Cache::new();
    install_first(&authed(&server, "[kaspr-other]", ""), &used);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(used.root(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    for (cache, path) in [(&fresh, "/packages as"), (&used, "/packages/envs as")] {
        let t = std::time::Instant::now();
        let out = run_script(&as_nobody(s.clone(), "app-1"), cache);
        let r = out.assert_error(InstallErrorType::Permission, path);
        let detail = r.error.clone().unwrap_or_default();
        assert!(
            detail.contains(path) && detail.contains("uid 65534"),
            "the detail names the path and the user: {detail}"
        );
        assert_eq!(out.installer_calls, 0);
        assert!(t.elapsed().as_secs() < 60, "no wait for a lock");
    }
}

#[test]
fn a_published_env_still_starts_a_pod_that_cannot_write_the_volume() {
    let server = pypiserver();
    let cache = Cache::new();
    // The stand-in image python3 of `as_nobody` has another set of distributions than the test
    // venv that installs: with `override` the env key does not name the image set.
    let s = authed(&server, "[kaspr-demo==1.0]", "imagePackages: override\n");
    install_first(&s, &cache);
    let hit = run_script(&as_nobody(s, "app-1"), &cache);
    assert_eq!(hit.code, Some(0), "{}", hit.output);
    hit.assert_result(InstallResult::Cached, "as nobody");
}

/// Finds the installer process of a started run and sends it `signal`.
fn signal_installer(started: &Started, signal: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            let staging = started
                .pod_dir
                .parent()
                .map(|p| p.join("packages/.staging"));
            let ours = staging.is_some_and(|p| text.contains(&*p.to_string_lossy()));
            if ours && text.contains(" pip install ") && !text.starts_with("timeout") {
                let pid = entry.file_name().to_string_lossy().into_owned();
                let _ = std::process::Command::new("kill")
                    .args([signal, &pid])
                    .status();
                return;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    panic!("the installer never started");
}

#[test]
fn an_installer_killed_before_its_timeout_is_not_a_timeout() {
    let server = pypiserver();
    for (signal, expected, words) in [
        ("-KILL", InstallErrorType::OutOfMemory, "SIGKILL"),
        ("-TERM", InstallErrorType::Unknown, "signal 15"),
    ] {
        let cache = Cache::new();
        let s = authed(
            &server,
            "[kaspr-big, kaspr-demo==1.0]",
            "installPolicy: {retries: 0, timeout: 300}\n",
        );
        let started = start(&Run::authed("bash", "app-0", s), &cache);
        signal_installer(&started, signal);
        let out = started.finish();
        let r = out.assert_error(expected, signal);
        assert!(
            r.error.as_deref().is_some_and(|d| d.contains(words)),
            "{:?}",
            r.error
        );
        assert!(cache.envs().is_empty() && staging_entries(&cache).is_empty());
    }
}

#[test]
fn running_out_of_space_while_publishing_is_disk_full_and_leaves_no_staging() {
    let server = pypiserver();
    // Another pod fills the volume the moment pip is done: the marker cannot be written.
    let cache = Cache::on_tmpfs(16);
    let s = authed(
        &server,
        "[kaspr-demo==1.0]",
        "installPolicy: {retries: 0}\n",
    );
    let mut run = Run::authed("dash", "app-0", s);
    run.fill_volume_after_install = true;
    let out = run_script(&run, &cache);
    out.assert_error(
        InstallErrorType::DiskFull,
        "a volume filled while publishing",
    );
    assert_eq!(out.code, Some(1));
    assert!(cache.envs().is_empty(), "{:?}", cache.envs());
    assert_eq!(staging_entries(&cache), Vec::<String>::new());
}

#[test]
fn an_empty_or_corrupt_marker_means_install_again() {
    let server = pypiserver();
    let s = authed(&server, "[kaspr-demo==1.0]", "");
    for broken in ["", "{\"v\":1,\"installedBy\":\"app", "[]", "{\"v\":7}"] {
        let cache = Cache::new();
        install_first(&s, &cache);
        let marker = cache
            .root()
            .join("envs")
            .join(env_key(&s))
            .join(".kaspr-env.json");
        std::fs::write(&marker, broken).expect("break the marker");
        let again = run_authed("busybox", "app-1", s.clone(), &cache);
        again.assert_installed(format!("marker {broken:?}"));
        assert_eq!(again.installer_calls, 1);
        assert_eq!(
            import_version(&again.site(), "kaspr_demo").as_deref(),
            Ok("1.0")
        );
        assert_eq!(cache.envs(), vec![env_key(&s)]);
    }
}

#[test]
fn an_image_without_a_working_python3_still_leaves_a_valid_report() {
    let cache = Cache::new();
    for (policy, code) in [("block", 1), ("allow", 0)] {
        let s = spec(&format!(
            "packages: [kaspr-demo]\ninstallPolicy: {{onFailure: {policy}}}\n"
        ));
        let mut run = Run::new("dash", "app-0", s.clone());
        run.python_broken = true;
        let out = run_script(&run, &cache);
        assert_eq!(out.code, Some(code), "{}", out.output);
        let report = out.assert_error(InstallErrorType::Unknown, policy);
        assert_eq!(report.result, InstallResult::Failed);
        assert_eq!(report.hash, hash_of(&s));
        assert_eq!(report.pod, "app-0");
        assert!(
            report
                .error
                .as_deref()
                .is_some_and(|d| d.contains("python3")),
            "{:?}",
            report.error
        );
    }
}

/// The syscalls of one process (strace -f prefixes each line with its pid).
fn calls_of<'a>(trace: &'a str, pid: &str) -> Vec<&'a str> {
    trace
        .lines()
        .filter(|l| l.split_whitespace().next() == Some(pid))
        .collect()
}

/// In the process that wrote `path` through a temporary file: the fd it opened is fsynced
/// before the rename onto `path`.
fn synced_before_rename(trace: &str, path: &str) -> bool {
    let renamed = format!("\", \"{path}\"");
    let Some(rename) = trace
        .lines()
        .find(|l| l.contains("rename") && l.contains(&renamed))
    else {
        return false;
    };
    let pid = rename.split_whitespace().next().unwrap_or_default();
    let calls = calls_of(trace, pid);
    let tmp = format!("{path}.tmp.");
    let opened = calls
        .iter()
        .position(|l| l.contains("openat(") && l.contains(&tmp));
    let renamed_at = calls.iter().position(|l| *l == rename);
    let (Some(open), Some(end)) = (opened, renamed_at) else {
        return false;
    };
    let fd = calls[open].rsplit("= ").next().unwrap_or_default().trim();
    calls[open..end]
        .iter()
        .any(|l| l.contains(&format!("fsync({fd})")) || l.contains(&format!("fdatasync({fd})")))
}

#[test]
fn the_marker_and_the_report_reach_the_disk_before_they_count() {
    let server = pypiserver();
    let cache = Cache::new();
    let s = authed(&server, "[kaspr-demo==1.0]", "");
    let log = cache.dir.path().join("strace.log");
    let mut run = Run::authed("dash", "app-0", s.clone());
    run.trace = Some(log.clone());
    let out = run_script(&run, &cache);
    assert_eq!(out.code, Some(0), "{}", out.output);
    let trace = std::fs::read_to_string(&log).expect("strace log");
    let staging = cache.root().join(".staging");
    let marker = format!("{}/{}.app-0.", staging.display(), env_key(&s));
    let marker_line = trace
        .lines()
        .find(|l| l.contains("rename") && l.contains(&marker) && l.contains(".kaspr-env.json\")"))
        .unwrap_or_else(|| panic!("no rename of the marker in the trace"));
    let marker_path = marker_line
        .split('"')
        .nth(3)
        .expect("the rename's target")
        .to_owned();
    assert!(
        synced_before_rename(&trace, &marker_path),
        "the marker was renamed into place without an fsync"
    );
    // The report: fsynced after it is written (the pod may be killed right after).
    let report = out.pod_dir.join("termination-log").display().to_string();
    let open = trace
        .lines()
        .rfind(|l| l.contains("openat(") && l.contains(&report))
        .expect("the report is written");
    let pid = open.split_whitespace().next().unwrap_or_default();
    let fd = open
        .rsplit("= ")
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let calls = calls_of(&trace, pid);
    let at = calls.iter().position(|l| *l == open).unwrap_or(0);
    assert!(
        calls[at..]
            .iter()
            .any(|l| l.contains(&format!("fsync({fd})"))),
        "the report is not fsynced"
    );
}
