//! The binary run as a user runs it.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use kaspr_test_support::examples::example_files;
use kaspr_test_support::schema::{Constraint, constraints, user_path};
use kaspr_test_support::workspace_root;
use serde::Deserialize;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kaspr-operator"))
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `kaspr-operator render -f FILE`.
fn render(file: &Path) -> Output {
    bin()
        .args(["render", "-f"])
        .arg(file)
        .output()
        .expect("runs")
}

/// Each example set (a directory: an app and its components, as upstream ships them), rendered
/// together: the StatefulSet mounts every agent, web view, table and task of its app, and every
/// object passes `kubernetes-validate --strict`.
#[test]
fn every_example_set_renders_valid_objects_with_its_components_mounted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sets = [
        "analytics-counter",
        "notification-router",
        "user-enrichment",
        "user-event-processor",
        "packages-in-agent",
    ];
    let mut files = Vec::new();
    for set in sets {
        let out = render(&workspace_root().join("examples").join(set));
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{set}: {stderr}");
        let docs: Vec<serde_json::Value> = serde_yaml::Deserializer::from_str(&stdout)
            .map(|d| serde_json::Value::deserialize(d).expect("YAML"))
            .collect();
        let sts = docs
            .iter()
            .find(|d| d["kind"] == "StatefulSet")
            .expect("a StatefulSet");
        let mounts: Vec<&str> = sts["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["mountPath"].as_str())
            .filter(|p| p.starts_with("/var/lib/data/definitions/"))
            .collect();
        let definitions: Vec<&str> = docs
            .iter()
            .filter(|d| d["kind"] == "ConfigMap")
            .filter(|d| {
                ["KasprAgent", "KasprWebView", "KasprTable", "KasprTask"]
                    .iter()
                    .any(|k| d["metadata"]["labels"]["kaspr.io/component-type"] == *k)
            })
            .filter_map(|d| d["metadata"]["name"].as_str())
            .collect();
        assert!(!definitions.is_empty(), "{set}: no component");
        for name in definitions {
            let path = format!("/var/lib/data/definitions/{name}.yaml");
            assert!(
                mounts.contains(&path.as_str()),
                "{set}: {path} not in {mounts:?}"
            );
        }
        let file = dir.path().join(format!("{set}.yaml"));
        std::fs::write(&file, stdout).expect("writes");
        files.push(file);
    }
    kaspr_test_support::tools::kubernetes_validate(&files);
}

#[test]
fn render_succeeds_on_every_example() {
    let files = example_files();
    assert!(files.len() >= 8, "{files:?}");
    for file in files {
        let out = render(&file);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{}: {stderr}", file.display());
        let kinds: Vec<String> = serde_yaml::Deserializer::from_str(&stdout)
            .map(|d| serde_yaml::Value::deserialize(d).expect("YAML"))
            .filter_map(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_owned))
            .collect();
        let manifest = std::fs::read_to_string(&file).expect("read");
        let is_app = manifest.contains("kind: KasprApp");
        let components = [
            "KasprAgent",
            "KasprTable",
            "KasprWebView",
            "KasprTask",
            "KasprJoin",
        ]
        .iter()
        .filter(|k| manifest.contains(&format!("kind: {k}\n")))
        .count();
        if components > 0 {
            // Each component's definition ConfigMap (with an app in the file, its objects too).
            let config_maps = kinds.iter().filter(|k| *k == "ConfigMap").count();
            assert!(config_maps >= components, "{}: {kinds:?}", file.display());
        }
        if is_app {
            assert!(
                kinds.contains(&"StatefulSet".to_owned()),
                "{}: {kinds:?}",
                file.display()
            );
            assert!(
                kinds.contains(&"ConfigMap".to_owned()),
                "{}: {kinds:?}",
                file.display()
            );
        } else if components == 0 {
            assert!(
                kinds.is_empty(),
                "{}: a file of other kinds renders nothing",
                file.display()
            );
        }
    }
}

#[test]
fn render_of_a_broken_manifest_names_the_field_and_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("broken.yaml");
    std::fs::write(
        &file,
        "apiVersion: kaspr.io/v1alpha1\nkind: KasprApp\nmetadata: {name: broken}\nspec:\n  bootstrapServers: k:9092\n  pythonPackages:\n    packages: [requests]\n    extraIndexUrls: [https://ok.example/simple, \"https://bob:pw@x.example/simple\"]\n",
    )
    .expect("write");
    let out = render(&file);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stdout.is_empty(),
        "nothing rendered for an invalid app: {stdout}"
    );
    assert!(
        stderr.contains("spec.pythonPackages.extraIndexUrls[1]"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("bob") && !stderr.contains(":pw@"),
        "credential in output: {stderr}"
    );
}

