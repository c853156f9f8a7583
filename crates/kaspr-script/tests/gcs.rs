//! `cache.type: gcs`: the rendered script run by dash, bash and busybox sh against a Cloud Storage
//! emulator (from PyPI) behind a token endpoint that verifies the service account JWT. Each pod
//! has a fresh emptyDir; the bucket carries built envs from pod to pod. Whatever goes wrong with
//! the bucket is a warning, never a failed install, and never shows the key or the token.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use kaspr_script::{GcsReport, InstallResult};
use support::*;

const PREFIX: &str = "kaspr-packages/";

/// Pod `pod` of app `app` with the bucket of `gcs`.
fn gcs_run(
    shell: &'static str,
    pod: &str,
    app: &str,
    spec: kaspr_types::PythonPackagesSpec,
    gcs: &Gcs,
) -> Run {
    let mut run = Run::authed(shell, pod, spec);
    run.app = app.into();
    run.gcs = Some(gcs.access());
    run
}

trait GcsOutcome {
    fn gcs(&self) -> &GcsReport;
}

impl GcsOutcome for Outcome {
    #[track_caller]
    fn gcs(&self) -> &GcsReport {
        let report = self.report();
        assert_eq!(report.cache_mode.as_deref(), Some("gcs"), "{}", self.output);
        report
            .gcs
            .as_ref()
            .unwrap_or_else(|| panic!("no gcs block in {}", self.report_text))
    }
}

