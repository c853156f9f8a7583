//! Every validation rule: valid inputs pass, each invalid one fails naming its field path.

use kaspr_types::{KasprAppSpec, ValidationErrors};

/// A spec with `pythonPackages` given as YAML (indented under `pythonPackages:`).
fn spec_with(python_packages: &str) -> KasprAppSpec {
    let yaml = format!("bootstrapServers: kafka:9092\npythonPackages:\n{python_packages}");
    serde_yaml::from_str(&yaml).unwrap_or_else(|e| panic!("test YAML must parse: {e}\n{yaml}"))
}

fn errors(python_packages: &str) -> ValidationErrors {
    match spec_with(python_packages).check() {
        Ok(()) => panic!("expected a validation error for:\n{python_packages}"),
        Err(e) => e,
    }
}

/// Asserts exactly one error, at `path`, whose message contains each of `needles`.
fn assert_rejected(python_packages: &str, path: &str, needles: &[&str]) {
    let errs = errors(python_packages);
    assert_eq!(errs.0.len(), 1, "one error expected, got: {errs}");
    let e = &errs.0[0];
    assert_eq!(e.path, path, "wrong path in: {e}");
    for n in needles {
        assert!(e.message.contains(n), "message {:?} lacks {n:?}", e.message);
    }
}

fn assert_valid(python_packages: &str) {
    if let Err(e) = spec_with(python_packages).check() {
        panic!("expected valid, got: {e}\n{python_packages}");
    }
}

#[test]
fn valid_requirements_pass() {
    for req in [
        "requests",
        "requests==2.31.0",
        "Requests == 2.31.0",
        "pandas>=2.0,<3",
        "uvicorn[standard]>=0.24",
        "importlib-metadata; python_version < '3.10'",
        "pkg @ https://files.example.com/pkg-1.0-py3-none-any.whl",
        "zope.interface~=6.0",
    ] {
        assert_valid(&format!("  packages: [{req:?}]\n"));
    }
}

#[test]
fn requirement_rules() {
    let p = "spec.pythonPackages.packages[1]";
    let case = |bad: &str| format!("  packages: [\"ok\", {bad:?}]\n");
    assert_rejected(
        &case("--index-url http://evil/simple"),
        p,
        &["installer option", "indexUrl"],
    );
    assert_rejected(&case("-e ."), p, &["installer option"]);
    assert_rejected(&case(""), p, &["empty requirement"]);
    assert_rejected(&case("   "), p, &["empty requirement"]);
    assert_rejected(&case("requests\nflask"), p, &["line break U+000A"]);
    assert_rejected(
        &case("requests==="),
        p,
        &["not a PEP 508 requirement", "\"requests===\""],
    );
    assert_rejected(&case("$(touch /tmp/x)"), p, &["not a PEP 508 requirement"]);
    assert_rejected(
        &case("requests; rm -rf /"),
        p,
        &["not a PEP 508 requirement"],
    );
    assert_rejected(&case("`id`"), p, &["not a PEP 508 requirement"]);
    // A credential in a direct URL is refused and not repeated in the message.
    let errs = errors(&case("pkg @ https://bob:s3cret@files.example.com/pkg.whl"));
    assert_eq!(errs.0[0].path, p);
    assert!(errs.0[0].message.contains("credentials"), "{errs}");
    assert!(
        !errs.to_string().contains("s3cret"),
        "credential leaked: {errs}"
    );
}

#[test]
fn package_count_rules() {
    assert_rejected(
        "  packages: []\n",
        "spec.pythonPackages.packages",
        &["0 packages", "between 1 and 200"],
    );
    let many: Vec<String> = (0..201).map(|i| format!("pkg{i}")).collect();
    assert_rejected(
        &format!("  packages: {many:?}\n"),
        "spec.pythonPackages.packages",
        &["201 packages"],
    );
    let max: Vec<String> = (0..200).map(|i| format!("pkg{i}")).collect();
    assert_valid(&format!("  packages: {max:?}\n"));
}

