//! Published test vectors for the packages hash. A change here is a breaking change: every app
//! would reinstall its packages after an operator upgrade.
//!
//! Each vector writes out the canonical JSON that is hashed, literally, and its expected hash.
//! Both were produced without the Rust code: the JSON was written by hand from the rules in the
//! crate docs and `docs/api.md` (sorted keys, no whitespace, requirements in pep508_rs's canonical
//! form, deduplicated and sorted; extra index URLs sorted; trusted hosts lowercased and sorted;
//! absent or empty lists left out), and the hash is the first 16 hex characters of Python's
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

mod support;

use kaspr_hash::canonical_json;
use kaspr_test_support::app::python_packages as spec;
use support::{hash, vector};

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
