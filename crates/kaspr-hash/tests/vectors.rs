//! Published test vectors for the packages hash. A change here is a breaking change: every app
//! would reinstall its packages after an operator upgrade.
//!
//! Each vector writes out the canonical JSON that is hashed, literally, and its expected hash.
//! Both were produced without the Rust code: the JSON was written by hand from the rules in
//! DESIGN.md section 4 (sorted keys, no whitespace, requirements in pep508_rs's canonical form,
//! deduplicated and sorted; extra index URLs sorted; trusted hosts lowercased and sorted; absent or
//! empty lists left out), and the hash is the first 16 hex characters of Python's
//! `hashlib.sha256` over it:
//!
//! ```text
//! python3 -c 'import hashlib,sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest()[:16])' \
//!     '{"installer":"pip","packages":["pkg[a,b]"]}'
//! 11705ca765680a70
//! ```
//!
//! (The script also checked that each hand-written text is already compact, key-sorted JSON, i.e.
//! `json.dumps(json.loads(s), sort_keys=True, separators=(",", ":")) == s`, with sorted lists.)
//!
//! Where a requirement's text is pep508_rs's (0.9.2) `Display` and not an obvious spelling, the
//! vector says so: that printed form is the library's canonical form, checked by printing it.

use kaspr_hash::{canonical_json, packages_hash};
use kaspr_types::PythonPackagesSpec;

fn spec(yaml: &str) -> PythonPackagesSpec {
    serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("test YAML: {e}\n{yaml}"))
}

fn hash(yaml: &str) -> String {
    packages_hash(&spec(yaml))
        .expect("valid spec hashes")
        .to_string()
}

/// Every manifest in `yamls` has exactly the canonical JSON `json`, and hashes to `expected`.
#[track_caller]
fn vector(yamls: &[&str], json: &str, expected: &str) {
    for yaml in yamls {
        assert_eq!(
            canonical_json(&spec(yaml)).expect("json"),
            json,
            "canonical JSON of:\n{yaml}"
        );
        assert_eq!(hash(yaml), expected, "hash of:\n{yaml}");
    }
}

#[test]
fn vector_single_package() {
    let s = spec("packages: [requests==2.31.0]");
    assert_eq!(
        canonical_json(&s).expect("json"),
        r#"{"installer":"pip","packages":["requests==2.31.0"]}"#
    );
    assert_eq!(hash("packages: [requests==2.31.0]"), "a38d296f011adb6e");
}

#[test]
fn vector_several_packages_sorted() {
    vector(
        &["packages: [requests==2.31.0, pandas==2.1.0, numpy==1.26.4]"],
        r#"{"installer":"pip","packages":["numpy==1.26.4","pandas==2.1.0","requests==2.31.0"]}"#,
        "5fc75930e686936f",
    );
}

