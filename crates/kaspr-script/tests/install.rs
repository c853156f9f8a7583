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

            let second = run_script(
                &Run::new(shell, "app-1", s).with_credentials(USER, PASSWORD),
                &cache,
            );
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
