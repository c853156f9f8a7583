//! `KasprAppSpec::check` refuses everything the generated CRD's OpenAPI schema refuses, so that
//! `render` (offline) never accepts what the API server would not.
//!
//! The test walks the schema of `kaspr_types::crd()` itself: for every constraint under `spec`
//! (`pattern`, `minLength`/`maxLength`, `minimum`/`maximum`, `minItems`/`maxItems`, `enum`,
//! `x-kubernetes-list-type: set`, CEL rules) it builds specs that break exactly that constraint
//! from one valid spec that sets every field, and asserts that they are refused: by serde (an
//! enum value, a negative number for an unsigned field) or by `check()` at the constraint's
//! path. A constraint added to the schema without a check fails here; a kind of constraint the
//! walker does not know fails here too.

use kaspr_test_support::schema::{
    Constraint, Found, Step, constraints, pattern_matches, pattern_violations, user_path,
};
use kaspr_types::KasprAppSpec;
use serde_json::{Value, json};

/// A valid spec that sets every field holding a constraint (and at least one item of every
/// list), so that each constraint has a value to break.
const FULL_SPEC: &str = r#"
bootstrapServers: kafka:9092
version: "0.11.19"
replicas: 2
authentication:
  type: scram-sha-512
  username: app
  passwordSecret: {secretName: kafka-password, passwordKey: password}
livenessProbe: {failureThreshold: 3, initialDelaySeconds: 5, periodSeconds: 10, successThreshold: 1, timeoutSeconds: 2}
readinessProbe: {failureThreshold: 3, initialDelaySeconds: 5, periodSeconds: 10, successThreshold: 1, timeoutSeconds: 2}
storage: {type: persistent-claim, class: fast, size: 10Gi, deleteClaim: false}
template:
  pod:
    terminationGracePeriodSeconds: 30
    volumes: [{name: extra, emptyDir: {}}]
pythonPackages:
  packages: ["requests==2.31.0", "pandas>=2.0"]
  indexUrl: https://pypi.example.com/simple
  extraIndexUrls: [https://extra.example.com/simple]
  trustedHosts: [pypi.example.com]
  credentials: {secretRef: {name: pypi-credentials, usernameKey: user, passwordKey: pass}}
  installPolicy: {retries: 3, timeout: 600, onFailure: block}
  installer: uv
  imagePackages: protect
  cache:
    type: gcs
    enabled: false
    storageClass: fast
    size: 2Gi
    accessMode: ReadWriteMany
    deleteClaim: true
    keepEnvs: 2
    gcs:
      bucket: kaspr-cache
      prefix: kaspr-packages/
      maxArchiveSize: 1Gi
      secretRef: {name: gcs-key, key: sa.json}
"#;

/// The CEL rules that need no stored object, each with the change to the node holding it that
/// breaks it. A rule added to the CRD must be added here (and to `check`).
fn break_rule(rule: &str, node: &mut Value) {
    let object = node.as_object_mut().expect("a rule is on an object");
    match rule {
        "!has(self.credentials) || has(self.indexUrl)" => {
            assert!(object.contains_key("credentials"), "{object:?}");
            object.remove("indexUrl");
        }
        "!has(self.type) || self.type != 'gcs' || has(self.gcs)" => {
            object.insert("type".into(), json!("gcs"));
            object.remove("gcs");
        }
        other => panic!(
            "the CRD has a new CEL rule {other:?}: enforce it in KasprAppSpec::check and break it \
             here"
        ),
    }
}

/// The rules that compare with the stored object (`oldSelf`): only the API server can check
/// them. `render --help` names them; keep the two lists together.
const TRANSITION_RULE_FIELDS: &[&str] = &["spec.pythonPackages.cache.size", "spec.storage.size"];

fn app_schema() -> Value {
    let crd = serde_json::to_value(kaspr_types::crd()).expect("the CRD serialises");
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

fn full_app() -> Value {
    let spec: Value = serde_yaml::from_str(FULL_SPEC).expect("FULL_SPEC is YAML");
    json!({ "spec": spec })
}

/// Every constraint of the schema under `spec`.
fn spec_constraints() -> Vec<Found> {
    constraints(&app_schema())
        .into_iter()
        .filter(|f| f.path.first() == Some(&Step::Field("spec".into())))
        .collect()
}

/// The schema node at `path`.
fn schema_at<'a>(schema: &'a Value, path: &[Step]) -> &'a Value {
    path.iter().fold(schema, |node, step| match step {
        Step::Field(name) => &node["properties"][name],
        Step::Item => &node["items"],
        Step::MapValue => &node["additionalProperties"],
    })
}

