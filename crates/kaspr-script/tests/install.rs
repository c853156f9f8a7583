//! The rendered install script, run for real by dash, bash and busybox sh against a local
//! pypiserver with authentication.

mod support;

use kaspr_script::InstallResult;
use support::*;

#[test]
fn cold_install_then_hit_without_installer() {
    let server = pypiserver();
    let s = authed(
        &server,
        "[kaspr-demo==1.0]",
        "installPolicy: {retries: 0, timeout: 120}\n",
    );
    for case in per_shell_and_installer(Run::authed("dash", "app-0", s)) {
        let (first, label) = (&case.out, case.label());
        let r = first.assert_installed(&label);
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

        let second = run_script(&case.run.as_pod("app-1"), &case.cache);
        assert_eq!(second.code, Some(0), "{}", second.output);
        let r2 = second.assert_result(InstallResult::Cached, &label);
        assert_eq!(r2.attempts, 0);
        assert_eq!(
            r2.installed_by.as_deref(),
            Some("app-0"),
            "installedBy comes from the marker"
        );
        assert_eq!(second.installer_calls, 0, "a hit must not start {label}");
        assert_eq!(
            import_version(&second.site(), "kaspr_demo").as_deref(),
            Ok("1.0")
        );
        assert_eq!(case.cache.envs().len(), 1);
    }
}

