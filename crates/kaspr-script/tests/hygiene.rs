//! What the installer and the app get to see: credentials only inside the main index URL, never
//! in a file the main container can read, never through a redirect; the index search order.

mod support;

use kaspr_script::InstallResult;
use kaspr_types::{InstallErrorType, Installer};
use support::*;

/// Processes whose command line holds the password, sampled while `pgid` runs.
fn watch_command_lines(pgid: u32) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::time::Instant::now() < deadline
            && std::path::Path::new(&format!("/proc/{pgid}")).exists()
        {
            for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
                    let text = String::from_utf8_lossy(&cmdline);
                    if text.contains("p@ss:w") || text.contains("p%40ss") {
                        seen.push(text.into_owned());
                    }
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        seen
    })
}

#[test]
fn credentials_never_leak_and_never_reach_other_hosts() {
    let server = pypiserver();
    let extra = extra_index();
    let forms = credential_forms();
    let s = spec(&format!(
        "packages: [kaspr-demo==1.0, kaspr-extra-only, kaspr-big]\nindexUrl: {}\nextraIndexUrls: [{}]\ncredentials: {{secretRef: {{name: pypi}}}}\n",
        server.url, extra.url
    ));
    for installer in INSTALLERS {
        let cache = Cache::new();
        let mut run = Run::authed("dash", "app-0", s.clone());
        run.spec.installer = installer;
        // Started by hand: the command lines are watched while it runs.
        let started = start(&run, &cache);
        let watcher = watch_command_lines(started.child.id());
        let out = started.finish();
        let seen = watcher.join().expect("watcher");
        assert_eq!(out.code, Some(0), "{installer}: {}", out.output);
        assert!(
            seen.is_empty(),
            "{installer}: password on a command line: {seen:?}"
        );
        assert_eq!(
            import_version(&out.site(), "kaspr_extra_only").as_deref(),
            Ok("1.0"),
            "{installer}: package from the extra index"
        );
        for needle in forms.iter().map(String::as_str).chain(["p@ss:w", USER]) {
            assert!(
                !out.output.contains(needle),
                "{installer}: {needle:?} in the output:\n{}",
                out.output
            );
            assert!(
                !out.report_text.contains(needle),
                "{installer}: {needle:?} in the report"
            );
        }
        // Over plain http to an untrusted host, neither installer caches pages: no file at all
        // on the volume or in the pod holds the credential.
        let leaked = files_holding(&files_under(cache.dir.path()), &forms);
        assert!(
            leaked.is_empty(),
            "{installer}: password left in {leaked:?}"
        );
        let access = extra.log_text();
        assert!(!access.is_empty(), "the extra index was asked");
        assert!(
            access.lines().all(|l| l.ends_with(" -")),
            "{installer}: credentials sent to the extra index:\n{access}"
        );
    }
}

#[test]
fn the_main_container_sees_no_credential_even_when_the_index_answers_cacheable_pages() {
    let index = private_index();
    let forms = credential_forms();
    // A trusted host, as an internal http index would be: pip caches only https and trusted
    // hosts.
    let s = spec(&format!(
        "packages: [kaspr-demo==1.0]\nindexUrl: {}\ntrustedHosts: [127.0.0.1]\ncredentials: {{secretRef: {{name: pypi}}}}\n",
        index.url
    ));
    let run = Run::authed("dash", "app-0", s);
    for case in per_installer(run) {
        let (installer, out, cache) = (case.installer, &case.out, &case.cache);
        assert_eq!(out.code, Some(0), "{installer}: {}", out.output);
        assert!(
            index.log_text().contains("Basic "),
            "the index was asked with credentials"
        );
        // What the main container mounts: envs/ of the volume, and its own python-env dir.
        let mut visible = files_under(&cache.root().join("envs"));
        visible.extend(files_under(&out.pod_dir.join("python-env")));
        assert!(!visible.is_empty());
        let leaked = files_holding(&visible, &forms);
        assert!(
            leaked.is_empty(),
            "{installer}: credential readable by the app in {leaked:?}"
        );
        if installer == Installer::Pip {
            // Why only envs/ is mounted: pip's HTTP cache keeps the header the page varied on.
            let cached = files_holding(&files_under(&cache.root().join(".cache")), &forms);
            assert!(
                !cached.is_empty(),
                "expected pip's HTTP cache to hold the Authorization value (the hazard the subPath mount avoids)"
            );
        }
    }
}

#[test]
fn credentials_that_cannot_be_encoded_fail_without_running_the_installer() {
    let server = pypiserver();
    let s = authed(
        &server,
        "[kaspr-demo==1.0]",
        "installPolicy: {retries: 2}\n",
    );
    let run = Run::new("dash", "app-0", s).with_raw_password(USER, b"pass\xffword");
    for Case { installer, out, .. } in per_installer(run) {
        assert_eq!(out.code, Some(1), "{}", out.output);
        let r = out.assert_error(InstallErrorType::Authentication, installer);
        assert_eq!(
            out.installer_calls, 0,
            "{installer} ran without the private index"
        );
        assert!(
            r.error.as_deref().is_some_and(|d| d.contains("not UTF-8")),
            "{:?}",
            r.error
        );
    }
}

#[test]
fn the_classification_probe_sends_no_credential_through_a_redirect() {
    // The main index redirects everything to another host, which logs what it is sent.
    let elsewhere = extra_index();
    let redirect = redirector(&elsewhere.url);
    let cache = Cache::new();
    let s = spec(&format!(
        "packages: [kaspr-no-such-package]\nindexUrl: {}\ncredentials: {{secretRef: {{name: pypi}}}}\ninstallPolicy: {{retries: 0}}\n",
        redirect.url
    ));
    let out = run_authed("dash", "app-0", s, &cache);
    out.assert_result(InstallResult::Failed, "a redirect");
    let access = elsewhere.log_text();
    assert!(
        !access.is_empty(),
        "the redirect target was asked:\n{}",
        out.output
    );
    assert!(
        access.lines().all(|l| l.ends_with(" -")),
        "credentials followed a redirect to another host:\n{access}"
    );
}

#[test]
fn uv_searches_the_main_index_before_the_extra_ones_and_pip_takes_the_best_version() {
    // kaspr-shared is 1.0 on the main index and 2.0 on the extra one.
    let server = pypiserver();
    let extra = extra_index();
    let s = spec(&format!(
        "packages: [kaspr-shared]\nindexUrl: {}\nextraIndexUrls: [{}]\ncredentials: {{secretRef: {{name: pypi}}}}\n",
        server.url, extra.url
    ));
    let run = Run::authed("dash", "app-0", s);
    for Case { installer, out, .. } in per_installer(run) {
        let version = match installer {
            Installer::Uv => "1.0",
            Installer::Pip => "2.0",
        };
        assert_eq!(out.code, Some(0), "{installer}: {}", out.output);
        assert_eq!(
            import_version(&out.site(), "kaspr_shared").as_deref(),
            Ok(version),
            "{installer}"
        );
    }
}