/// The value at `path` in `app` (the first item for [`Step::Item`]); panics when the full spec
/// lacks it, since then its constraints could not be tested.
fn value_at<'a>(app: &'a mut Value, path: &[Step]) -> &'a mut Value {
    let shown = user_path(path);
    path.iter().fold(app, |value, step| {
        let next = match step {
            Step::Field(name) => value.get_mut(name.as_str()),
            Step::Item => value.get_mut(0),
            Step::MapValue => panic!("{shown}: constraints on map values: extend this test"),
        };
        next.unwrap_or_else(|| {
            panic!("FULL_SPEC lacks {shown}: set it so its constraints are tested")
        })
    })
}

/// What refused a spec.
#[derive(Debug, PartialEq)]
enum Refused {
    Serde,
    Check,
}

/// Asserts that the spec of `app` is refused: by serde, or by `check()` with errors at `path`
/// and nowhere else (the spec breaks one constraint).
#[track_caller]
fn assert_refused(app: &Value, path: &str, what: &str) -> Refused {
    let spec = match serde_json::from_value::<KasprAppSpec>(app["spec"].clone()) {
        Err(_) => return Refused::Serde,
        Ok(spec) => spec,
    };
    let Err(errors) = spec.check() else {
        panic!("{what}: check() accepts {path} = {}", shown(app, path));
    };
    assert!(
        errors.0.iter().any(|e| e.path == path),
        "{what}: refused, but not at {path}:\n{errors}"
    );
    assert!(
        errors.0.iter().all(|e| e.path == path),
        "{what}: errors besides {path}, so the test broke more than one constraint:\n{errors}"
    );
    Refused::Check
}

/// Asserts that `check()` accepts the spec of `app`.
#[track_caller]
fn assert_accepted(app: &Value, what: &str) {
    let spec: KasprAppSpec = serde_json::from_value(app["spec"].clone())
        .unwrap_or_else(|e| panic!("{what}: does not parse: {e}"));
    if let Err(errors) = spec.check() {
        panic!("{what}: refused:\n{errors}");
    }
}

/// A short description of the value at `path`, for messages.
fn shown(app: &Value, path: &str) -> String {
    let pointer: String = path
        .replace('[', ".")
        .replace(']', "")
        .split('.')
        .map(|part| format!("/{part}"))
        .collect();
    let Some(value) = app.pointer(&pointer) else {
        return "(absent)".to_owned();
    };
    let text = value.to_string();
    if text.chars().count() > 80 {
        format!(
            "{}… ({} characters)",
            text.chars().take(80).collect::<String>(),
            text.chars().count()
        )
    } else {
        text
    }
}

/// Whether a string satisfies every string constraint of `node` (pattern and lengths).
fn fits(node: &Value, s: &str) -> bool {
    let n = s.chars().count() as u64;
    node["pattern"]
        .as_str()
        .is_none_or(|p| pattern_matches(p, s))
        && node["minLength"].as_u64().is_none_or(|min| n >= min)
        && node["maxLength"].as_u64().is_none_or(|max| n <= max)
}

/// Strings of exactly `len` characters, built from `base` and from common shapes (a name, dot
/// separated labels), the ones that satisfy `node`'s pattern first.
fn string_of_len(node: &Value, base: &str, len: usize) -> String {
    let mut candidates = vec![
        base.chars().take(len).collect::<String>(),
        "a".repeat(len),
        "1".repeat(len),
    ];
    if base.chars().count() < len {
        candidates.push(format!("{base}{}", "a".repeat(len - base.chars().count())));
    }
    let start = if len.is_multiple_of(2) { "aa" } else { "a" };
    if len >= start.len() {
        candidates.push(format!("{start}{}", ".a".repeat((len - start.len()) / 2)));
    }
    candidates.retain(|c| c.chars().count() == len);
    let pattern_ok = |c: &String| {
        node["pattern"]
            .as_str()
            .is_none_or(|p| pattern_matches(p, c))
    };
    candidates
        .iter()
        .find(|c| pattern_ok(c))
        .or(candidates.first())
        .cloned()
        .unwrap_or_else(|| panic!("no candidate of {len} characters"))
}

