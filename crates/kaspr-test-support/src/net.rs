//! Loopback networking: free ports and a plain HTTP GET.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// A port on 127.0.0.1 that was free a moment ago (the OS picked it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port on 127.0.0.1: {e}"))
}

/// A plain HTTP/1.0 GET of `path` on 127.0.0.1:`port`: (status code, body); `None` while nothing
/// answers there.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let code = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned());
    Some((code, body.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_free_port_can_be_bound_and_answers_a_get() {
        let port = free_port();
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("the port is free");
        let server = std::thread::spawn(move || {
            // Another process on this machine probing a port it was once given may connect
            // first: such a stranger is turned away, and the test's own GET is waited for.
            loop {
                let (mut conn, _) = listener.accept().expect("a connection");
                let mut request = [0u8; 256];
                let n = conn.read(&mut request).unwrap_or(0);
                if request[..n].starts_with(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n") {
                    conn.write_all(b"HTTP/1.0 503 Service Unavailable\r\n\r\nnot yet")
                        .expect("a reply");
                    return;
                }
                let _ = conn.write_all(b"HTTP/1.0 400 Bad Request\r\n\r\n");
            }
        });
        assert_eq!(
            http_get(port, "/healthz"),
            Some((503, "not yet".to_owned()))
        );
        server.join().expect("server thread");
        assert_eq!(http_get(port, "/healthz"), None, "nothing listens any more");
    }
}
