//! `kaspr-operator run` before any API server answers: alive, not ready.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kaspr_test_support::net::{free_port, http_get as get};
use kaspr_test_support::process::GroupChild;

#[test]
fn not_ready_while_the_api_server_does_not_answer() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A kubeconfig naming a port where nothing listens.
    let kubeconfig = dir.path().join("kubeconfig");
    let api_port = free_port();
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: none\n  cluster: {{server: \"http://127.0.0.1:{api_port}\"}}\n\
             contexts:\n- name: none\n  context: {{cluster: none, user: none}}\ncurrent-context: none\n\
             users:\n- name: none\n  user: {{}}\n"
        ),
    )
    .expect("kubeconfig");
    let port = free_port();
    // Killed (with anything it started) when the test ends, passed or not.
    let _operator = GroupChild::spawn(
        Command::new(env!("CARGO_BIN_EXE_kaspr-operator"))
            .args(["run", "--listen", &format!("127.0.0.1:{port}")])
            .env("KUBECONFIG", &kubeconfig)
            .env("RUST_LOG", "off")
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .expect("starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while get(port, "/healthz").is_none() {
        assert!(Instant::now() < deadline, "/healthz never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(get(port, "/healthz").map(|(c, _)| c), Some(200));
    // Several looks over a few seconds: it stays not ready while the API cannot be reached.
    for _ in 0..5 {
        let (code, body) = get(port, "/readyz").expect("/readyz answers");
        assert_eq!(code, 503, "{body}");
        assert!(body.contains("waiting for the API server"), "{body}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A kubeconfig in `dir` naming a port where nothing listens: every API call fails.
fn unreachable_kubeconfig(dir: &std::path::Path) -> std::path::PathBuf {
    let kubeconfig = dir.join("kubeconfig");
    let api_port = free_port();
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: none\n  cluster: {{server: \"http://127.0.0.1:{api_port}\"}}\n\
             contexts:\n- name: none\n  context: {{cluster: none, user: none}}\ncurrent-context: none\n\
             users:\n- name: none\n  user: {{}}\n"
        ),
    )
    .expect("kubeconfig");
    kubeconfig
}

#[test]
fn sigterm_ends_the_process_within_ten_seconds_while_the_api_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let mut operator = Command::new(env!("CARGO_BIN_EXE_kaspr-operator"))
        .args(["run", "--listen", &format!("127.0.0.1:{port}")])
        .env("KUBECONFIG", unreachable_kubeconfig(dir.path()))
        .env("RUST_LOG", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while get(port, "/healthz").is_none() {
        assert!(Instant::now() < deadline, "/healthz never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid = operator.id().to_string();
    let sent = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let status = loop {
        if let Some(status) = operator.try_wait().expect("wait") {
            break status;
        }
        if sent.elapsed() > Duration::from_secs(10) {
            let _ = operator.kill();
            panic!("still running 10 s after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "a clean stop: {status}");
}

#[test]
fn a_port_in_use_ends_the_process_with_one_clear_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_kaspr-operator"))
        .args(["run", "--listen", &format!("127.0.0.1:{port}")])
        .env("KUBECONFIG", unreachable_kubeconfig(dir.path()))
        .env("RUST_LOG", "off")
        .output()
        .expect("runs");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
}
