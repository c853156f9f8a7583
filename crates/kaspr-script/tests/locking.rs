//! One installer per environment: the flock, the lease where flock is missing, stale leases,
//! kills mid-install and a lock that is never released. Each test runs the rendered script.

mod support;

use kaspr_script::InstallResult;
use kaspr_test_support::process::GroupChild;
use kaspr_types::{InstallErrorType, Installer};
use support::*;

/// Pods app-0 … app-`n-1` of `run` started at once on `cache`, and what each left.
fn all_at_once(run: &Run, n: usize, cache: &Cache) -> Vec<Outcome> {
    let started: Vec<Started> = (0..n)
        .map(|i| start(&run.as_pod(&format!("app-{i}")), cache))
        .collect();
    started.into_iter().map(Started::finish).collect()
}

#[test]
fn eight_pods_at_once_install_once() {
    let server = pypiserver();
    let s = authed(&server, "[kaspr-demo==1.0, kaspr-big]", "");
    for (shell, installer) in [("dash", Installer::Pip), ("busybox", Installer::Uv)] {
        let cache = Cache::new();
        let mut run = Run::authed(shell, "app-0", s.clone());
        run.spec.installer = installer;
        let outcomes = all_at_once(&run, 8, &cache);
        let calls: usize = outcomes.iter().map(|o| o.installer_calls).sum();
        assert_eq!(calls, 1, "{shell}/{installer}: exactly one installer run");
        let mut results: Vec<InstallResult> = outcomes.iter().map(|o| o.report().result).collect();
        results.sort_by_key(|r| format!("{r:?}"));
        assert_eq!(
            results
                .iter()
                .filter(|r| **r == InstallResult::Installed)
                .count(),
            1,
            "{results:?}"
        );
        assert_eq!(
            results
                .iter()
                .filter(|r| **r == InstallResult::Cached)
                .count(),
            7,
            "{results:?}"
        );
        for o in &outcomes {
            assert_eq!(o.code, Some(0), "{}", o.output);
            assert_eq!(import_version(&o.site(), "kaspr_big").as_deref(), Ok("1.0"));
        }
        assert_eq!(cache.envs().len(), 1);
    }
}

#[test]
fn killed_installs_never_leave_a_partial_env() {
    let server = pypiserver();
    for delay_ms in [0u64, 150, 400, 900] {
        let cache = Cache::new();
        let s = authed(
            &server,
            "[kaspr-big, kaspr-demo==1.0]",
            "installPolicy: {retries: 0}\n",
        );
        let started = start(&Run::authed("bash", "app-0", s.clone()), &cache);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !started.installer_started() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(
            started.installer_started(),
            "the installer never started: the kill would not test a kill mid-install"
        );
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        started.kill_group();
        for env in cache.envs() {
            let marker = cache.root().join("envs").join(&env).join(".kaspr-env.json");
            assert!(
                marker.is_file(),
                "partial env {env} visible after a kill at +{delay_ms} ms"
            );
        }
        // The next pod (a different one, so no shortcut for the same owner) completes.
        let again = run_authed("bash", "app-1", s, &cache);
        assert_eq!(
            again.code,
            Some(0),
            "after a kill at +{delay_ms} ms: {}",
            again.output
        );
        assert!(matches!(
            again.report().result,
            InstallResult::Installed | InstallResult::Cached
        ));
        assert_eq!(
            import_version(&again.site(), "kaspr_big").as_deref(),
            Ok("1.0")
        );
    }
}

/// A lease on the env key of `spec`, as a pod left it: `owner` and a heartbeat `age` old.
fn leave_lease(cache: &Cache, spec: &kaspr_types::PythonPackagesSpec, owner: &str, age: u64) {
    let lease = lease_dir(cache, spec);
    std::fs::create_dir_all(&lease).expect("lease");
    std::fs::write(lease.join("owner"), format!("{owner} 4242\n")).expect("owner");
    std::fs::write(lease.join("heartbeat"), "").expect("heartbeat");
    let then = std::time::SystemTime::now() - std::time::Duration::from_secs(age);
    std::fs::File::options()
        .write(true)
        .open(lease.join("heartbeat"))
        .and_then(|f| f.set_modified(then))
        .expect("age it");
}

/// Pod app-0 running `spec` under `shell` with flock off the PATH (so it takes the lease), on a
/// cache where `owner` left a lease `age` seconds ago.
fn after_lease(
    cache: &Cache,
    spec: &kaspr_types::PythonPackagesSpec,
    (owner, age): (&str, u64),
    shell: &'static str,
) -> Run {
    leave_lease(cache, spec, owner, age);
    let mut run = Run::authed(shell, "app-0", spec.clone());
    run.without_flock = true;
    run
}

