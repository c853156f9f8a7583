//! One installer per environment: the flock, the lease where flock is missing, stale leases,
//! kills mid-install and a lock that is never released. Each test runs the rendered script.

mod support;

use kaspr_script::InstallResult;
use support::*;

#[test]
fn eight_pods_at_once_install_once() {
    let server = pypiserver();
    for (shell, installer) in [("dash", "pip"), ("busybox", "uv")] {
        let cache = Cache::new();
        let s = authed(
            &server,
            "[kaspr-demo==1.0, kaspr-big]",
            &format!("installer: {installer}\n"),
        );
        let started: Vec<Started> = (0..8)
            .map(|i| {
                start(
                    &Run::new(shell, &format!("app-{i}"), s.clone())
                        .with_credentials(USER, PASSWORD),
                    &cache,
                )
            })
            .collect();
        let outcomes: Vec<Outcome> = started.into_iter().map(Started::finish).collect();
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
        let run = Run::new("bash", "app-0", s.clone()).with_credentials(USER, PASSWORD);
        let started = start(&run, &cache);
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

fn lease_dir(cache: &Cache, spec: &kaspr_types::PythonPackagesSpec) -> std::path::PathBuf {
    cache
        .root()
        .join(".locks")
        .join(format!("{}.lease", env_key(spec)))
}

#[test]
fn stale_lease_is_recovered_and_reported() {
    let server = pypiserver();
    let s = authed(
        &server,
        "[kaspr-demo==1.0]",
        "installPolicy: {retries: 0, timeout: 10}\n",
    );
    // Left by a pod that died (heartbeat an hour old; stale after timeout + 300 s), or by an
    // earlier run of this very pod (fresh heartbeat: init containers of one pod never overlap).
    for (owner, age) in [("app-9", 3600), ("app-0", 0)] {
        for shell in SHELLS {
            let cache = Cache::new();
            leave_lease(&cache, &s, owner, age);
            let mut run = Run::new(shell, "app-0", s.clone()).with_credentials(USER, PASSWORD);
            run.without_flock = true;
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
            assert_eq!(report.result, InstallResult::Installed, "{shell}");
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
    let s = authed(
        &server,
        "[kaspr-demo==1.0]",
        "installPolicy: {retries: 0, timeout: 10}\n",
    );
    let cache = Cache::new();
    leave_lease(&cache, &s, "app-9", 0);
    let mut run = Run::new("busybox", "app-0", s.clone()).with_credentials(USER, PASSWORD);
    run.without_flock = true;
    run.lock_wait = Some(3);
    let out = run_script(&run, &cache);
    assert_eq!(
        out.report().error_type,
        Some(kaspr_types::InstallErrorType::LockTimeout),
        "{}",
        out.output
    );
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
    let started: Vec<Started> = (0..4)
        .map(|i| {
            let mut run =
                Run::new("dash", &format!("app-{i}"), s.clone()).with_credentials(USER, PASSWORD);
            run.without_flock = true;
            start(&run, &cache)
        })
        .collect();
    let outcomes: Vec<Outcome> = started.into_iter().map(Started::finish).collect();
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
    let mut holder = std::process::Command::new("flock");
    holder
        .arg(&lock)
        .args(["sh", "-c", "echo > \"$0\"; exec sleep 400"])
        .arg(&ready)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // Its own process group, so that killing it leaves nothing behind.
    std::os::unix::process::CommandExt::process_group(&mut holder, 0);
    let mut holder = holder.spawn().expect("flock holds the lock");
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
    let group = format!("-{}", holder.id());
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &group])
        .status();
    let _ = holder.wait();
    assert_eq!(
        out.report().error_type,
        Some(kaspr_types::InstallErrorType::LockTimeout),
        "{}",
        out.output
    );
    assert_eq!(out.report().attempts, 0, "no installer ran");
    assert_eq!(out.installer_calls, 0);
    assert_eq!(out.code, Some(1));
    assert!(took.as_secs() >= 4, "gave up before the wait: {took:?}");
}