#[test]
fn upgrade_makes_a_new_env_and_keeps_the_old_one_for_old_pods() {
    let server = pypiserver();
    let cache = Cache::new();
    let policy = "installPolicy: {retries: 0}\ncache: {keepEnvs: 1}\n";
    let v1 = authed(&server, "[kaspr-demo==1.0, kaspr-other]", policy);
    let old = run_authed("dash", "app-0", v1, &cache);
    old.assert_result(InstallResult::Installed, "v1");

    let v2 = authed(&server, "[kaspr-demo==2.0]", policy);
    let new = run_authed("dash", "app-1", v2, &cache);
    new.assert_result(InstallResult::Installed, "v2");
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
    third.assert_result(InstallResult::Installed, "v3");
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

/// Text that creates `<canary>.a` … `.d` if any shell ever evaluates it. Builtins only (echo and
/// redirection), since the script's PATH holds no `touch`.
fn hostile(canary: &std::path::Path) -> String {
    let c = canary.display();
    format!("x$(echo 1 >{c}.a)`echo 1 >{c}.b`;echo 1 >{c}.c\necho 1 >{c}.d")
}

fn canaries(canary: &std::path::Path) -> Vec<std::path::PathBuf> {
    ["a", "b", "c", "d"]
        .iter()
        .map(|s| canary.with_extension(s))
        .filter(|p| p.exists())
        .collect()
}

#[test]
fn hostile_strings_are_refused_by_validation() {
    // What validation lets through must be passed inert; the rest is refused before rendering.
    for bad in [
        "$(touch /tmp/kaspr-canary)",
        "`touch /tmp/kaspr-canary`",
        "x; touch /tmp/kaspr-canary",
        "a\ntouch /tmp/kaspr-canary",
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
}

#[test]
fn hostile_strings_stay_inert_in_every_field() {
    let dir = tempfile::tempdir().expect("temp dir");
    let canary = dir.path().join("canary");
    // The canary works: evaluated as shell code, with an empty PATH, it leaves its files.
    for shell in SHELLS {
        let mut cmd = shell_command(shell);
        cmd.arg(format!("echo {}", hostile(&canary)))
            .env_clear()
            .env("PATH", "/nonexistent");
        let _ = cmd.output();
        assert_eq!(
            canaries(&canary).len(),
            4,
            "{shell}: the canary did not fire"
        );
        for file in canaries(&canary) {
            std::fs::remove_file(file).expect("reset the canary");
        }
    }
    // Past validation (render does not validate), every user string carries it: packages,
    // index URL, extra index URL, trusted host, username and password.
    let text = hostile(&canary);
    let spec: kaspr_types::PythonPackagesSpec = serde_json::from_value(serde_json::json!({
        "packages": [text.clone(), format!("kaspr-demo {text}")],
        "indexUrl": format!("http://127.0.0.1:1/{text}"),
        "extraIndexUrls": [format!("http://127.0.0.2:1/{text}")],
        "trustedHosts": [text.clone()],
        "credentials": {"secretRef": {"name": "pypi"}},
        "installPolicy": {"retries": 0, "timeout": 30},
    }))
    .expect("a spec");
    let run = Run::new("dash", "app-0", spec).with_credentials(&text, &text);
    for case in per_shell_and_installer(run) {
        case.out.assert_result(InstallResult::Failed, case.label());
        assert!(
            canaries(&canary).is_empty(),
            "{}: a hostile string was executed:\n{}",
            case.label(),
            case.out.output
        );
    }
}

#[test]
fn trusted_hosts_reach_the_installer() {
    let server = pypiserver();
    let s = authed(
        &server,
        "[kaspr-demo==1.0]",
        "trustedHosts: [127.0.0.1, Pypi.Example.com:8443]\n",
    );
    let run = Run::authed("dash", "app-0", s);
    for Case { installer, out, .. } in per_installer(run) {
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
fn a_report_of_a_large_env_is_cut_to_fit_and_says_so() {
    let server = pypiserver();
    let cache = Cache::new();
    let s = authed(&server, "[kaspr-demo==1.0]", "");
    install_first(&s, &cache);
    // The env as a large data-science set leaves it: 400 distributions with long names.
    let marker_path = cache
        .root()
        .join("envs")
        .join(env_key(&s))
        .join(".kaspr-env.json");
    let mut marker: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&marker_path).expect("marker")).expect("json");
    let installed: Vec<String> = (0..400)
        .map(|i| format!("kaspr-distribution-with-a-rather-long-name-{i:03}==1.0.{i}"))
        .collect();
    marker["installed"] = serde_json::json!(installed);
    std::fs::write(&marker_path, marker.to_string()).expect("marker");
    let hit = run_authed("busybox", "app-1", s, &cache);
    assert_eq!(hit.code, Some(0), "{}", hit.output);
    assert!(
        hit.report_text.len() <= kaspr_script::REPORT_MAX_BYTES,
        "{} bytes",
        hit.report_text.len()
    );
    let report = hit.assert_result(InstallResult::Cached, "a large env");
    assert!(report.installed_truncated, "the cut is marked");
    assert!(
        report.installed.len() > 10 && report.installed.len() < 400,
        "{} entries kept",
        report.installed.len()
    );
    assert_eq!(
        report.installed[..],
        installed[..report.installed.len()],
        "the first entries are kept, in order"
    );
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
    let r = out.assert_result(InstallResult::Installed, "retries: 0");
    assert_eq!(r.attempts, 1);
    assert_eq!(out.installer_calls, 1);
}

#[test]
fn a_hit_never_fails_on_missing_bookkeeping() {
    // Found by the warm-path benchmark: an env published without the .used directory (an older
    // layout, or a hand-made cache) crashed the hit instead of starting the pod.
    let server = pypiserver();
    let cache = Cache::new();
    let s = authed(&server, "[kaspr-demo==1.0]", "");
    install_first(&s, &cache);
    std::fs::remove_dir_all(cache.root().join(".used")).expect("remove .used");
    std::fs::remove_dir_all(cache.root().join(".locks")).expect("remove .locks");
    let hit = run_authed("busybox", "app-1", s, &cache);
    assert_eq!(hit.code, Some(0), "{}", hit.output);
    hit.assert_result(InstallResult::Cached, "a hit without .used");
    assert_eq!(hit.installer_calls, 0);
    assert!(
        cache.root().join(".used").is_dir(),
        "the stamp directory is recreated"
    );
}

/// The credentials go to an extra index on the index's own server (scheme, host and port), as
/// the Python operator sent them to every extra index: the package is only on that extra index,
/// which (like every page of this pypiserver) needs them. No other host ever gets them
/// (`hygiene.rs`: `credentials_never_leak_and_never_reach_other_hosts`).
#[test]
fn an_extra_index_on_the_index_server_gets_the_credentials() {
    let server = pypiserver();
    let base = server.url.trim_end_matches('/').trim_end_matches("/simple");
    let s = spec(&format!(
        "packages: [kaspr-demo==1.0]\nindexUrl: {base}/empty/\nextraIndexUrls: [{}]\n\
         credentials: {{secretRef: {{name: pypi}}}}\ninstallPolicy: {{retries: 0}}\n",
        server.url
    ));
    for case in per_installer(Run::authed("dash", "app-0", s.clone())) {
        case.out.assert_installed(case.label());
    }
    // The negative control: without the credentials the same install fails.
    let run = Run::new("dash", "app-0", s).with_credentials(USER, "wrong-password");
    for case in per_installer(run) {
        case.out.assert_result(InstallResult::Failed, case.label());
    }
}