#[test]
fn crd_prints_every_generated_crd() {
    let out = bin().arg("crd").output().expect("runs");
    let (stdout, _) = text(&out);
    assert!(out.status.success());
    let printed: Vec<serde_yaml::Value> = stdout
        .split("\n---\n")
        .map(|doc| serde_yaml::from_str(doc).expect("each document is YAML"))
        .collect();
    let files = [
        "kasprapp",
        "kaspragent",
        "kasprtable",
        "kasprwebview",
        "kasprtask",
        "kasprjoin",
    ];
    assert_eq!(printed.len(), files.len(), "{stdout}");
    // Whole documents: each file is the printed CRD under a generated-file comment.
    for (doc, name) in printed.iter().zip(files) {
        let path = workspace_root().join(format!("crds/{name}.crd.yaml"));
        let committed = std::fs::read_to_string(&path).expect("crd file");
        let file: serde_yaml::Value = serde_yaml::from_str(&committed).expect("the file is YAML");
        assert_eq!(
            doc.get("kind").and_then(|k| k.as_str()),
            Some("CustomResourceDefinition")
        );
        assert_eq!(
            doc,
            &file,
            "{} differs from `kaspr-operator crd`",
            path.display()
        );
    }
}

#[test]
fn unknown_command_prints_usage() {
    let out = bin().arg("frobnicate").output().expect("runs");
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("unrecognized subcommand 'frobnicate'"),
        "{stderr}"
    );
    assert!(stderr.contains("Usage:"), "{stderr}");
}

