//! The rendered install script, run for real by dash, bash and busybox sh against a local
//! pypiserver with authentication.

mod support;

use kaspr_script::InstallResult;
use support::*;

fn demo_spec(server: &Server, packages: &str, installer: &str) -> kaspr_types::PythonPackagesSpec {
    spec(&format!(
        "packages: {packages}\nindexUrl: {url}\ninstaller: {installer}\ncredentials: {{secretRef: {{name: pypi}}}}\ninstallPolicy: {{retries: 0, timeout: 120}}\n",
        url = server.url
    ))
}

#[test]
fn cold_install_then_hit_without_installer() {
    let server = pypiserver();
    for shell in SHELLS {
        for installer in ["pip", "uv"] {
            let cache = Cache::new();
            let s = demo_spec(&server, "[kaspr-demo==1.0]", installer);
            let first = run_script(
                &Run::new(shell, "app-0", s.clone()).with_credentials(USER, PASSWORD),
                &cache,
            );
            assert_eq!(first.code, Some(0), "{shell}/{installer}: {}", first.output);
            let r = first.report();
            assert_eq!(r.result, InstallResult::Installed, "{shell}/{installer}");
            assert_eq!(r.attempts, 1);
            assert_eq!(r.installed_by.as_deref(), Some("app-0"));
            assert!(
                r.installed.contains(&"kaspr-demo==1.0".to_owned()),
                "{:?}",
                r.installed
            );
            assert!(
                r.installed.contains(&"kaspr-demo-dep==1.0".to_owned()),
                "{:?}",
                r.installed
            );
            assert_eq!(first.installer_calls, 1);
            assert_eq!(
                import_version(&first.site(), "kaspr_demo").as_deref(),
                Ok("1.0")
            );

            let second = run_authed(shell, "app-1", s, &cache);
            assert_eq!(second.code, Some(0), "{}", second.output);
            let r2 = second.report();
            assert_eq!(r2.result, InstallResult::Cached);
            assert_eq!(r2.attempts, 0);
            assert_eq!(
                r2.installed_by.as_deref(),
                Some("app-0"),
                "installedBy comes from the marker"
            );
            assert_eq!(
                second.installer_calls, 0,
                "a hit must not start {installer}"
            );
            assert_eq!(
                import_version(&second.site(), "kaspr_demo").as_deref(),
                Ok("1.0")
            );
            assert_eq!(cache.envs().len(), 1);
        }
    }
}

#[test]
fn upgrade_makes_a_new_env_and_keeps_the_old_one_for_old_pods() {
    let server = pypiserver();
    let cache = Cache::new();
    let policy = "installPolicy: {retries: 0}\ncache: {keepEnvs: 1}\n";
    let v1 = authed(&server, "[kaspr-demo==1.0, kaspr-other]", policy);
    let old = run_authed("dash", "app-0", v1, &cache);
    assert_eq!(
        old.report().result,
        InstallResult::Installed,
        "{}",
        old.output
    );

    let v2 = authed(&server, "[kaspr-demo==2.0]", policy);
    let new = run_authed("dash", "app-1", v2, &cache);
    assert_eq!(
        new.report().result,
        InstallResult::Installed,
        "{}",
        new.output
    );
    assert_eq!(
        import_version(&new.site(), "kaspr_demo").as_deref(),
        Ok("2.0")
    );
    let dists = &new.report().installed;
    assert!(
        dists.contains(&"kaspr-demo==2.0".to_owned())
            && !dists.iter().any(|d| d == "kaspr-demo==1.0"),
        "{dists:?}"
    );
    assert!(
        import_version(&new.site(), "kaspr_other").is_err(),
        "a removed package must not be importable"
    );
    // The old pod's env is still there and still imports 1.0.
    assert_eq!(cache.envs().len(), 2);
    assert_eq!(
        import_version(&old.site(), "kaspr_demo").as_deref(),
        Ok("1.0")
    );

    // A third spec, once the v1 and v2 pods are gone (the operator's live set lists only v3):
    // keepEnvs 1 keeps the current env and the most recently used other one.
    let v3 = authed(&server, "[kaspr-other]", policy);
    let v3_hash = kaspr_hash::packages_hash(&v3).expect("hash").to_string();
    cache.set_live(&[&v3_hash]);
    let third = run_authed("dash", "app-2", v3, &cache);
    assert_eq!(
        third.report().result,
        InstallResult::Installed,
        "{}",
        third.output
    );
    let envs = cache.envs();
    assert_eq!(envs.len(), 2, "{envs:?}");
    assert!(
        envs.iter().any(|e| e.starts_with(&new.report().hash)),
        "the v2 env was used last and is kept: {envs:?}"
    );
    assert!(
        !envs.iter().any(|e| e.starts_with(&old.report().hash)),
        "the v1 env is collected: {envs:?}"
    );
}

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
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !started.installer_started() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
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

