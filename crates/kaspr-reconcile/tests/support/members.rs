//! A stand-in for the members' Kaspr web API: one local HTTP server that answers
//! `GET /<id>/status/` with each member's JSON (or an error code) and records every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What member `id` answers: a status code and a body.
pub type Answers = HashMap<u32, (u16, String)>;

/// The running server: its address template for `MemberCheck::address`, and the requests seen
/// (`GET /0/status/`, `POST /1/signal/rebalance`).
pub struct MemberApi {
    pub address: String,
    pub seen: Arc<Mutex<Vec<String>>>,
}

pub async fn serve(answers: Answers) -> MemberApi {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let answers = answers.clone();
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                let line = head.lines().next().unwrap_or_default().to_owned();
                let mut parts = line.split(' ');
                let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                log.lock().expect("log").push(format!("{method} {path}"));
                let id: Option<u32> = path
                    .trim_start_matches('/')
                    .split('/')
                    .next()
                    .and_then(|s| s.parse().ok());
                let (code, body) = match (method, id) {
                    ("POST", Some(_)) => (200, "{}".to_owned()),
                    (_, Some(id)) => answers.get(&id).cloned().unwrap_or((404, String::new())),
                    _ => (400, String::new()),
                };
                let response = format!(
                    "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    MemberApi {
        address: format!("http://127.0.0.1:{port}/{{index}}"),
        seen,
    }
}