/// The member names of a tar.gz.
fn tar_listing(archive: &[u8]) -> Vec<String> {
    let mut child = Command::new("tar")
        .args(["-tzf", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("tar");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(archive)
        .expect("feed tar");
    let out = child.wait_with_output().expect("tar");
    assert!(out.status.success(), "tar -tzf");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim_start_matches("./").to_owned())
        .collect()
}

/// Neither the private key (any line of it) nor the access token is in the run's output, its
/// report, or any file the pod left (packages volume, pod dir, site).
#[track_caller]
fn assert_no_secret(out: &Outcome, gcs: &Gcs, cache: &Cache, what: &str) {
    let forms = gcs.secret_forms();
    for form in &forms {
        assert!(
            !out.output.contains(form.as_str()),
            "{what}: a key line or the token is in the output:\n{}",
            out.output
        );
        assert!(
            !out.report_text.contains(form.as_str()),
            "{what}: a key line or the token is in the report"
        );
    }
    let leaked = files_holding(&files_under(cache.dir.path()), &forms);
    assert!(leaked.is_empty(), "{what}: key or token left in {leaked:?}");
}

/// Every storage request the front saw carried the access token.
#[track_caller]
fn assert_all_requests_bearer(gcs: &Gcs) {
    let log = gcs.log();
    let storage: Vec<&str> = log.lines().filter(|l| !l.starts_with("token ")).collect();
    assert!(!storage.is_empty(), "no storage request:\n{log}");
    assert!(
        storage.iter().all(|l| l.ends_with(" bearer")),
        "a storage request without the token:\n{log}"
    );
}

#[test]
fn a_miss_installs_and_uploads_and_a_fresh_pod_fetches_without_the_installer() {
    let server = pypiserver();
    let gcs = Gcs::start();
    let base = gcs_spec(&server, "[kaspr-demo==1.0]", "");
    let mut rows = 0;
    for shell in SHELLS {
        for installer in INSTALLERS {
            let label = format!("{shell}/{installer}");
            let app = format!("orders-{shell}-{installer}");
            let mut spec = base.clone();
            spec.installer = installer;
            let name = object_name(PREFIX, &app, &env_key(&spec));

            // app-0 on an empty bucket: installs, then uploads.
            let first_cache = Cache::new();
            let run = gcs_run(shell, "app-0", &app, spec.clone(), &gcs);
            let first = run_script(&run, &first_cache);
            let r = first.assert_installed(&label);
            assert_eq!(first.installer_calls, 1, "{label}");
            assert!(r.warnings.is_empty(), "{label}: {:?}", r.warnings);
            let g = first.gcs();
            assert_eq!(g.object, name, "{label}: <prefix><app>/<env key>.tar.gz");
            assert_eq!(
                (g.fetch.as_str(), g.from_bucket),
                ("miss", false),
                "{label}"
            );
            assert_eq!(
                g.upload.as_deref(),
                Some("uploaded"),
                "{label}: {}",
                first.output
            );
            let archive = gcs
                .object(&name)
                .unwrap_or_else(|| panic!("{label}: {name} not in the bucket"));
            assert_eq!(Some(archive.len() as u64), g.archive_bytes, "{label}");
            let members = tar_listing(&archive);
            for wanted in [
                ".kaspr-env.json",
                "kaspr_demo/__init__.py",
                "kaspr_demo_dep/__init__.py",
            ] {
                assert!(
                    members.iter().any(|m| m == wanted),
                    "{label}: {wanted} not in {members:?}"
                );
            }

            // app-1 on its own fresh emptyDir: the bucket has it, no installer runs.
            let second_cache = Cache::new();
            let second = run_script(&run.as_pod("app-1"), &second_cache);
            assert_eq!(second.code, Some(0), "{label}: {}", second.output);
            let r2 = second.assert_result(InstallResult::Cached, &label);
            assert_eq!(r2.attempts, 0, "{label}");
            assert_eq!(
                second.installer_calls, 0,
                "{label}: a hit from the bucket must not install"
            );
            assert_eq!(
                r2.installed_by.as_deref(),
                Some("app-0"),
                "{label}: from the archived marker"
            );
            assert!(
                r2.installed.contains(&"kaspr-demo==1.0".to_owned()),
                "{label}: {:?}",
                r2.installed
            );
            assert!(r2.warnings.is_empty(), "{label}: {:?}", r2.warnings);
            let g2 = second.gcs();
            assert_eq!(
                (g2.fetch.as_str(), g2.from_bucket),
                ("hit", true),
                "{label}"
            );
            assert_eq!(g2.upload, None, "{label}: nothing to upload after a hit");
            assert_eq!(g2.archive_bytes, Some(archive.len() as u64), "{label}");
            assert_eq!(second_cache.envs(), vec![env_key(&spec)], "{label}");
            assert_eq!(
                import_version(&second.site(), "kaspr_demo").as_deref(),
                Ok("1.0"),
                "{label}"
            );
            assert_eq!(
                import_version(&second.site(), "kaspr_demo_dep").as_deref(),
                Ok("1.0"),
                "{label}"
            );

            if rows == 0 {
                // The init container of app-1 runs again (same emptyDir): the env is local, the
                // bucket is not even asked.
                let granted = gcs.tokens_granted();
                let again = run_script(&run.as_pod("app-1"), &second_cache);
                again.assert_result(InstallResult::Cached, "again");
                assert_eq!(again.gcs().fetch, "local");
                assert!(!again.gcs().from_bucket);
                assert_eq!(
                    gcs.tokens_granted(),
                    granted,
                    "no token asked for a local hit"
                );
            }
            for (out, cache) in [(&first, &first_cache), (&second, &second_cache)] {
                assert_no_secret(out, &gcs, cache, &label);
            }
            rows += 1;
        }
    }
    // A token for each fetch and each upload, each JWT verified with the key's public half.
    assert_eq!(gcs.tokens_granted(), rows * 3, "{}", gcs.log());
    assert_all_requests_bearer(&gcs);
    assert_eq!(gcs.objects().len(), rows);
}

#[test]
fn an_env_over_max_archive_size_is_installed_but_not_uploaded() {
    let server = pypiserver();
    let gcs = Gcs::start();
    let spec = gcs_spec(&server, "[kaspr-demo==1.0]", ", maxArchiveSize: 1Ki");
    let run = gcs_run("busybox", "app-0", "orders", spec, &gcs);
    for pod in ["app-0", "app-1"] {
        let cache = Cache::new();
        let out = run_script(&run.as_pod(pod), &cache);
        let r = out.assert_installed(pod);
        assert_eq!(
            out.installer_calls, 1,
            "{pod}: nothing to fetch, so it installs"
        );
        let g = out.gcs();
        assert_eq!(g.fetch, "miss");
        assert_eq!(g.upload.as_deref(), Some("too_large"));
        assert!(
            r.warnings.len() == 1
                && r.warnings[0].contains("maxArchiveSize")
                && r.warnings[0].contains("1024"),
            "{:?}",
            r.warnings
        );
        assert_eq!(gcs.objects(), Vec::<String>::new());
        assert_eq!(
            import_version(&out.site(), "kaspr_demo").as_deref(),
            Ok("1.0")
        );
    }
}

#[test]
fn an_upload_the_bucket_refuses_is_a_warning_and_the_install_stands() {
    let server = pypiserver();
    let gcs = Gcs::start_with(GcsFaults {
        deny_uploads: true,
        ..Default::default()
    });
    let spec = gcs_spec(&server, "[kaspr-demo==1.0]", "");
    let cache = Cache::new();
    // onFailure: block (the default): still exit 0, the pod starts.
    let out = run_script(&gcs_run("dash", "app-0", "orders", spec, &gcs), &cache);
    let r = out.assert_installed("upload refused");
    assert_eq!(out.gcs().upload.as_deref(), Some("failed"));
    assert!(
        r.warnings.len() == 1
            && r.warnings[0].contains("HTTP 403")
            && r.warnings[0].contains("roles/storage.objectUser"),
        "{:?}",
        r.warnings
    );
    assert_eq!(gcs.objects(), Vec::<String>::new());
    assert_eq!(
        import_version(&out.site(), "kaspr_demo").as_deref(),
        Ok("1.0")
    );
    assert_no_secret(&out, &gcs, &cache, "upload refused");
}

#[test]
fn an_unreachable_bucket_still_installs() {
    let server = pypiserver();
    let gcs = Gcs::start();
    let spec = gcs_spec(&server, "[kaspr-demo==1.0]", "");
    let cache = Cache::new();
    let mut run = gcs_run("bash", "app-0", "orders", spec, &gcs);
    // Nothing listens there (the emulator went away).
    run.gcs = Some(GcsAccess {
        endpoint: format!("http://127.0.0.1:{}", free_port()),
        ..gcs.access()
    });
    let t = std::time::Instant::now();
    let out = run_script(&run, &cache);
    let r = out.assert_installed("bucket unreachable");
    assert_eq!(out.gcs().fetch, "error");
    assert_eq!(out.gcs().upload.as_deref(), Some("failed"));
    assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
    assert!(
        r.warnings
            .iter()
            .all(|w| w.contains("cannot reach 127.0.0.1")),
        "{:?}",
        r.warnings
    );
    assert!(
        t.elapsed().as_secs() < 60,
        "a refused connection is not waited on"
    );
    assert_no_secret(&out, &gcs, &cache, "bucket unreachable");
}

#[test]
fn a_corrupt_truncated_hostile_or_foreign_archive_is_a_miss_and_is_replaced() {
    let server = pypiserver();
    let gcs = Gcs::start();
    let spec = gcs_spec(&server, "[kaspr-demo==1.0]", "");
    let name = object_name(PREFIX, "orders", &env_key(&spec));
    let run = gcs_run("dash", "app-0", "orders", spec.clone(), &gcs);
    run_script(&run, &Cache::new()).assert_installed("the first upload");
    let valid = gcs.object(&name).expect("uploaded");
    // The env of another spec, stored under this name.
    let other = gcs_spec(&server, "[kaspr-other]", "");
    let other_run = gcs_run("dash", "app-0", "other", other.clone(), &gcs);
    run_script(&other_run, &Cache::new()).assert_installed("another env");
    let foreign = gcs
        .object(&object_name(PREFIX, "other", &env_key(&other)))
        .expect("uploaded");

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "garbage",
            b"this is not a tar.gz archive".to_vec(),
            "corrupt",
        ),
        (
            "truncated",
            valid[..valid.len() / 2].to_vec(),
            "corrupt or truncated",
        ),
        ("escape", gcs.hostile_archive("escape"), "unsafe path"),
        ("link", gcs.hostile_archive("link"), "link out of the env"),
        ("foreign", foreign, "another env"),
    ];
    for (what, bytes, words) in cases {
        gcs.put(&name, &bytes);
        let cache = Cache::new();
        let out = run_script(&run.as_pod("app-1"), &cache);
        let r = out.assert_installed(what);
        assert_eq!(out.installer_calls, 1, "{what}: a bad archive is a miss");
        let g = out.gcs();
        assert_eq!(
            (g.fetch.as_str(), g.from_bucket),
            ("invalid", false),
            "{what}"
        );
        assert!(
            r.warnings.len() == 1 && r.warnings[0].contains(words),
            "{what}: {:?}",
            r.warnings
        );
        // Replaced by a good archive.
        assert_eq!(
            g.upload.as_deref(),
            Some("uploaded"),
            "{what}: {}",
            out.output
        );
        let now = gcs.object(&name).expect("object");
        assert_ne!(now, bytes, "{what}: the bad archive is replaced");
        assert!(
            tar_listing(&now).iter().any(|m| m == ".kaspr-env.json"),
            "{what}"
        );
        assert_eq!(
            import_version(&out.site(), "kaspr_demo").as_deref(),
            Ok("1.0"),
            "{what}"
        );
        // Nothing landed outside the packages volume, and no link to /etc went anywhere.
        assert!(
            !cache.root().join("kaspr-escaped").exists()
                && !cache.dir.path().join("kaspr-escaped").exists()
        );
        let staging: Vec<_> = std::fs::read_dir(cache.root().join(".staging"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(
            staging.is_empty(),
            "{what}: staging left behind: {staging:?}"
        );
        // The next pod finds the good one.
        let next = run_script(&run.as_pod("app-2"), &Cache::new());
        next.assert_result(InstallResult::Cached, what);
        assert_eq!(next.installer_calls, 0, "{what}");
        assert_eq!(next.gcs().fetch, "hit", "{what}");
    }
}

#[test]
fn an_archive_uploaded_meanwhile_by_another_pod_is_left_alone() {
    let server = pypiserver();
    let gcs = Gcs::start();
    let spec = gcs_spec(&server, "[kaspr-big, kaspr-demo==1.0]", "");
    // The same env, archived under another app's name: what the other pod will have uploaded.
    run_script(
        &gcs_run("dash", "app-0", "elsewhere", spec.clone(), &gcs),
        &Cache::new(),
    )
    .assert_installed("elsewhere");
    let theirs = gcs
        .object(&object_name(PREFIX, "elsewhere", &env_key(&spec)))
        .expect("uploaded");
    let name = object_name(PREFIX, "orders", &env_key(&spec));
    let cache = Cache::new();
    let started = start(&gcs_run("dash", "app-0", "orders", spec, &gcs), &cache);
    // The fetch (a miss) is over once the installer runs; then another pod uploads.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !started.installer_started() {
        assert!(
            std::time::Instant::now() < deadline,
            "the installer never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    gcs.put(&name, &theirs);
    let out = started.finish();
    let r = out.assert_installed("raced");
    assert_eq!(
        out.gcs().upload.as_deref(),
        Some("exists"),
        "{}",
        out.output
    );
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(
        gcs.object(&name),
        Some(theirs),
        "the object is not overwritten"
    );
}

#[test]
fn a_bad_key_or_a_refused_token_installs_from_the_index_with_a_warning() {
    // The bucket is a cache: a key that does not work must not take the app down (under
    // onFailure: block every restart would fail). The pod installs from the index, the report
    // (and so the status) says why the cache is not used, and the upload is not even tried.
    let server = pypiserver();
    let gcs = Gcs::start();
    let refusing = Gcs::start_with(GcsFaults {
        refuse_tokens: true,
        ..Default::default()
    });
    let spec = gcs_spec(&server, "[kaspr-demo==1.0]", "");
    let not_a_key = serde_json::json!({
        "type": "service_account",
        "client_email": CLIENT_EMAIL,
        "private_key": "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbCwganVzdCB0ZXh0\n-----END PRIVATE KEY-----\n",
        "token_uri": format!("{}/token", gcs.front.url),
    });
    let cases: Vec<(&str, &Gcs, std::path::PathBuf, &str)> = vec![
        (
            "rotated key",
            &gcs,
            gcs.other_key_file(),
            "refused the service account key of",
        ),
        (
            "token endpoint 401",
            &refusing,
            refusing.key_file.clone(),
            "(HTTP 401",
        ),
        (
            "missing key file",
            &gcs,
            gcs.key_file.with_file_name("missing.json"),
            "cannot read the service account key",
        ),
        (
            "not JSON",
            &gcs,
            gcs.file("notjson.json", "client_email: x"),
            "is not JSON",
        ),
        (
            "no private_key",
            &gcs,
            gcs.file("nokey.json", "{\"client_email\": \"x\"}"),
            "has no private_key",
        ),
        (
            "not a key",
            &gcs,
            gcs.file("notakey.json", &not_a_key.to_string()),
            "openssl could not sign",
        ),
    ];
    for (what, bucket, key, words) in cases {
        let cache = Cache::new();
        let mut run = gcs_run("dash", "app-0", "orders", spec.clone(), bucket);
        run.gcs = Some(GcsAccess {
            key,
            ..bucket.access()
        });
        let out = run_script(&run, &cache);
        let r = out.assert_installed(what);
        assert_eq!(out.installer_calls, 1, "{what}");
        let g = out.gcs();
        assert_eq!(g.fetch, "error", "{what}");
        assert_eq!(
            g.upload.as_deref(),
            Some("skipped"),
            "{what}: a key that failed is not tried again"
        );
        assert!(
            r.warnings.len() == 1 && r.warnings[0].contains(words),
            "{what}: {:?}",
            r.warnings
        );
        assert_eq!(bucket.objects(), Vec::<String>::new(), "{what}");
        assert_no_secret(&out, bucket, &cache, what);
        assert!(
            !out.output.contains("bm90IGEga2V5"),
            "{what}: the not-a-key body is shown"
        );
    }
    // The rotated key reached the token endpoint, which refused its signature.
    assert!(
        gcs.log().contains("token refused Invalid JWT Signature."),
        "{}",
        gcs.log()
    );
    assert_eq!(gcs.tokens_granted(), 0);
}