/// Strings that break many patterns, and variants of the valid `base`.
fn pattern_candidates(base: &str) -> Vec<String> {
    let fixed = [
        "",
        " ",
        "a",
        "A",
        "Z9",
        "a b",
        "-",
        "_",
        ".",
        "a.",
        ".a",
        "a..b",
        "a-",
        "-a",
        "a_b",
        "a@b",
        "a#b",
        "a/b",
        "a:b",
        "a%b",
        "a*b",
        "é",
        "ü.example",
        "a\u{0}",
        "a\t",
        "a\n",
        "a\r",
        "a\u{b}",
        "a\u{c}",
        "a\u{1f}",
        "a\u{7f}",
        "a\u{85}",
        "a\u{2028}",
        "a\u{2029}",
        "a\u{a0}b",
        "1Gb",
        "1gb",
        "1gi",
        "1GI",
        "1 Gi",
        "1Gi ",
        " 1Gi",
        "1.5.5",
        "1e",
        "1e+",
        "1e+.",
        "e5",
        "+1",
        "-1",
        "Gi",
        "1KiB",
        "0x10",
        "1_000",
        "1,5",
        "∞",
        "1i",
        "1Mb",
        "https://",
        "https:///x",
        "https://h#f",
        "https://h/#f",
        "https://u@h/x",
        "https://u:p@h/x",
        "https://@h/x",
        "HTTPS://h/x",
        "Https://h/x",
        "ftp://h/x",
        "https://h x/",
        "https://h/x y",
        "//h/x",
        "h/x",
        "https:/h/x",
        "https://h?x#y",
        "h:0",
        "h:123456",
        "h:+80",
        "h:",
        "h:-1",
        ":80",
        "[::1",
        "[zz]",
        "[::1]:",
        "[]",
        "-e .",
        "--index-url",
        " requests",
        "(x)",
        "$x",
        "`id`",
    ];
    let mut out: Vec<String> = fixed.iter().map(|s| (*s).to_owned()).collect();
    out.extend([
        format!(" {base}"),
        format!("{base} "),
        format!("-{base}"),
        format!("{base}-"),
        format!(".{base}"),
        format!("{base}."),
        format!("{base}@"),
        format!("u@{base}"),
        format!("{base}#x"),
        format!("{base}\n"),
        format!("{base}\u{85}"),
        format!("{base}\u{2028}"),
        format!("{base}:"),
        format!("{base}:123456"),
        format!("{base}:+80"),
        format!("{base}b"),
        format!("{base}B"),
        format!("{base} x"),
        format!("{base}_"),
        base.to_uppercase(),
        base.replace('.', ".."),
        base.replacen("://", "://u:p@", 1),
        base.replacen("https", "HTTPS", 1),
        format!("{}.{base}", "a".repeat(64)),
    ]);
    out.sort();
    out.dedup();
    out
}

#[test]
fn the_full_spec_is_valid_and_every_pattern_accepts_its_value() {
    let app = full_app();
    assert_accepted(&app, "FULL_SPEC");
    // The matcher agrees with the API server on the values it accepts (the CRD's examples and
    // the apiserver suite show the API server accepts them).
    let schema = app_schema();
    for found in spec_constraints() {
        if let Constraint::Pattern(p) = &found.constraint {
            let mut app = full_app();
            let value = value_at(&mut app, &found.path)
                .as_str()
                .expect("a string")
                .to_owned();
            assert!(pattern_matches(p, &value), "{p} vs {value:?}");
            assert!(fits(schema_at(&schema, &found.path), &value));
        }
    }
}