#[test]
fn index_url_rules() {
    let path = "spec.pythonPackages.indexUrl";
    let case = |url: &str| format!("  packages: [requests]\n  indexUrl: {url:?}\n");
    assert_valid(&case("https://pypi.example.com/simple"));
    assert_valid(&case("http://10.0.0.5:8080/simple/"));
    assert_rejected(
        &case("ftp://x"),
        path,
        &["\"ftp\" is not supported", "https://"],
    );
    assert_rejected(&case("not a url"), path, &["whitespace"]);
    assert_rejected(&case("pypi.example.com/simple"), path, &["not a URL"]);
    assert_rejected(
        &case("https://pypi.example.com/simple#frag"),
        path,
        &["fragment"],
    );
    assert_rejected(&case("https:///simple"), path, &["no host"]);
    let errs = errors(&case("https://alice:hunter2@pypi.example.com/simple"));
    assert_eq!(errs.0[0].path, path);
    assert!(
        errs.0[0].message.contains("credentials.secretRef"),
        "{errs}"
    );
    assert!(
        errs.0[0].message.contains("****@pypi.example.com"),
        "{errs}"
    );
    assert!(
        !errs.to_string().contains("hunter2") && !errs.to_string().contains("alice"),
        "{errs}"
    );
}

#[test]
fn extra_index_url_rules() {
    let case = |urls: &str| format!("  packages: [requests]\n  extraIndexUrls: {urls}\n");
    assert_valid(&case(
        r#"["https://a.example/simple", "https://b.example/simple"]"#,
    ));
    assert_rejected(
        &case(r#"["https://a.example/simple", "ftp://b.example"]"#),
        "spec.pythonPackages.extraIndexUrls[1]",
        &["scheme"],
    );
    assert_rejected(
        &case(r#"["https://a.example/simple", "https://a.example/simple"]"#),
        "spec.pythonPackages.extraIndexUrls",
        &["more than once"],
    );
    assert_rejected(
        &case(r#"["https://a.example/$(touch /tmp/x) x"]"#),
        "spec.pythonPackages.extraIndexUrls[0]",
        &["whitespace"],
    );
}

#[test]
fn trusted_host_rules() {
    let case = |hosts: &str| format!("  packages: [requests]\n  trustedHosts: {hosts}\n");
    assert_valid(&case(
        r#"["pypi.example.com", "10.0.0.5:8080", "[::1]:3141", "localhost"]"#,
    ));
    for bad in [
        "https://pypi.example.com",
        "pypi.example.com/simple",
        "-bad.example",
        "host:0",
        "host:99999",
        "a b",
        "[zz]",
        "host;id",
    ] {
        assert_rejected(
            &case(&format!("[{bad:?}]")),
            "spec.pythonPackages.trustedHosts[0]",
            &["is not a host", "hostname or IP"],
        );
    }
    assert_rejected(
        &case(r#"["Pypi.Example.com", "pypi.example.com"]"#),
        "spec.pythonPackages.trustedHosts",
        &["more than once"],
    );
}

#[test]
fn credentials_rules() {
    let with_index = "  packages: [requests]\n  indexUrl: https://pypi.example.com/simple\n";
    assert_valid(&format!(
        "{with_index}  credentials: {{secretRef: {{name: pypi-creds}}}}\n"
    ));
    assert_valid(&format!(
        "{with_index}  credentials: {{secretRef: {{name: a.b-c, usernameKey: user_name, passwordKey: .pass}}}}\n"
    ));
    assert_rejected(
        &format!("{with_index}  credentials: {{secretRef: {{name: Pypi_Creds}}}}\n"),
        "spec.pythonPackages.credentials.secretRef.name",
        &["\"Pypi_Creds\"", "DNS-1123"],
    );
    assert_rejected(
        &format!(
            "{with_index}  credentials: {{secretRef: {{name: x, passwordKey: \"pass word\"}}}}\n"
        ),
        "spec.pythonPackages.credentials.secretRef.passwordKey",
        &["not a valid Secret key"],
    );
    assert_rejected(
        "  packages: [requests]\n  credentials: {secretRef: {name: pypi-creds}}\n",
        "spec.pythonPackages.credentials",
        &["requires indexUrl"],
    );
}

#[test]
fn install_policy_rules() {
    let case = |policy: &str| format!("  packages: [requests]\n  installPolicy: {policy}\n");
    assert_valid(&case("{retries: 0, timeout: 10}"));
    assert_valid(&case("{retries: 10, timeout: 86400, onFailure: allow}"));
    assert_rejected(
        &case("{retries: 11}"),
        "spec.pythonPackages.installPolicy.retries",
        &["11", "0 to 10"],
    );
    assert_rejected(
        &case("{timeout: 9}"),
        "spec.pythonPackages.installPolicy.timeout",
        &["10 to 86400"],
    );
    assert_rejected(
        &case("{timeout: 86401}"),
        "spec.pythonPackages.installPolicy.timeout",
        &["86401"],
    );
    assert_rejected(
        "  packages: [requests]\n  cache: {keepEnvs: 51}\n",
        "spec.pythonPackages.cache.keepEnvs",
        &["0 to 50"],
    );
}

#[test]
fn enums_and_unknown_fields_are_refused_when_parsing() {
    for (yaml, needle) in [
        (
            "  packages: [a]\n  installPolicy: {onFailure: warn}\n",
            "warn",
        ),
        ("  packages: [a]\n  installer: conda\n", "conda"),
        (
            "  packages: [a]\n  cache: {accessMode: ReadOnlyMany}\n",
            "ReadOnlyMany",
        ),
        ("  packages: [a]\n  bogus: 1\n", "bogus"),
        ("  packages: [a]\n  installPolicy: {retries: -1}\n", "-1"),
    ] {
        let text = format!("bootstrapServers: k:9092\npythonPackages:\n{yaml}");
        let err = serde_yaml::from_str::<KasprAppSpec>(&text)
            .expect_err(yaml)
            .to_string();
        assert!(err.contains(needle), "{err}");
    }
}

#[test]
fn defaults_are_applied() {
    let spec = spec_with("  packages: [requests]\n  credentials: {secretRef: {name: s}}\n");
    let pp = spec.python_packages.expect("pythonPackages");
    assert_eq!(
        pp.install_policy.retries,
        kaspr_types::defaults::INSTALL_RETRIES
    );
    assert_eq!(pp.install_policy.attempts(), 4);
    assert_eq!(pp.install_policy.timeout, 600);
    assert_eq!(pp.install_policy.on_failure, kaspr_types::OnFailure::Block);
    assert_eq!(pp.installer, kaspr_types::Installer::Pip);
    assert!(!pp.cache.enabled);
    assert_eq!(pp.cache.size, "1Gi");
    assert_eq!(
        pp.cache.access_mode,
        kaspr_types::CacheAccessMode::ReadWriteMany
    );
    assert!(pp.cache.delete_claim);
    assert_eq!(pp.cache.keep_envs, 2);
    let creds = pp.credentials.expect("credentials");
    assert_eq!(creds.secret_ref.username_key, "username");
    assert_eq!(creds.secret_ref.password_key, "password");
}

#[test]
fn several_errors_are_all_reported_sorted_by_path() {
    let errs = errors(
        "  packages: [\"-e .\"]\n  indexUrl: ftp://x\n  trustedHosts: [\"a b\"]\n  installPolicy: {retries: 99}\n",
    );
    let paths: Vec<&str> = errs.0.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "spec.pythonPackages.indexUrl",
            "spec.pythonPackages.installPolicy.retries",
            "spec.pythonPackages.packages[0]",
            "spec.pythonPackages.trustedHosts[0]",
        ]
    );
    assert_eq!(errs.to_string().lines().count(), 4);
}

#[test]
fn warnings() {
    let mut spec =
        spec_with("  packages: [a]\n  cache: {enabled: true, accessMode: ReadWriteOnce}\n");
    spec.replicas = Some(3);
    spec.image = Some("registry.example/kaspr:custom".into());
    let w = spec.warnings();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].contains("spec.image"));
    assert!(w[1].contains("ReadWriteOnce with 3 replicas"));
    spec.replicas = Some(1);
    spec.image = None;
    assert!(spec.warnings().is_empty());
}

