//! Error classification, fed with installer output as pip and uv print it. The helper is run
//! as the script runs it (python3, standard library), one sample a case.

mod support;

use std::process::Command;

use support::*;

/// The helper as the script embeds it: its parts, in the order `install.sh` includes them.
fn helper() -> &'static std::path::Path {
    static FILE: std::sync::OnceLock<tempfile::NamedTempFile> = std::sync::OnceLock::new();
    FILE.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates/");
        let text: String = [
            "helper.py",
            "classify.py",
            "image.py",
            "space.py",
            "gcs.py",
            "main.py",
        ]
        .iter()
        .map(|f| std::fs::read_to_string(format!("{dir}{f}")).expect("helper part"))
        .collect::<Vec<_>>()
        .join("\n");
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), text).expect("write helper");
        file
    })
    .path()
}

/// Classifies `log` (installer exit code `rc`) with `env` set, as the script would.
fn classify(log: &str, rc: i32, env: &[(&str, &str)]) -> String {
    classify_detailed(log, rc, env)["type"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The whole `error.json` the helper leaves for the report: type and redacted detail.
fn classify_detailed(log: &str, rc: i32, env: &[(&str, &str)]) -> serde_json::Value {
    let work = tempfile::tempdir().expect("temp dir");
    std::fs::write(work.path().join("install.log"), log).expect("log");
    let out = Command::new(python())
        .arg(helper())
        .arg("classify")
        .arg(work.path())
        .arg(rc.to_string())
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kind = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let error: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(work.path().join("error.json")).expect("error.json written"),
    )
    .expect("error.json is JSON");
    assert_eq!(error["type"], kind);
    error
}

#[test]
fn each_kind_from_its_installer_output() {
    let cases: [(&str, i32, &str); 10] = [
        (
            "ERROR: HTTP error 401 while getting http://idx/simple/x/x-1.whl",
            1,
            "authentication",
        ),
        (
            "error: Failed to fetch\n  Caused by: HTTP status client error (403 Forbidden) for url",
            2,
            "authentication",
        ),
        (
            "ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE.",
            1,
            "hash_mismatch",
        ),
        (
            "ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/",
            1,
            "dependency_conflict",
        ),
        (
            "OSError: [Errno 28] No space left on device",
            1,
            "disk_full",
        ),
        ("Collecting x\n", 124, "timeout"),
        (
            "  cause: Because x was not found in the package registry and you require x, we can conclude that your requirements are unsatisfiable.",
            1,
            "package_not_found",
        ),
        (
            "WARNING: Retrying ... NewConnectionError: Failed to establish a new connection: [Errno 111] Connection refused",
            1,
            "network",
        ),
        (
            "ReadTimeoutError: HTTPConnectionPool(host=x, port=80): Read timed out. (read timeout=15)",
            1,
            "timeout",
        ),
        ("Segmentation fault", 139, "unknown"),
    ];
    for (log, rc, want) in cases {
        assert_eq!(classify(log, rc, &[]), want, "for: {log}");
    }
}

#[test]
fn ambiguous_not_found_is_resolved_by_probing_the_index() {
    let server = pypiserver();
    let not_found = "ERROR: Could not find a version that satisfies the requirement x\nERROR: No matching distribution found for x";
    let url = server.url.as_str();
    let refused = format!("http://127.0.0.1:{}/simple/", free_port());
    // pip prints the same for a 401; the probe tells them apart.
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[("INDEX_URL", url)], "authentication"),
        (
            &[
                ("INDEX_URL", url),
                ("PYPI_USERNAME", USER),
                ("PYPI_PASSWORD", "nope"),
            ],
            "authentication",
        ),
        (
            &[
                ("INDEX_URL", url),
                ("PYPI_USERNAME", USER),
                ("PYPI_PASSWORD", PASSWORD),
            ],
            "package_not_found",
        ),
        (&[("INDEX_URL", &refused)], "network"),
    ];
    for (env, want) in cases {
        assert_eq!(classify(not_found, 1, env), want, "with {env:?}");
    }
}

#[test]
fn details_are_redacted() {
    let log =
        format!("ERROR: HTTP error 401 while getting http://{USER}:secret-pw@idx/simple/x/\n");
    let error = classify_detailed(&log, 1, &[("PYPI_PASSWORD", "secret-pw")]).to_string();
    assert!(!error.contains("secret-pw"), "{error}");
    assert!(error.contains("****"), "{error}");
}