#[test]
fn wrong_arguments_exit_2_with_a_message() {
    for args in [
        &["render"][..],
        &["render", "-f"],
        &["render", "-x", "file"],
        &["run", "--listen"],
        &["run", "extra"],
        &["crd", "--bogus"],
        &[],
    ] {
        let out = bin().args(args).output().expect("runs");
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert!(
            stderr.contains("Usage:") || stderr.contains("try '--help'"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn version_prints_the_crate_version() {
    for flag in ["--version", "-V"] {
        let out = bin().arg(flag).output().expect("runs");
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stderr}");
        assert_eq!(
            stdout,
            format!("kaspr-operator {}\n", env!("CARGO_PKG_VERSION"))
        );
    }
}

/// `kaspr-operator ARGS --help`, which must succeed.
fn help(args: &[&str]) -> String {
    let out = bin().args(args).arg("--help").output().expect("runs");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{args:?}: {stderr}");
    stdout
}

#[test]
fn help_describes_the_binary_and_each_subcommand() {
    let top = help(&[]);
    for needle in ["run", "render", "crd", "--version", "--help"] {
        assert!(top.contains(needle), "{needle}: {top}");
    }
    let run = help(&["run"]);
    assert!(run.contains("--listen <ADDR>"), "{run}");
    assert!(run.contains("0.0.0.0:8080"), "{run}");
    let render = help(&["render"]);
    assert!(render.contains("-f, --filename <FILE>"), "{render}");
    assert!(render.contains("standard input"), "{render}");
    assert!(
        render.contains("spec.pythonPackages.cache.size"),
        "{render}"
    );
    let crd = help(&["crd"]);
    assert!(crd.contains("CustomResourceDefinition"), "{crd}");
    // `help SUBCOMMAND` and `-h` work too.
    let out = bin().args(["help", "render"]).output().expect("runs");
    assert!(out.status.success());
    assert!(text(&out).0.contains("-f, --filename"));
    let out = bin().args(["render", "-h"]).output().expect("runs");
    assert!(out.status.success());
    assert!(text(&out).0.contains("-f, --filename"));
}

#[test]
fn render_help_names_every_rule_only_the_api_server_can_check() {
    let crd = serde_json::to_value(kaspr_types::crd()).expect("the CRD serialises");
    let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    let transition: Vec<String> = constraints(schema)
        .into_iter()
        .filter(|f| {
            matches!(
                f.constraint,
                Constraint::Rule {
                    transition: true,
                    ..
                }
            )
        })
        .map(|f| user_path(&f.path))
        .collect();
    assert!(!transition.is_empty());
    for short in [&["render", "-h"][..], &["render", "--help"]] {
        let out = bin().args(short).output().expect("runs");
        // The help wraps to the terminal; compare words.
        let help = text(&out)
            .0
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            help.contains("are checked by the API server only"),
            "{short:?}: {help}"
        );
        for path in &transition {
            // `spec.pythonPackages.cache.size` is named as users say it: `cache.size`.
            let parts: Vec<&str> = path.rsplitn(3, '.').collect();
            let field = format!("{}.{}", parts[1], parts[0]);
            assert!(
                help.contains(&field),
                "{short:?}: {field} ({path}) not in {help}"
            );
        }
    }
}

/// `kaspr-operator render -f -` with `input` on standard input.
fn render_stdin(input: &str) -> Output {
    let mut child = bin()
        .args(["render", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("waits")
}

#[test]
fn render_reads_standard_input() {
    let file = example_files()
        .into_iter()
        .find(|f| {
            std::fs::read_to_string(f)
                .expect("read")
                .contains("kind: KasprApp")
        })
        .expect("an example KasprApp");
    let from_file = render(&file);
    let from_stdin = render_stdin(&std::fs::read_to_string(&file).expect("read"));
    let (stdout, stderr) = text(&from_stdin);
    assert!(from_stdin.status.success(), "{stderr}");
    assert!(stdout.contains("kind: StatefulSet"), "{stdout}");
    assert_eq!(stdout, text(&from_file).0, "stdin and file render alike");
}

const APP: &str = "apiVersion: kaspr.io/v1alpha1\nkind: KasprApp\nmetadata: {name: app}\nspec:\n  bootstrapServers: k:9092\n  pythonPackages:\n    packages: [requests]\n";

#[test]
fn render_refuses_what_the_schema_refuses() {
    // `1Gb` parses (a string) but the CRD's pattern refuses it: so does render, offline.
    let out = render_stdin(&format!("{APP}    cache: {{size: 1Gb}}\n"));
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.starts_with("<stdin>: document 0: "), "{stderr}");
    assert!(
        stderr.contains("spec.pythonPackages.cache.size: \"1Gb\" is not a Kubernetes quantity"),
        "{stderr}"
    );
    // And a file names itself.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("app.yaml");
    std::fs::write(
        &file,
        format!("{APP}---\n{APP}  replicas: -1\n  storage: {{type: ephemeral, size: 10 GB}}\n"),
    )
    .expect("write");
    let out = render(&file);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let prefix = format!("{}: document 1: ", file.display());
    assert!(stderr.starts_with(&prefix), "{stderr}");
    assert!(
        stderr.contains("  spec.replicas: -1 is out of range"),
        "{stderr}"
    );
    assert!(
        stderr.contains("  spec.storage.size: \"10 GB\""),
        "{stderr}"
    );
    assert!(!stderr.contains("document 0"), "{stderr}");
}

#[test]
fn render_accepts_a_field_the_spec_does_not_know_and_names_it_in_a_warning() {
    // As upstream's CRD, which kept such fields; a stray `kafka:` block is in its examples.
    let out = render_stdin(&format!("{APP}  kafka: {{topics: [input]}}\n"));
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("kind: StatefulSet"), "{stdout}");
    assert!(
        stderr.contains("warning: KasprApp app: spec.kafka is not a KasprApp field and is ignored"),
        "{stderr}"
    );
}

#[test]
fn render_names_the_field_of_a_parse_error() {
    let out = render_stdin(&format!("{APP}    cache: {{accessMode: ReadOnlyMany}}\n"));
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains(
            "<stdin>: document 0: spec.pythonPackages.cache.accessMode: unknown variant \
             `ReadOnlyMany`, expected `ReadWriteMany` or `ReadWriteOnce`"
        ),
        "{stderr}"
    );
    // Deeper and in lists too.
    for (yaml, path) in [
        (
            format!("{APP}    installPolicy: {{retries: many}}\n"),
            "spec.pythonPackages.installPolicy.retries: invalid type",
        ),
        (
            format!("{APP}    extraIndexUrls: [https://a.example/simple, 7]\n"),
            "spec.pythonPackages.extraIndexUrls[1]: invalid type",
        ),
        (
            format!("{APP}    cache: {{sise: 1Gi}}\n"),
            "spec.pythonPackages.cache.sise: unknown field `sise`",
        ),
        (
            format!("{APP}  authentication: {{type: scram}}\n"),
            "spec.authentication.type: unknown variant `scram`",
        ),
    ] {
        let out = render_stdin(&yaml);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!("document 0: {path}")),
            "{path}: {stderr}"
        );
    }
}
