//! `kaspr-operator run` before any API server answers: alive, not ready.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Operator(Child);

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A plain HTTP GET on loopback: (status code, body).
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let code = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned());
    Some((code, body.unwrap_or_default()))
}

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
    let _operator = Operator(
        Command::new(env!("CARGO_BIN_EXE_kaspr-operator"))
            .args(["run", "--listen", &format!("127.0.0.1:{port}")])
            .env("KUBECONFIG", &kubeconfig)
            .env("RUST_LOG", "off")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starts"),
    );
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