#[test]
fn unknown_spec_fields_are_kept_and_refused() {
    let spec: KasprAppSpec =
        serde_yaml::from_str("bootstrapServers: k:9092\npythonPackage: {a: 1}\n").expect("parses");
    let errs = spec.check().expect_err("unknown field");
    assert_eq!(errs.0.len(), 1);
    assert_eq!(errs.0[0].path, "spec.pythonPackage");
    assert!(errs.0[0].message.contains("unknown field"));
    let back = serde_json::to_value(&spec).expect("serialises");
    assert_eq!(back["pythonPackage"]["a"], 1, "kept, not lost");
}

/// `n` valid, distinct requirements whose text joined with "\n" is exactly `total` bytes.
fn requirements_of_bytes(n: usize, total: usize) -> Vec<String> {
    let text = total - (n - 1);
    (0..n)
        .map(|i| {
            let len = text / n + usize::from(i < text % n);
            format!("pkg{i:03}{}", "x".repeat(len - 6))
        })
        .collect()
}

#[test]
fn packages_text_is_limited_to_32_kib() {
    let path = "spec.pythonPackages.packages";
    let list = |total| format!("  packages: {:?}\n", requirements_of_bytes(40, total));
    assert_eq!(requirements_of_bytes(40, 32_768).join("\n").len(), 32_768);
    assert_valid(&list(32_768));
    assert_rejected(
        &list(32_769),
        path,
        &[
            "32769 bytes",
            "limit of 32768 bytes",
            "128 KiB",
            "E2BIG",
            "meta-package",
        ],
    );
    // The case from the issue: 200 long requirements, each within the per-item limit.
    assert_rejected(&list(200_000), path, &["200000 bytes"]);
}

