//! What no error message may repeat: control characters and line separators (in any user string)
//! and credentials (in requirements, index URLs and trusted hosts).

use kaspr_test_support::app::spec_with_python_packages as spec_with;
use kaspr_test_support::check::{errors, errors_at};
use kaspr_types::KasprAppSpec;

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
            "spec.pythonPackages.extraIndexUrls[0]",
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
            "spec.pythonPackages.trustedHosts[0]",
        ));
    }
    for (yaml, path) in cases {
        let errs = errors(&yaml);
        assert!(
            !errors_at(&errs, path).is_empty(),
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