#[test]
fn check_refuses_everything_the_schema_refuses() {
    let schema = app_schema();
    let found = spec_constraints();
    assert!(found.len() > 40, "the walk found too little: {found:#?}");
    let mut transition_rules = Vec::new();
    let mut tested = 0;
    for Found { path, constraint } in &found {
        let node = schema_at(&schema, path);
        let at = user_path(path);
        let what = format!("{at}: {constraint:?}");
        // Items are tested through the list's first item.
        let mut app = full_app();
        let base = value_at(&mut app, path).clone();
        let broken = |value: Value| {
            let mut app = full_app();
            *value_at(&mut app, path) = value;
            app
        };
        match constraint {
            Constraint::Pattern(p) => {
                let base = base.as_str().expect("a pattern is on a string");
                let violations = pattern_violations(p, pattern_candidates(base), node);
                assert!(violations.len() >= 3, "{what}: too few strings break it");
                for v in violations {
                    let r = assert_refused(&broken(json!(v)), &at, &format!("{what} with {v:?}"));
                    assert_eq!(r, Refused::Check, "{what} with {v:?}");
                }
            }
            Constraint::MinLength(min) => {
                assert!(*min > 0, "{what}: minLength 0 restricts nothing");
                let v = string_of_len(node, base.as_str().expect("a string"), min - 1);
                let r = assert_refused(&broken(json!(v)), &at, &what);
                assert_eq!(r, Refused::Check, "{what}");
                // Exactly the minimum is accepted (unless the pattern refuses every string of
                // that length).
                let v = string_of_len(node, base.as_str().expect("a string"), *min);
                if fits(node, &v) {
                    assert_accepted(&broken(json!(v)), &what);
                }
            }
            Constraint::MaxLength(max) => {
                let v = string_of_len(node, base.as_str().expect("a string"), max + 1);
                let r = assert_refused(&broken(json!(v)), &at, &what);
                assert_eq!(r, Refused::Check, "{what}");
            }
            Constraint::Minimum(min) => {
                assert_eq!(node["type"], "integer", "{what}: only integers are handled");
                let min = *min as i64;
                if assert_refused(&broken(json!(min - 1)), &at, &what) == Refused::Serde {
                    // Only an unsigned field may leave a negative number to serde.
                    assert!(min <= 0, "{what}: serde refused {}", min - 1);
                }
                assert_accepted(&broken(json!(min)), &what);
            }
            Constraint::Maximum(max) => {
                assert_eq!(node["type"], "integer", "{what}: only integers are handled");
                let max = *max as i64;
                let r = assert_refused(&broken(json!(max + 1)), &at, &what);
                assert_eq!(r, Refused::Check, "{what}");
                assert_accepted(&broken(json!(max)), &what);
            }
            Constraint::MinItems(min) => {
                let items = base.as_array().expect("an array");
                assert!(
                    items.len() >= min - 1,
                    "{what}: FULL_SPEC has too few items"
                );
                let r = assert_refused(&broken(json!(items[..min - 1])), &at, &what);
                assert_eq!(r, Refused::Check, "{what}");
            }
            Constraint::MaxItems(max) => {
                let items = distinct_items(node, &base, *max + 1, &what);
                assert_accepted(
                    &broken(json!(items[..*max])),
                    &format!("{what} at the maximum"),
                );
                let r = assert_refused(&broken(json!(items)), &at, &what);
                assert_eq!(r, Refused::Check, "{what}");
            }
            Constraint::Enum(values) => {
                let v = format!("{}Unknown", values[0].as_str().expect("a string enum"));
                let r = assert_refused(&broken(json!(v)), &at, &what);
                assert_eq!(r, Refused::Serde, "{what}: an enum is serde's");
            }
            Constraint::SetList => {
                let item = base.get(0).cloned().expect("FULL_SPEC has an item");
                let r = assert_refused(&broken(json!([item.clone(), item])), &at, &what);
                assert_eq!(r, Refused::Check, "{what}");
            }
            Constraint::Rule {
                rule,
                field_path,
                transition: false,
            } => {
                let mut app = full_app();
                break_rule(rule, value_at(&mut app, path));
                let expected = format!("{at}{}", field_path.as_deref().unwrap_or_default());
                let r = assert_refused(&app, &expected, &what);
                assert_eq!(r, Refused::Check, "{what}");
            }
            Constraint::Rule {
                transition: true, ..
            } => transition_rules.push(at.clone()),
            Constraint::Unknown(keyword) => panic!(
                "{at}: the schema has {keyword}, which this test does not know: teach \
                 kaspr_test_support::schema::constraints and this test to break it, and check() \
                 to refuse it"
            ),
        }
        tested += 1;
    }
    transition_rules.sort();
    assert_eq!(
        transition_rules, TRANSITION_RULE_FIELDS,
        "rules comparing with the stored object changed: update render's help text"
    );
    assert_eq!(tested, found.len());
}