/// Every user string of pythonPackages, with the path its error must name, set to `value`.
fn spec_with_string(field: &str, value: &str) -> (KasprAppSpec, &'static str) {
    let mut spec = spec_with(
        "  packages: [requests, flask]\n  indexUrl: https://pypi.example.com/simple\n  \
         extraIndexUrls: [https://a.example/simple, https://b.example/simple]\n  \
         trustedHosts: [a.example]\n  credentials: {secretRef: {name: creds}}\n  \
         cache: {enabled: true, storageClass: fast}\n",
    );
    let pp = spec.python_packages.as_mut().expect("pythonPackages");
    let secret = &mut pp.credentials.as_mut().expect("credentials").secret_ref;
    let (slot, path) = match field {
        "packages" => (&mut pp.packages[1], "spec.pythonPackages.packages[1]"),
        "indexUrl" => (
            pp.index_url.as_mut().expect("indexUrl"),
            "spec.pythonPackages.indexUrl",
        ),
        "extraIndexUrls" => (
            &mut pp.extra_index_urls[1],
            "spec.pythonPackages.extraIndexUrls[1]",
        ),
        "trustedHosts" => (
            &mut pp.trusted_hosts[0],
            "spec.pythonPackages.trustedHosts[0]",
        ),
        "name" => (
            &mut secret.name,
            "spec.pythonPackages.credentials.secretRef.name",
        ),
        "usernameKey" => (
            &mut secret.username_key,
            "spec.pythonPackages.credentials.secretRef.usernameKey",
        ),
        "passwordKey" => (
            &mut secret.password_key,
            "spec.pythonPackages.credentials.secretRef.passwordKey",
        ),
        "storageClass" => (
            pp.cache.storage_class.as_mut().expect("storageClass"),
            "spec.pythonPackages.cache.storageClass",
        ),
        "size" => (&mut pp.cache.size, "spec.pythonPackages.cache.size"),
        other => panic!("no field {other}"),
    };
    slot.push_str(value);
    (spec, path)
}

#[test]
fn control_characters_and_separators_are_refused_in_every_string() {
    let fields = [
        "packages",
        "indexUrl",
        "extraIndexUrls",
        "trustedHosts",
        "name",
        "usernameKey",
        "passwordKey",
        "storageClass",
        "size",
    ];
    let chars = [
        ('\u{0}', "U+0000"),
        ('\t', "U+0009"),
        ('\n', "U+000A"),
        ('\r', "U+000D"),
        ('\u{b}', "U+000B"),
        ('\u{1c}', "U+001C"),
        ('\u{1f}', "U+001F"),
        ('\u{7f}', "U+007F"),
        ('\u{85}', "U+0085"),
        ('\u{9f}', "U+009F"),
        ('\u{2028}', "U+2028"),
        ('\u{2029}', "U+2029"),
    ];
    for field in fields {
        // Unchanged, the spec is valid: every error below comes from the character.
        let (spec, _) = spec_with_string(field, "");
        assert!(spec.check().is_ok(), "{field}: {:?}", spec.check());
        for (c, escape) in chars {
            // Placed where the issue saw it do harm: a second requirement after the separator.
            let (spec, path) = spec_with_string(field, &format!("{c}evil==1.0"));
            let errs = spec.check().expect_err(escape);
            assert_eq!(errs.0.len(), 1, "{field} {escape}: {errs}");
            assert_eq!(errs.0[0].path, path, "{errs}");
            let text = errs.to_string();
            assert!(text.contains(escape), "{field}: {text}");
            assert!(!text.contains(c), "raw character printed: {text:?}");
            assert!(!text.contains("evil"), "value printed: {text:?}");
        }
    }
}

#[test]
fn dollar_brace_is_refused_in_requirements() {
    let p = "spec.pythonPackages.packages[1]";
    let case = |bad: &str| format!("  packages: [\"ok\", {bad:?}]\n");
    for bad in [
        "pkg @ https://files.example.com/${PYPI_PASSWORD}/pkg-1.0-py3-none-any.whl",
        "requests==${VERSION}",
        "requests; python_version > \"${X}\"",
        "pkg @ https://files.example.com/${x",
    ] {
        assert_rejected(&case(bad), p, &["\"${\"", "installer's environment"]);
    }
    // A lone `$` is no expansion and stays valid where PEP 508 allows it.
    assert_valid(&case(
        "pkg @ https://files.example.com/$pkg-1.0-py3-none-any.whl",
    ));
}