#[test]
fn vector_every_hashed_field() {
    let yaml = r#"
packages: ["requests==2.31.0", "company-lib==1.0.0"]
indexUrl: https://pypi.org/simple
extraIndexUrls: [https://b.example/simple, https://a.example/simple]
trustedHosts: [pypi.company.example, A.example]
installer: uv
"#;
    assert_eq!(
        canonical_json(&spec(yaml)).expect("json"),
        concat!(
            r#"{"extraIndexUrls":["https://a.example/simple","https://b.example/simple"],"#,
            r#""indexUrl":"https://pypi.org/simple","installer":"uv","#,
            r#""packages":["company-lib==1.0.0","requests==2.31.0"],"#,
            r#""trustedHosts":["a.example","pypi.company.example"]}"#
        )
    );
    assert_eq!(hash(yaml), "334f7faaac927296");
}

#[test]
fn hash_is_sixteen_lowercase_hex() {
    let h = hash("packages: [flask]");
    assert_eq!(h.len(), 16);
    assert!(
        h.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "{h}"
    );
}

#[test]
fn order_and_spelling_do_not_matter() {
    let base = hash("packages: [requests==2.31.0, pandas>=2.0]");
    assert_eq!(
        hash("packages: [pandas>=2.0, requests==2.31.0]"),
        base,
        "list order"
    );
    assert_eq!(
        hash("packages: ['Requests == 2.31.0', 'pandas >= 2.0']"),
        base,
        "PEP 508 canonical form"
    );
    assert_eq!(
        hash("packages: [requests==2.31.0, pandas>=2.0, requests==2.31.0]"),
        base,
        "duplicates"
    );
    assert_eq!(
        hash("packages: [requests==2.31.0, Pandas>=2.0]\ninstaller: pip"),
        base,
        "explicit default installer"
    );
    // Field order in the manifest.
    let a = hash("indexUrl: https://i.example/simple\npackages: [x]\ntrustedHosts: [b, a]");
    let b = hash("trustedHosts: [a, B]\npackages: [x]\nindexUrl: https://i.example/simple");
    assert_eq!(a, b, "field order, host order and host case");
    let c = hash("packages: [x]\nextraIndexUrls: [https://b.example/s, https://a.example/s]");
    let d = hash("extraIndexUrls: [https://a.example/s, https://b.example/s]\npackages: [x]");
    assert_eq!(c, d, "extra index order");
}

#[test]
fn every_hashed_field_changes_the_hash() {
    let base = "packages: [requests==2.31.0]\nindexUrl: https://i.example/simple\n";
    let h = hash(base);
    for changed in [
        "packages: [requests==2.32.0]\nindexUrl: https://i.example/simple\n",
        "packages: [requests==2.31.0, six]\nindexUrl: https://i.example/simple\n",
        "packages: [requests]\nindexUrl: https://i.example/simple\n",
        "packages: ['requests[socks]==2.31.0']\nindexUrl: https://i.example/simple\n",
        "packages: [requests==2.31.0]\nindexUrl: https://j.example/simple\n",
        "packages: [requests==2.31.0]\n",
        &format!("{base}extraIndexUrls: [https://e.example/simple]\n"),
        &format!("{base}trustedHosts: [i.example]\n"),
        &format!("{base}installer: uv\n"),
    ] {
        assert_ne!(hash(changed), h, "no change for:\n{changed}");
    }
}

#[test]
fn credentials_policy_cache_and_resources_do_not_change_the_hash() {
    let base = "packages: [requests==2.31.0]\nindexUrl: https://i.example/simple\n";
    let h = hash(base);
    for same in [
        "credentials: {secretRef: {name: creds}}",
        "credentials: {secretRef: {name: other-creds, usernameKey: u, passwordKey: p}}",
        "installPolicy: {retries: 0, timeout: 60, onFailure: allow}",
        "cache: {enabled: true, size: 9Gi, accessMode: ReadWriteOnce, deleteClaim: false, keepEnvs: 7, storageClass: nfs}",
        "resources: {limits: {memory: 2Gi}}",
    ] {
        assert_eq!(hash(&format!("{base}{same}\n")), h, "changed by: {same}");
    }
}

#[test]
fn invalid_requirement_is_an_error_naming_its_index() {
    let err = packages_hash(&spec("packages: [ok, '-e .']")).expect_err("invalid");
    assert_eq!(
        err.to_string(),
        "spec.pythonPackages.packages[1] is not a PEP 508 requirement"
    );
}

// --- Requirements: extras, markers, specifiers, URLs, names ---

#[test]
fn vector_extras_are_a_set() {
    // pep508_rs lowercases extras but prints them in the order written and keeps repeats;
    // kaspr-hash sorts and deduplicates them, so all of these are `pkg[a,b]`.
    vector(
        &[
            "packages: ['pkg[a,b]']",
            "packages: ['pkg[b,a]']",
            "packages: ['PKG[ B , a ]']",
            "packages: ['pkg[a,b,a]']",
            "packages: ['pkg[b,a]', 'pkg[a,b]']",
        ],
        r#"{"installer":"pip","packages":["pkg[a,b]"]}"#,
        "11705ca765680a70",
    );
}

#[test]
fn vector_marker() {
    // pep508_rs's canonical form: ` ; ` before the marker, single quotes, and `python_version`
    // rewritten as `python_full_version`.
    vector(
        &[
            r#"packages: ['pkg; python_version >= "3.9"']"#,
            r#"packages: ['pkg ; python_version >= "3.9"']"#,
            r#"packages: ["pkg;python_version>='3.9'"]"#,
        ],
        r#"{"installer":"pip","packages":["pkg ; python_full_version >= '3.9'"]}"#,
        "15fc4e683cd39e8f",
    );
}

#[test]
fn vector_marker_conjunction_and_specifier() {
    // pep508_rs's canonical form orders the terms of an `and`.
    vector(
        &[
            r#"packages: ['pkg>=1; python_version >= "3.9" and sys_platform == "linux"']"#,
            r#"packages: ['pkg >= 1 ; sys_platform == "linux" and python_version >= "3.9"']"#,
        ],
        r#"{"installer":"pip","packages":["pkg>=1 ; python_full_version >= '3.9' and sys_platform == 'linux'"]}"#,
        "326424b607993587",
    );
}

#[test]
fn vector_several_specifiers() {
    // pep508_rs's canonical form: no spaces, specifiers in its own order (`>=1,!=1.5,<2`)
    // whatever order they were written in.
    vector(
        &[
            "packages: ['pkg>=1,<2,!=1.5']",
            "packages: ['pkg >= 1, < 2, != 1.5']",
            "packages: ['pkg<2,!=1.5,>=1']",
            "packages: ['pkg (>=1,<2,!=1.5)']",
        ],
        r#"{"installer":"pip","packages":["pkg>=1,!=1.5,<2"]}"#,
        "55cfa94c3d5b8acc",
    );
}

#[test]
fn vector_wheel_url() {
    // pep508_rs's canonical form: ` @ ` around the URL; the URL itself is kept verbatim.
    vector(
        &[
            "packages: ['pkg @ https://host/pkg-1.0-py3-none-any.whl']",
            "packages: ['pkg@https://host/pkg-1.0-py3-none-any.whl']",
            "packages: ['Pkg @ https://host/pkg-1.0-py3-none-any.whl']",
        ],
        r#"{"installer":"pip","packages":["pkg @ https://host/pkg-1.0-py3-none-any.whl"]}"#,
        "82a936cb68993c23",
    );
}

#[test]
fn vector_git_url() {
    vector(
        &[
            "packages: ['pkg @ git+https://github.com/org/repo@v1']",
            "packages: ['pkg@git+https://github.com/org/repo@v1']",
            "packages: ['PKG @ git+https://github.com/org/repo@v1']",
        ],
        r#"{"installer":"pip","packages":["pkg @ git+https://github.com/org/repo@v1"]}"#,
        "37a37da0ab09fab3",
    );
    assert_ne!(
        hash("packages: ['pkg @ git+https://github.com/org/repo@v2']"),
        "37a37da0ab09fab3",
        "another ref is another environment"
    );
}

#[test]
fn vector_url_with_extras_and_marker() {
    // A marker after a URL needs whitespace before `;` (PEP 508), else it is part of the URL.
    vector(
        &[
            r#"packages: ['PKG[x,A] @ https://host/pkg-1.0-py3-none-any.whl ; python_version >= "3.9"']"#,
            r#"packages: ['pkg[a,x]@https://host/pkg-1.0-py3-none-any.whl ;python_version>="3.9"']"#,
        ],
        r#"{"installer":"pip","packages":["pkg[a,x] @ https://host/pkg-1.0-py3-none-any.whl ; python_full_version >= '3.9'"]}"#,
        "d658ae59cd178a57",
    );
}

#[test]
fn vector_name_normalisation() {
    // PEP 503 names: lowercase, runs of `-`, `_` and `.` become one `-`.
    vector(
        &[
            "packages: [foo-bar]",
            "packages: [Foo_Bar]",
            "packages: [Foo.Bar]",
            "packages: [FOO__bar]",
            "packages: [Foo_Bar, foo-bar]",
        ],
        r#"{"installer":"pip","packages":["foo-bar"]}"#,
        "b16be91fc247edad",
    );
}

#[test]
fn vector_sorted_by_canonical_text_and_deduplicated() {
    // Sorted by the bytes of the canonical text: `pkg ;` < `pkg @` < `pkg>` < `pkg[` (space, then
    // `;` 0x3b < `@` 0x40; `>` 0x3e < `[` 0x5b), so no two spellings of one list differ.
    let forward = r#"
packages:
  - zeta == 1
  - 'pkg[a]'
  - pkg>=1
  - 'pkg @ https://host/pkg-1.0-py3-none-any.whl'
  - 'pkg; python_version >= "3.9"'
  - alpha
  - Zeta==1
  - 'PKG[A]'
"#;
    let backward = r#"
packages:
  - 'PKG[A]'
  - Zeta==1
  - alpha
  - "pkg;python_version>='3.9'"
  - 'pkg@https://host/pkg-1.0-py3-none-any.whl'
  - pkg >= 1
  - 'pkg[a]'
  - zeta==1
  - alpha
"#;
    vector(
        &[forward, backward],
        concat!(
            r#"{"installer":"pip","packages":["alpha","pkg ; python_full_version >= '3.9'","#,
            r#""pkg @ https://host/pkg-1.0-py3-none-any.whl","pkg>=1","pkg[a]","zeta==1"]}"#
        ),
        "f3d74c3b64388c1d",
    );
}

// --- Index fields and installer ---

#[test]
fn vector_installer_absent_is_pip_and_empty_lists_are_left_out() {
    // `installer` has a default, so it is never absent from the JSON: absent means `pip`.
    vector(
        &[
            "packages: [requests==2.31.0]",
            "packages: [requests==2.31.0]\ninstaller: pip",
            "packages: [requests==2.31.0]\nextraIndexUrls: []\ntrustedHosts: []",
        ],
        r#"{"installer":"pip","packages":["requests==2.31.0"]}"#,
        "a38d296f011adb6e",
    );
}

#[test]
fn vector_installer_uv() {
    vector(
        &["packages: [requests==2.31.0]\ninstaller: uv"],
        r#"{"installer":"uv","packages":["requests==2.31.0"]}"#,
        "2d6447aa2ab00bd3",
    );
}

#[test]
fn vector_image_packages_override_is_hashed_and_protect_is_left_out() {
    // protect is the default and hashes as before the field existed (a38d296f011adb6e);
    // override builds a different env, so it is another hash (python3 hashlib, as above).
    vector(
        &["packages: [requests==2.31.0]\nimagePackages: protect"],
        r#"{"installer":"pip","packages":["requests==2.31.0"]}"#,
        "a38d296f011adb6e",
    );
    vector(
        &["packages: [requests==2.31.0]\nimagePackages: override"],
        r#"{"imagePackages":"override","installer":"pip","packages":["requests==2.31.0"]}"#,
        "c8cbe3f806cb0d91",
    );
}

#[test]
fn vector_index_url() {
    vector(
        &[
            "packages: [requests==2.31.0]\nindexUrl: https://pypi.example/simple",
            "indexUrl: https://pypi.example/simple\npackages: ['Requests == 2.31.0']",
        ],
        r#"{"indexUrl":"https://pypi.example/simple","installer":"pip","packages":["requests==2.31.0"]}"#,
        "4dffaf9340a1ba03",
    );
}

#[test]
fn vector_extra_index_urls_sorted_not_lowercased() {
    // URLs are sorted as written (`A` 0x41 < `b` 0x62); only trusted hosts are lowercased.
    vector(
        &[
            "packages: [requests==2.31.0]\nextraIndexUrls: [https://b.example/simple, https://A.example/simple]",
            "packages: [requests==2.31.0]\nextraIndexUrls: [https://A.example/simple, https://b.example/simple]",
        ],
        concat!(
            r#"{"extraIndexUrls":["https://A.example/simple","https://b.example/simple"],"#,
            r#""installer":"pip","packages":["requests==2.31.0"]}"#
        ),
        "685fc37a12a2daf4",
    );
}

#[test]
fn vector_trusted_hosts_lowercased_then_sorted() {
    // Sorting before lowercasing would put `C.example:8443` first.
    vector(
        &[
            "packages: [requests==2.31.0]\ntrustedHosts: [b.example, C.example:8443, a.example]",
            "packages: [requests==2.31.0]\ntrustedHosts: ['C.EXAMPLE:8443', A.example, b.example]",
        ],
        concat!(
            r#"{"installer":"pip","packages":["requests==2.31.0"],"#,
            r#""trustedHosts":["a.example","b.example","c.example:8443"]}"#
        ),
        "eb8ef33fdb401b6f",
    );
}

#[test]
fn vector_full_spec_ignores_credentials_policy_cache_and_resources() {
    let base = r#"
packages:
  - 'pkg[b,a]>=1,<2,!=1.5; python_version >= "3.9"'
  - 'pkg2 @ git+https://github.com/org/repo@v1'
indexUrl: https://pypi.example/simple
extraIndexUrls: [https://extra.example/simple]
trustedHosts: [PyPI.example]
installer: uv
"#;
    let with = |extra: &str| format!("{base}{extra}\n");
    let yamls = [
        base.to_owned(),
        with("credentials: {secretRef: {name: creds}}"),
        with("credentials: {secretRef: {name: rotated, usernameKey: u, passwordKey: p}}"),
        with("installPolicy: {retries: 0, timeout: 60, onFailure: allow}"),
        with(
            "cache: {enabled: true, size: 9Gi, accessMode: ReadWriteOnce, deleteClaim: false, keepEnvs: 7, storageClass: nfs}",
        ),
        with("resources: {limits: {memory: 2Gi}, requests: {cpu: 100m}}"),
    ];
    vector(
        &yamls.iter().map(String::as_str).collect::<Vec<_>>(),
        concat!(
            r#"{"extraIndexUrls":["https://extra.example/simple"],"#,
            r#""indexUrl":"https://pypi.example/simple","installer":"uv","#,
            r#""packages":["pkg2 @ git+https://github.com/org/repo@v1","#,
            r#""pkg[a,b]>=1,!=1.5,<2 ; python_full_version >= '3.9'"],"#,
            r#""trustedHosts":["pypi.example"]}"#
        ),
        "f20b6386fde7de35",
    );
}
