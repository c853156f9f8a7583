//! User packages never silently change the framework in the image: with `imagePackages:
//! protect` (the default) the image's own distributions pin the resolution; `override` replaces
//! them and says so. The image is a venv holding `kaspr-img-dep 1.0` (and `kaspr-other`); the
//! index also has `kaspr-img-dep 2.0`, which an unprotected install of `kaspr-img-app` takes.

mod support;

use kaspr_script::InstallResult;
use kaspr_types::InstallErrorType;
use support::*;

/// The image: what the app's python3 already has.
fn image() -> std::path::PathBuf {
    image_python("framework", &["kaspr-img-dep==1.0", "kaspr-other==1.0"])
}

fn in_image(shell: &'static str, pod: &str, spec: kaspr_types::PythonPackagesSpec) -> Run {
    let mut run = Run::new(shell, pod, spec).with_credentials(USER, PASSWORD);
    run.python = Some(image());
    run
}

/// Runs `packages` with `installer` and `extra` YAML in the image, under `shell`, on a fresh cache.
fn install_in_image(
    server: &Server,
    (shell, installer): (&'static str, &str),
    packages: &str,
    extra: &str,
) -> (Outcome, Cache) {
    let cache = Cache::new();
    let s = authed(
        server,
        packages,
        &format!("installer: {installer}\n{extra}"),
    );
    let out = run_script(&in_image(shell, "app-0", s), &cache);
    (out, cache)
}

const COMBINATIONS: [(&str, &str); 4] = [
    ("dash", "pip"),
    ("busybox", "uv"),
    ("dash", "uv"),
    ("busybox", "pip"),
];

#[test]
fn protect_keeps_the_image_versions_the_app_imports() {
    let server = pypiserver();
    for (shell, installer) in COMBINATIONS {
        let (out, _cache) = install_in_image(
            &server,
            (shell, installer),
            "[kaspr-img-app==1.0]",
            "installPolicy: {retries: 0}\n",
        );
        assert_eq!(out.code, Some(0), "{shell}/{installer}: {}", out.output);
        let installed = &out.report().installed;
        assert!(
            !installed.iter().any(|d| d == "kaspr-img-dep==2.0"),
            "{shell}/{installer}: the env shadows the image's kaspr-img-dep: {installed:?}"
        );
        // The main container: the image's python3 with the env first on PYTHONPATH.
        assert_eq!(
            import_version_with(&image(), &out.site(), "kaspr_img_dep").as_deref(),
            Ok("1.0"),
            "{shell}/{installer}"
        );
        assert_eq!(
            import_version_with(&image(), &out.site(), "kaspr_img_app").as_deref(),
            Ok("1.0")
        );
    }
}

#[test]
fn a_requirement_needing_another_image_version_is_a_conflict_naming_both_sides() {
    let server = pypiserver();
    for (shell, installer) in COMBINATIONS {
        let (out, cache) = install_in_image(
            &server,
            (shell, installer),
            "[kaspr-img-app==2.0]",
            "installPolicy: {retries: 2}\n",
        );
        assert_eq!(out.code, Some(1), "{}", out.output);
        let report = out.report();
        assert_eq!(
            report.error_type,
            Some(InstallErrorType::DependencyConflict),
            "{shell}/{installer}: {}",
            out.output
        );
        assert_eq!(report.attempts, 1, "a conflict is not retried");
        let detail = report.error.clone().unwrap_or_default();
        for side in ["kaspr-img-dep 1.0", "kaspr-img-app", "override"] {
            assert!(
                detail.contains(side),
                "{shell}/{installer}: the detail lacks {side:?}: {detail}\n{}",
                out.output
            );
        }
        assert!(cache.envs().is_empty());
    }
}

#[test]
fn override_replaces_the_image_version_and_warns() {
    let server = pypiserver();
    for (shell, installer) in COMBINATIONS {
        let cache = Cache::new();
        let s = authed(
            &server,
            "[kaspr-img-app==1.0]",
            &format!("installer: {installer}\nimagePackages: override\n"),
        );
        let out = run_script(&in_image(shell, "app-0", s.clone()), &cache);
        assert_eq!(out.code, Some(0), "{shell}/{installer}: {}", out.output);
        assert_eq!(
            import_version_with(&image(), &out.site(), "kaspr_img_dep").as_deref(),
            Ok("2.0"),
            "{shell}/{installer}: override takes the newest kaspr-img-dep"
        );
        for report in [out.report().clone(), {
            // A hit reports the same warning (it comes from the env's marker).
            let hit = run_script(&in_image(shell, "app-1", s.clone()), &cache);
            assert_eq!(hit.report().result, InstallResult::Cached, "{}", hit.output);
            hit.report().clone()
        }] {
            assert!(
                report
                    .warnings
                    .iter()
                    .any(|w| w.contains("kaspr-img-dep 1.0") && w.contains("2.0")),
                "{shell}/{installer}: {:?}",
                report.warnings
            );
        }
    }
}

#[test]
fn another_image_set_gets_its_own_env() {
    let server = pypiserver();
    let cache = Cache::new();
    let s = authed(&server, "[kaspr-demo==1.0]", "");
    let other = image_python("framework-upgraded", &["kaspr-img-dep==2.0"]);
    let mut keys = Vec::new();
    for (pod, python) in [("app-0", image()), ("app-1", other.clone())] {
        let mut run = Run::new("dash", pod, s.clone()).with_credentials(USER, PASSWORD);
        run.python = Some(python.clone());
        let out = run_script(&run, &cache);
        assert_eq!(
            out.report().result,
            InstallResult::Installed,
            "{}",
            out.output
        );
        keys.push(env_key_for(&s, &python));
    }
    assert_ne!(keys[0], keys[1], "the image set is part of the key");
    let mut expected = keys.clone();
    expected.sort();
    assert_eq!(cache.envs(), expected);
}