#[test]
fn text_after_a_url_requirement_is_refused() {
    let p = "spec.pythonPackages.packages[1]";
    let case = |req: &str| format!("  packages: [\"ok\", {req:?}]\n");
    let url = "pkg @ https://files.example.com/pkg-1.0-py3-none-any.whl";
    assert_valid(&case(url));
    assert_valid(&case(&format!("{url} ; python_version >= '3.8'")));
    assert_valid(&case(&format!("{url}  ")));
    for tail in [
        " junk",
        " junk ; python_version >= '3.8'",
        " --hash=sha256:ab",
    ] {
        assert_rejected(&case(&format!("{url}{tail}")), p, &["text after its URL"]);
    }
    assert_rejected(&case(&format!("{url} # note")), p, &["not a PEP 508"]);
}

/// A YAML scalar holding `s` exactly: JSON string escapes are valid YAML.
fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|e| panic!("a string serialises: {e}"))
}

#[test]
fn credentials_never_appear_in_errors() {
    let reqs = [
        "pkg @ https://user:secret@files.example.com/pkg.whl",
        "pkg @ https://secret@files.example.com/pkg.whl",
        "pkg@https://secret:secret@files.example.com/pkg.whl",
        "pkg @ https://user:secret@files.example.com/pkg.whl junk",
        "pkg @ https://user:secret@files.example.com:99999/pkg.whl",
        "pkg @ https://user:secret@files.example.com/${X}.whl",
        "pkg @ https://user:secret@files.example.com/pkg.whl\u{1c}x",
        "pkg @ user:secret@files.example.com/pkg.whl",
        "pkg @ https://user:pa ss secret@files.example.com/pkg.whl",
        "-e git+https://user:secret@git.example.com/repo",
    ];
    let urls = [
        "https://user:secret@pypi.example.com/simple",
        "https://secret@pypi.example.com/simple",
        "https://user:secret@pypi.example.com:99999/simple",
        "https://user:secret@pypi.example.com/sim ple",
        "https://user:secret@/simple",
        "https://user:secret@pypi.example.com/simple#frag",
        "ftp://user:secret@pypi.example.com/simple",
        "user:secret@pypi.example.com/simple",
        "secret@pypi.example.com/simple",
        "https://user:se/secret@pypi.example.com/simple",
    ];
    let hosts = [
        "user:secret@pypi.example.com",
        "secret@pypi.example.com",
        "https://user:secret@pypi.example.com",
        "secret@pypi.example.com:8080",
    ];
    let mut cases: Vec<(String, &str)> = Vec::new();
    for r in reqs {
        cases.push((
            format!("  packages: [ok, {}]\n", yaml_str(r)),
            "spec.pythonPackages.packages[1]",
        ));
    }
    for u in urls {
        let base = "  packages: [ok]\n";
        cases.push((
            format!("{base}  indexUrl: {}\n", yaml_str(u)),
            "spec.pythonPackages.indexUrl",
        ));
        cases.push((
            format!(
                "{base}  extraIndexUrls: [https://a.example/simple, {}]\n",
                yaml_str(u)
            ),
            "spec.pythonPackages.extraIndexUrls[1]",
        ));
        cases.push((
            format!("{base}  extraIndexUrls: [{0}, {0}]\n", yaml_str(u)),
            "spec.pythonPackages.extraIndexUrls",
        ));
    }
    for h in hosts {
        let base = "  packages: [ok]\n";
        cases.push((
            format!("{base}  trustedHosts: [{}]\n", yaml_str(h)),
            "spec.pythonPackages.trustedHosts[0]",
        ));
        cases.push((
            format!("{base}  trustedHosts: [{0}, {0}]\n", yaml_str(h)),
            "spec.pythonPackages.trustedHosts",
        ));
    }
    for (yaml, path) in cases {
        let errs = errors(&yaml);
        assert!(
            !errs.at(path).is_empty(),
            "no error at {path}: {errs}\n{yaml}"
        );
        // `credentials.secretRef` is the one place the word may appear: it names a field.
        let text = errs.to_string().replace("secretRef", "");
        assert!(
            !text.contains("secret"),
            "credential leaked: {text}\n{yaml}"
        );
    }
}
