//! The rules of each `pythonPackages` field: valid inputs pass, each invalid one fails naming its
//! field path and saying what would be accepted.

use kaspr_test_support::check::{assert_rejected, assert_valid, errors};

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
    // The case from the issue: 200 long requirements, each within the per-item limit (1,000
    // characters; over 1,024 the item itself is refused, as by the schema's maxLength).
    let long = format!("  packages: {:?}\n", requirements_of_bytes(200, 200_000));
    assert_rejected(&long, path, &["200000 bytes"]);
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
    // A repeat is accepted, as upstream accepted it, and used once (see `repeats_are_used_once`).
    assert_valid(&case(
        r#"["https://a.example/simple", "https://a.example/simple"]"#,
    ));
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
    assert_valid(&case(r#"["Pypi.Example.com", "pypi.example.com"]"#));
}

#[test]
fn repeats_are_used_once_with_a_warning() {
    let spec = kaspr_test_support::app::spec_with_python_packages(
        "  packages: [requests]\n  extraIndexUrls: [https://a.example/simple, https://b.example/simple, https://a.example/simple]\n  trustedHosts: [Pypi.Example.com, pypi.example.com, b.example]\n",
    );
    let pp = spec.python_packages.as_ref().expect("packages");
    assert_eq!(
        pp.distinct_extra_index_urls(),
        ["https://a.example/simple", "https://b.example/simple"]
    );
    assert_eq!(
        pp.distinct_trusted_hosts(),
        ["Pypi.Example.com", "b.example"]
    );
    let warnings = spec.warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w
                .starts_with("spec.pythonPackages.extraIndexUrls lists an entry more than once")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(
            |w| w.starts_with("spec.pythonPackages.trustedHosts lists an entry more than once")
        ),
        "{warnings:?}"
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
fn git_requirements_in_every_form_upstream_accepts() {
    for req in [
        "acme-lib @ git+https://github.com/acme/lib.git@v1.2.3",
        "acme-lib @ git+ssh://git@github.com/acme/lib.git@v1.2.3",
        // pip's legacy form, as in upstream's github-ssh-deploy-key example
        "git+ssh://git@github.com/my-org/private-package.git@v1.2.3#egg=private-package",
        "git+https://github.com/acme/mono.git#egg=acme-sub&subdirectory=python/sub",
    ] {
        assert_valid(&format!("    packages: [\"{req}\"]\n"));
    }
    // A password is a credential whatever the scheme; an https user too (it is how tokens go).
    assert_rejected(
        "    packages: [\"git+ssh://git:hunter2@github.com/acme/lib.git#egg=lib\"]\n",
        "spec.pythonPackages.packages[0]",
        &["credentials"],
    );
    assert_rejected(
        "    packages: [\"lib @ git+https://ghp_token@github.com/acme/lib.git\"]\n",
        "spec.pythonPackages.packages[0]",
        &["credentials"],
    );
    // A bare URL without #egg= names no package: pip needs the name.
    assert_rejected(
        "    packages: [\"git+https://github.com/acme/lib.git\"]\n",
        "spec.pythonPackages.packages[0]",
        &["PEP 508"],
    );
}

#[test]
fn the_legacy_egg_form_is_the_same_requirement_as_its_pep_508_form() {
    use kaspr_types::requirement::normalize;
    assert_eq!(
        normalize("git+ssh://git@github.com/my-org/private-package.git@v1.2.3#egg=private-package"),
        "private-package @ git+ssh://git@github.com/my-org/private-package.git@v1.2.3"
    );
    assert_eq!(
        normalize("git+https://github.com/acme/mono.git#egg=acme-sub&subdirectory=python/sub"),
        "acme-sub @ git+https://github.com/acme/mono.git#subdirectory=python/sub"
    );
    assert_eq!(normalize(" requests==2.31.0\t"), "requests==2.31.0");
    assert_eq!(
        normalize("git+https://github.com/acme/lib.git"),
        "git+https://github.com/acme/lib.git",
        "no egg: left for the parser to refuse with its message"
    );
}