#[test]
fn stale_lease_is_recovered_and_reported() {
    let server = pypiserver();
    let cache = Cache::new();
    let s = authed(
        &server,
        "[kaspr-demo==1.0]",
        "installPolicy: {retries: 0, timeout: 10}\n",
    );
    let hash = kaspr_hash::packages_hash(&s).expect("hash").to_string();
    let abi = abi_tag();
    // A lease left by a pod that died: heartbeat an hour old (stale after timeout + 300 s).
    let lease = cache
        .root()
        .join(".locks")
        .join(format!("{hash}-{abi}.lease"));
    std::fs::create_dir_all(&lease).expect("lease");
    std::fs::write(lease.join("owner"), "app-9 4242\n").expect("owner");
    std::fs::write(lease.join("heartbeat"), "").expect("heartbeat");
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(lease.join("heartbeat"))
        .and_then(|f| f.set_modified(old))
        .expect("age it");
    for shell in SHELLS {
        let mut run = Run::new(shell, "app-0", s.clone()).with_credentials(USER, PASSWORD);
        run.without_flock = true;
        let out = run_script(&run, &cache);
        assert_eq!(out.code, Some(0), "{shell}: {}", out.output);
        if shell == "dash" {
            assert!(out.report().stale_lock_recovered, "{}", out.report_text);
            assert!(
                out.report().warnings.iter().any(|w| w.contains("stale")),
                "{:?}",
                out.report().warnings
            );
            assert_eq!(out.report().result, InstallResult::Installed);
        }
        assert!(!lease.exists(), "{shell}: the lease is released");
    }
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
fn wrong_password_is_authentication_without_retries() {
    let server = pypiserver();
    for installer in ["pip", "uv"] {
        let cache = Cache::new();
        let s = authed(
            &server,
            "[kaspr-demo==1.0]",
            &format!("installer: {installer}\ninstallPolicy: {{retries: 3}}\n"),
        );
        let out = run_script(
            &Run::new("dash", "app-0", s).with_credentials(USER, "wrong-password"),
            &cache,
        );
        assert_eq!(out.code, Some(1), "block fails the pod: {}", out.output);
        let r = out.report();
        assert_eq!(r.result, InstallResult::Failed);
        assert_eq!(
            r.error_type,
            Some(kaspr_types::InstallErrorType::Authentication),
            "{installer}: {}",
            out.output
        );
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
    for installer in ["pip", "uv"] {
        let cache = Cache::new();
        let s = authed(
            &server,
            "[kaspr-no-such-package]",
            &format!("installer: {installer}\n"),
        );
        let out = run_authed("dash", "app-0", s, &cache);
        let r = out.report();
        assert_eq!(
            r.error_type,
            Some(kaspr_types::InstallErrorType::PackageNotFound),
            "{installer}: {}",
            out.output
        );
        assert_eq!(r.attempts, 1);
    }
}

#[test]
fn conflicting_requirements_are_dependency_conflict() {
    let server = pypiserver();
    let cache = Cache::new();
    let s = authed(&server, "[kaspr-demo==2.0, kaspr-conflict]", "");
    let out = run_authed("dash", "app-0", s, &cache);
    assert_eq!(
        out.report().error_type,
        Some(kaspr_types::InstallErrorType::DependencyConflict),
        "{}",
        out.output
    );
    assert_eq!(out.report().attempts, 1);
}

#[test]
fn connection_refused_is_network_after_retries() {
    let cache = Cache::new();
    let port = free_port();
    let s = spec(&format!(
        "packages: [kaspr-demo]\nindexUrl: http://127.0.0.1:{port}/simple/\ninstaller: uv\ninstallPolicy: {{retries: 1, timeout: 60}}\n"
    ));
    let out = run_script(&Run::new("busybox", "app-0", s), &cache);
    let r = out.report();
    assert_eq!(
        r.error_type,
        Some(kaspr_types::InstallErrorType::Network),
        "{}",
        out.output
    );
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
    assert_eq!(
        out.report().error_type,
        Some(kaspr_types::InstallErrorType::Timeout),
        "{}",
        out.output
    );
    assert!(took < 10.0 + 15.0, "took {took:.1}s for a 10 s timeout");
    assert!(took >= 9.0, "gave up early: {took:.1}s");
}

#[test]
fn full_filesystem_is_disk_full() {
    let server = pypiserver();
    let cache = Cache::on_tmpfs(3);
    let s = authed(&server, "[kaspr-big]", "installPolicy: {retries: 0}\n");
    let out = run_authed("dash", "app-0", s, &cache);
    assert_eq!(
        out.report().error_type,
        Some(kaspr_types::InstallErrorType::DiskFull),
        "{}",
        out.output
    );
    assert!(out.report().cache.is_some());
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
        assert_eq!(out.report().result, InstallResult::Failed);
        assert!(out.report().error.is_some());
        // The main container's PYTHONPATH names a link that does not exist: Python ignores it.
        assert!(!out.site().exists());
    }
}

#[test]
fn hostile_strings_stay_inert() {
    let marker = std::path::Path::new("/tmp/kaspr-pwned");
    let _ = std::fs::remove_file(marker);
    let server = pypiserver();
    // What validation lets through must be passed inert; the rest is refused before rendering.
    for bad in [
        "$(touch /tmp/kaspr-pwned)",
        "`touch /tmp/kaspr-pwned`",
        "x; touch /tmp/kaspr-pwned",
        "a\ntouch /tmp/kaspr-pwned",
    ] {
        let spec_text = format!("packages: [{bad:?}]\n");
        let parsed: Result<kaspr_types::PythonPackagesSpec, _> = serde_yaml::from_str(&spec_text);
        let app = kaspr_types::KasprAppSpec {
            python_packages: parsed.ok(),
            ..serde_yaml::from_str("bootstrapServers: k:9092").expect("spec")
        };
        assert!(app.check().is_err(), "{bad:?} passed validation");
        for field in ["indexUrl", "extraIndexUrls", "trustedHosts"] {
            let value = if field == "indexUrl" {
                format!("{:?}", format!("https://h/{bad}"))
            } else {
                format!("[{bad:?}]")
            };
            let text = format!(
                "bootstrapServers: k:9092\npythonPackages:\n  packages: [a]\n  indexUrl: https://i.example/simple\n  {field}: {value}\n"
            );
            let text = if field == "indexUrl" {
                text.replacen("  indexUrl: https://i.example/simple\n", "", 1)
            } else {
                text
            };
            let app: kaspr_types::KasprAppSpec = serde_yaml::from_str(&text).expect("parses");
            assert!(app.check().is_err(), "{field} = {bad:?} passed validation");
        }
    }
    // Trusted hosts and URLs with shell syntax are refused too; the password (which validation
    // cannot restrict) is full of it and was used above. Run once more with a hostile password.
    let cache = Cache::new();
    let s = authed(
        &server,
        "[kaspr-demo==1.0]",
        "installPolicy: {retries: 0}\n",
    );
    for shell in SHELLS {
        let out = run_script(
            &Run::new(shell, "app-0", s.clone()).with_credentials(
                "$(touch /tmp/kaspr-pwned)",
                "`touch /tmp/kaspr-pwned`;$(touch /tmp/kaspr-pwned)",
            ),
            &cache,
        );
        assert_eq!(
            out.report().error_type,
            Some(kaspr_types::InstallErrorType::Authentication),
            "{}",
            out.output
        );
    }
    assert!(!marker.exists(), "a hostile string was executed");
}

#[test]
fn trusted_hosts_reach_the_installer() {
    let server = pypiserver();
    for installer in ["pip", "uv"] {
        let cache = Cache::new();
        let s = authed(
            &server,
            "[kaspr-demo==1.0]",
            &format!("installer: {installer}\ntrustedHosts: [127.0.0.1, Pypi.Example.com:8443]\n"),
        );
        let out = run_authed("dash", "app-0", s, &cache);
        assert_eq!(out.code, Some(0), "{}", out.output);
        assert_eq!(
            out.installer_log.trim(),
            format!("{installer} trusted=127.0.0.1 Pypi.Example.com:8443 creds="),
            "the installer's environment: trusted hosts, and no PYPI_USERNAME/PYPI_PASSWORD"
        );
    }
}

#[test]
fn report_stays_small_even_with_huge_error_output() {
    let server = pypiserver();
    let cache = Cache::new();
    // 200 missing packages with long names: pip's error output is far over 4 KiB.
    let names: Vec<String> = (0..200)
        .map(|i| format!("kaspr-missing-{i}-{}", "x".repeat(60)))
        .collect();
    let s = authed(
        &server,
        &format!("{names:?}"),
        "installPolicy: {retries: 0}\n",
    );
    let out = run_authed("dash", "app-0", s, &cache);
    assert!(
        out.report_text.len() <= kaspr_script::REPORT_MAX_BYTES,
        "{} bytes",
        out.report_text.len()
    );
    assert_eq!(out.report().result, InstallResult::Failed);
}

#[test]
fn retries_zero_installs_once_and_success_counts_one_attempt() {
    let server = pypiserver();
    let cache = Cache::new();
    let s = authed(
        &server,
        "[kaspr-demo==1.0]",
        "installPolicy: {retries: 0}\n",
    );
    let out = run_authed("busybox", "app-0", s, &cache);
    assert_eq!(
        out.report().result,
        InstallResult::Installed,
        "{}",
        out.output
    );
    assert_eq!(out.report().attempts, 1);
    assert_eq!(out.installer_calls, 1);
}

#[test]
fn a_hit_never_fails_on_missing_bookkeeping() {
    // Found by the warm-path benchmark: an env published without the .used directory (an older
    // layout, or a hand-made cache) crashed the hit instead of starting the pod.
    let server = pypiserver();
    let cache = Cache::new();
    let s = authed(&server, "[kaspr-demo==1.0]", "");
    assert_eq!(run_authed("dash", "app-0", s.clone(), &cache).code, Some(0));
    std::fs::remove_dir_all(cache.root().join(".used")).expect("remove .used");
    std::fs::remove_dir_all(cache.root().join(".locks")).expect("remove .locks");
    let hit = run_authed("busybox", "app-1", s, &cache);
    assert_eq!(hit.code, Some(0), "{}", hit.output);
    assert_eq!(hit.report().result, InstallResult::Cached);
    assert_eq!(hit.installer_calls, 0);
    assert!(
        cache.root().join(".used").is_dir(),
        "the stamp directory is recreated"
    );
}

#[test]
fn a_lock_held_past_the_longest_legitimate_install_is_lock_timeout() {
    // Another pod holds the install lock and never lets go. The shortest wait the protocol allows
    // (one attempt of 10 s: 200 s) runs out, and the pod says why instead of hanging.
    let cache = Cache::new();
    let s = spec("packages: [kaspr-demo]\ninstallPolicy: {retries: 0, timeout: 10}\n");
    let hash = kaspr_hash::packages_hash(&s).expect("hash").to_string();
    let locks = cache.root().join(".locks");
    std::fs::create_dir_all(&locks).expect("locks dir");
    let lock = locks.join(format!("{hash}-{}.lock", abi_tag()));
    // Its own process group and no inherited pipes, so that killing it leaves nothing behind.
    let mut holder = std::process::Command::new("flock");
    holder.arg(&lock).args(["sleep", "400"]);
    holder
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut holder, 0);
    let mut holder = holder.spawn().expect("flock holds the lock");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let t = std::time::Instant::now();
    let out = run_script(&Run::new("dash", "app-1", s), &cache);
    let took = t.elapsed().as_secs();
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
    assert_eq!(out.code, Some(1));
    assert!(
        (195..260).contains(&took),
        "waited {took}s for a 200 s lock wait"
    );
}
