//! What the installer and the app get to see: credentials only inside the main index URL, never
//! in a file the main container can read, never through a redirect; the index search order.

mod support;

use std::path::{Path, PathBuf};

use kaspr_script::InstallResult;
use kaspr_types::InstallErrorType;
use support::*;

/// Every form in which the credential could have been written down.
fn credential_forms() -> Vec<String> {
    use base64::Engine;
    let encoded: String = PASSWORD
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    vec![PASSWORD.to_owned(), encoded, token]
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path);
        if meta.as_ref().is_ok_and(|m| m.is_dir()) {
            files.extend(files_under(&path));
        } else if meta.is_ok_and(|m| m.is_file()) {
            files.push(path);
        }
    }
    files
}

fn holding(files: &[PathBuf], forms: &[String]) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|f| {
            let bytes = std::fs::read(f).unwrap_or_default();
            forms
                .iter()
                .any(|form| bytes.windows(form.len()).any(|w| w == form.as_bytes()))
        })
        .cloned()
        .collect()
}

#[test]
fn the_main_container_sees_no_credential_even_when_the_index_answers_cacheable_pages() {
    let index = private_index();
    let forms = credential_forms();
    for installer in ["pip", "uv"] {
        let cache = Cache::new();
        // A trusted host, as an internal http index would be: pip caches only https and
        // trusted hosts.
        let s = spec(&format!(
            "packages: [kaspr-demo==1.0]\nindexUrl: {}\ntrustedHosts: [127.0.0.1]\ninstaller: {installer}\ncredentials: {{secretRef: {{name: pypi}}}}\n",
            index.url
        ));
        let out = run_authed("dash", "app-0", s, &cache);
        assert_eq!(out.code, Some(0), "{installer}: {}", out.output);
        assert!(
            index.log_text().contains("Basic "),
            "the index was asked with credentials"
        );
        // What the main container mounts: envs/ of the volume, and its own python-env dir.
        let mut visible = files_under(&cache.root().join("envs"));
        visible.extend(files_under(&out.pod_dir.join("python-env")));
        assert!(!visible.is_empty());
        let leaked = holding(&visible, &forms);
        assert!(
            leaked.is_empty(),
            "{installer}: credential readable by the app in {leaked:?}"
        );
        if installer == "pip" {
            // Why only envs/ is mounted: pip's HTTP cache keeps the header the page varied on.
            let cached = holding(&files_under(&cache.root().join(".cache")), &forms);
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
    for installer in ["pip", "uv"] {
        let cache = Cache::new();
        let s = authed(
            &server,
            "[kaspr-demo==1.0]",
            &format!("installer: {installer}\ninstallPolicy: {{retries: 2}}\n"),
        );
        let run = Run::new("dash", "app-0", s).with_raw_password(USER, b"pass\xffword");
        let out = run_script(&run, &cache);
        assert_eq!(out.code, Some(1), "{}", out.output);
        assert_eq!(
            out.report().error_type,
            Some(InstallErrorType::Authentication),
            "{installer}: {}",
            out.output
        );
        assert_eq!(
            out.installer_calls, 0,
            "{installer} ran without the private index"
        );
        assert!(
            out.report()
                .error
                .as_deref()
                .is_some_and(|d| d.contains("not UTF-8")),
            "{:?}",
            out.report().error
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
    assert_eq!(out.report().result, InstallResult::Failed, "{}", out.output);
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
    for (installer, version) in [("uv", "1.0"), ("pip", "2.0")] {
        let cache = Cache::new();
        let s = spec(&format!(
            "packages: [kaspr-shared]\nindexUrl: {}\nextraIndexUrls: [{}]\ninstaller: {installer}\ncredentials: {{secretRef: {{name: pypi}}}}\n",
            server.url, extra.url
        ));
        let out = run_authed("dash", "app-0", s, &cache);
        assert_eq!(out.code, Some(0), "{installer}: {}", out.output);
        assert_eq!(
            import_version(&out.site(), "kaspr_shared").as_deref(),
            Ok(version),
            "{installer}"
        );
    }
}