/// `count` distinct items for the list at `node`, each valid: strings from the first template
/// whose items all fit the item schema.
fn distinct_items(node: &Value, base: &Value, count: usize, what: &str) -> Vec<Value> {
    let items = &node["items"];
    let Some(first) = base.get(0).and_then(Value::as_str) else {
        panic!("{what}: lists of non-strings need an item generator here");
    };
    let templates: [&dyn Fn(usize) -> String; 5] = [
        &|i| format!("pkg{i}"),
        &|i| format!("h{i}.example.com"),
        &|i| format!("https://i{i}.example.com/simple"),
        &|i| format!("{first}{i}"),
        &|i| format!("a{i}"),
    ];
    let made = templates
        .iter()
        .map(|t| (0..count).map(t).collect::<Vec<String>>())
        .find(|all| all.iter().all(|s| fits(items, s)))
        .unwrap_or_else(|| panic!("{what}: no template fits the items"));
    made.into_iter().map(Value::String).collect()
}

#[test]
fn the_walker_sees_the_constraints_the_issue_names() {
    let found: Vec<(String, Constraint)> = spec_constraints()
        .into_iter()
        .map(|f| (user_path(&f.path), f.constraint))
        .collect();
    let has = |path: &str, pred: &dyn Fn(&Constraint) -> bool| {
        found.iter().any(|(p, c)| p == path && pred(c))
    };
    let pattern = |c: &Constraint| matches!(c, Constraint::Pattern(_));
    for path in [
        "spec.pythonPackages.cache.size",
        "spec.storage.size",
        "spec.pythonPackages.cache.gcs.maxArchiveSize",
        "spec.pythonPackages.cache.gcs.bucket",
        "spec.pythonPackages.credentials.secretRef.name",
        "spec.pythonPackages.packages[0]",
    ] {
        assert!(has(path, &pattern), "no pattern at {path}");
    }
    assert!(has("spec.replicas", &|c| matches!(
        c,
        Constraint::Minimum(_)
    )));
    assert!(has("spec.pythonPackages.packages", &|c| {
        matches!(c, Constraint::MaxItems(200))
    }));
    assert!(has("spec.pythonPackages.cache.accessMode", &|c| {
        matches!(c, Constraint::Enum(_))
    }));
}

#[test]
fn a_quantity_error_says_what_a_quantity_looks_like() {
    let mut app = full_app();
    app["spec"]["pythonPackages"]["cache"]["size"] = json!("1Gb");
    app["spec"]["storage"]["size"] = json!("10 GB");
    let spec: KasprAppSpec = serde_json::from_value(app["spec"].clone()).expect("parses");
    let errors = spec.check().expect_err("1Gb is no quantity");
    let paths: Vec<&str> = errors.0.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        ["spec.pythonPackages.cache.size", "spec.storage.size"],
        "{errors}"
    );
    let text = errors.to_string();
    for needle in [
        "\"1Gb\"",
        "not a Kubernetes quantity",
        "\"1Gi\"",
        "not \"1Gb\"",
        "Mi",
    ] {
        assert!(text.contains(needle), "{needle:?} not in {text}");
    }
}

#[test]
fn the_pattern_matcher_reads_re2() {
    let q = kaspr_types::validate::patterns::QUANTITY;
    for ok in [
        "1", "1Gi", "1.5Gi", ".5", "5.", "100m", "1e3", "1E3", "1E", "2e-3", "1.5e+3",
    ] {
        assert!(pattern_matches(q, ok), "{ok}");
    }
    for bad in [
        "", "1Gb", "1gi", "Gi", "-1", "1e", "1.5.5", "1 Gi", "e5", "1Ki2",
    ] {
        assert!(!pattern_matches(q, bad), "{bad}");
    }
    // Unanchored patterns match anywhere, as in Go's regexp.
    assert!(pattern_matches("b+", "abbc"));
    assert!(!pattern_matches("^b+$", "abbc"));
    assert!(pattern_matches("^a{2,3}$", "aaa") && !pattern_matches("^a{2,3}$", "aaaa"));
    assert!(pattern_matches(r"^[^\p{Cc}]*$", "ab") && !pattern_matches(r"^[^\p{Cc}]*$", "a\u{85}"));
    assert!(pattern_matches(r"^\x{2028}$", "\u{2028}"));
    assert!(
        !pattern_matches(r"^\s$", "\u{b}"),
        "RE2's \\s has no vertical tab"
    );
}