fn lease_dir(cache: &Cache, spec: &kaspr_types::PythonPackagesSpec) -> std::path::PathBuf {
    cache
        .root()
        .join(".locks")
        .join(format!("{}.lease", env_key(spec)))
}

/// Short enough that a test waits little for a lease; stale after timeout + 300 s.
const LEASE_POLICY: &str = "installPolicy: {retries: 0, timeout: 10}\n";

#[test]
fn stale_lease_is_recovered_and_reported() {
    let server = pypiserver();
    let s = authed(&server, "[kaspr-demo==1.0]", LEASE_POLICY);
    // Left by a pod that died (heartbeat an hour old; stale after timeout + 300 s), or by an
    // earlier run of this very pod (fresh heartbeat: init containers of one pod never overlap).
    for (owner, age) in [("app-9", 3600), ("app-0", 0)] {
        for shell in SHELLS {
            let cache = Cache::new();
            let run = after_lease(&cache, &s, (owner, age), shell);
            let out = run_script(&run, &cache);
            assert_eq!(
                out.code,
                Some(0),
                "{shell}, lease of {owner}: {}",
                out.output
            );
            let report = out.report();
            assert!(report.stale_lock_recovered, "{shell}: {}", out.report_text);
            assert!(
                report.warnings.iter().any(|w| w.contains("stale")),
                "{:?}",
                report.warnings
            );
            out.assert_result(InstallResult::Installed, shell);
            assert_eq!(out.installer_calls, 1);
            assert!(
                !lease_dir(&cache, &s).exists(),
                "{shell}: the lease is released"
            );
        }
    }
}

#[test]
fn a_live_lease_of_another_pod_is_waited_for() {
    let server = pypiserver();
    let s = authed(&server, "[kaspr-demo==1.0]", LEASE_POLICY);
    let cache = Cache::new();
    let mut run = after_lease(&cache, &s, ("app-9", 0), "busybox");
    run.lock_wait = Some(3);
    let out = run_script(&run, &cache);
    out.assert_error(InstallErrorType::LockTimeout, "a live lease");
    assert_eq!(out.installer_calls, 0);
    assert!(
        lease_dir(&cache, &s).exists(),
        "another pod's live lease stays"
    );
}

#[test]
fn lease_mode_without_flock_serialises_pods() {
    let server = pypiserver();
    let cache = Cache::new();
    let s = authed(&server, "[kaspr-demo==1.0, kaspr-big]", "");
    let mut run = Run::authed("dash", "app-0", s);
    run.without_flock = true;
    let outcomes = all_at_once(&run, 4, &cache);
    assert_eq!(outcomes.iter().map(|o| o.installer_calls).sum::<usize>(), 1);
    assert!(outcomes.iter().all(|o| o.code == Some(0)));
}

#[test]
fn a_lock_held_past_the_wait_is_lock_timeout() {
    // Another pod holds the install lock and never lets go. The wait (shortened here through the
    // render API; the production wait is as long as that pod may legitimately install) runs
    // out, and the pod says why instead of hanging.
    let cache = Cache::new();
    let s = spec("packages: [kaspr-demo]\ninstallPolicy: {retries: 0, timeout: 10}\n");
    let locks = cache.root().join(".locks");
    std::fs::create_dir_all(&locks).expect("locks dir");
    let lock = locks.join(format!("{}.lock", env_key(&s)));
    let ready = cache.dir.path().join("holder-ready");
    // The holder writes `ready` once it has the lock: no head start to guess.
    // Its own process group, so that killing it leaves nothing behind.
    let holder = GroupChild::spawn(
        std::process::Command::new("flock")
            .arg(&lock)
            .args(["sh", "-c", "echo > \"$0\"; exec sleep 400"])
            .arg(&ready)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    )
    .expect("flock holds the lock");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !ready.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(ready.exists(), "the holder never took the lock");
    let mut run = Run::new("dash", "app-1", s);
    run.lock_wait = Some(4);
    let t = std::time::Instant::now();
    let out = run_script(&run, &cache);
    let took = t.elapsed();
    holder.kill();
    let r = out.assert_error(InstallErrorType::LockTimeout, "a lock held by another pod");
    assert_eq!(r.attempts, 0, "no installer ran");
    assert_eq!(out.installer_calls, 0);
    assert_eq!(out.code, Some(1));
    assert!(took.as_secs() >= 4, "gave up before the wait: {took:?}");
}
