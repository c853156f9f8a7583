//! User packages never silently change the framework in the image: with `imagePackages:
//! protect` (the default) the image's own distributions pin the resolution; `override` replaces
//! them and says so. The image is a venv holding `kaspr-img-dep 1.0` (and `kaspr-other`); the
//! index also has `kaspr-img-dep 2.0`, which an unprotected install of `kaspr-img-app` takes.

mod support;

use kaspr_script::InstallResult;
use kaspr_types::{InstallErrorType, Installer};
use support::*;

/// The image: what the app's python3 already has.
fn image() -> std::path::PathBuf {
    image_python("framework", &["kaspr-img-dep==1.0", "kaspr-other==1.0"])
}

/// Pod app-0 installing `packages` with `extra` YAML in the image: under each shell and
/// installer of [`COMBINATIONS`], each on a fresh cache.
fn in_image(server: &Server, packages: &str, extra: &str) -> impl Iterator<Item = Case> {
    let mut run = Run::authed("dash", "app-0", authed(server, packages, extra));
    run.python = Some(image());
    runs_of(run, COMBINATIONS)
}

const COMBINATIONS: [(&str, Installer); 4] = [
    ("dash", Installer::Pip),
    ("busybox", Installer::Uv),
    ("dash", Installer::Uv),
    ("busybox", Installer::Pip),
];

#[test]
fn protect_keeps_the_image_versions_the_app_imports() {
    let server = pypiserver();
    for case in in_image(
        &server,
        "[kaspr-img-app==1.0]",
        "installPolicy: {retries: 0}\n",
    ) {
        let (out, label) = (&case.out, case.label());
        assert_eq!(out.code, Some(0), "{label}: {}", out.output);
        let installed = &out.report().installed;
        assert!(
            !installed.iter().any(|d| d == "kaspr-img-dep==2.0"),
            "{label}: the env shadows the image's kaspr-img-dep: {installed:?}"
        );
        // The main container: the image's python3 with the env first on PYTHONPATH.
        assert_eq!(
            import_version_with(&image(), &out.site(), "kaspr_img_dep").as_deref(),
            Ok("1.0"),
            "{label}"
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
    for case in in_image(
        &server,
        "[kaspr-img-app==2.0]",
        "installPolicy: {retries: 2}\n",
    ) {
        let (out, label) = (&case.out, case.label());
        assert_eq!(out.code, Some(1), "{}", out.output);
        let report = out.assert_error(InstallErrorType::DependencyConflict, &label);
        assert_eq!(report.attempts, 1, "a conflict is not retried");
        let detail = report.error.clone().unwrap_or_default();
        for side in ["kaspr-img-dep 1.0", "kaspr-img-app", "override"] {
            assert!(
                detail.contains(side),
                "{label}: the detail lacks {side:?}: {detail}\n{}",
                out.output
            );
        }
        assert!(case.cache.envs().is_empty());
    }
}

#[test]
fn override_replaces_the_image_version_and_warns() {
    let server = pypiserver();
    for case in in_image(&server, "[kaspr-img-app==1.0]", "imagePackages: override\n") {
        let (out, label) = (&case.out, case.label());
        assert_eq!(out.code, Some(0), "{label}: {}", out.output);
        assert_eq!(
            import_version_with(&image(), &out.site(), "kaspr_img_dep").as_deref(),
            Ok("2.0"),
            "{label}: override takes the newest kaspr-img-dep"
        );
        // A hit reports the same warning (it comes from the env's marker).
        let hit = run_script(&case.run.as_pod("app-1"), &case.cache);
        hit.assert_result(InstallResult::Cached, &label);
        for report in [out.report(), hit.report()] {
            assert!(
                report
                    .warnings
                    .iter()
                    .any(|w| w.contains("kaspr-img-dep 1.0") && w.contains("2.0")),
                "{label}: {:?}",
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
        let mut run = Run::authed("dash", pod, s.clone());
        run.python = Some(python.clone());
        run_script(&run, &cache).assert_result(InstallResult::Installed, pod);
        keys.push(env_key_for(&s, &python));
    }
    assert_ne!(keys[0], keys[1], "the image set is part of the key");
    let mut expected = keys.clone();
    expected.sort();
    assert_eq!(cache.envs(), expected);
}
