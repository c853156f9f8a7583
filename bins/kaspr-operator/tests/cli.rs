//! The binary run as a user runs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kaspr-operator"))
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_accepts_every_example() {
    for file in [
        "examples/basic.yaml",
        "examples/python-packages/basic.yaml",
        "examples/python-packages/enterprise-complete.yaml",
        "examples/python-packages/private-registry.yaml",
    ] {
        let out = bin()
            .args(["check", "-f"])
            .arg(root().join(file))
            .output()
            .expect("runs");
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{file}: {stderr}");
        assert!(stdout.contains(": valid"), "{file}: {stdout}");
    }
}

#[test]
fn check_names_the_field_path_and_fails() {
    let dir = std::env::temp_dir().join(format!("kaspr-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("broken.yaml");
    std::fs::write(
        &file,
        "apiVersion: kaspr.io/v1alpha1\nkind: KasprApp\nmetadata: {name: broken}\nspec:\n  bootstrapServers: k:9092\n  pythonPackages:\n    packages: [requests]\n    extraIndexUrls: [https://ok.example/simple, \"https://bob:pw@x.example/simple\"]\n",
    )
    .expect("write");
    let out = bin()
        .args(["check", "-f"])
        .arg(&file)
        .output()
        .expect("runs");
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("spec.pythonPackages.extraIndexUrls[1]"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("bob") && !stderr.contains(":pw@"),
        "credential in output: {stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn crd_prints_the_generated_crd() {
    let out = bin().arg("crd").output().expect("runs");
    let (stdout, _) = text(&out);
    assert!(out.status.success());
    let committed =
        std::fs::read_to_string(root().join("crds/kasprapp.crd.yaml")).expect("crd file");
    assert!(
        committed.ends_with(&stdout),
        "crds/kasprapp.crd.yaml differs from `kaspr-operator crd`"
    );
}

#[test]
fn unknown_command_prints_usage() {
    let out = bin().arg("frobnicate").output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("usage:"));
}
