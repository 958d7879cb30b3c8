//! A DynamoDB endpoint that throttles every call: HTTP 400 with the JSON error body DynamoDB
//! sends when it throttles (the error shape of
//! <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html>:
//! `__type` names the exception, `message` says why). moto cannot throttle; this is a real
//! HTTP server, so the SDK's own retries and backoff run as they would against DynamoDB.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A running throttling endpoint (its threads end with the test process).
pub struct Throttling {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// Requests answered so far (the SDK's retries included).
    pub requests: Arc<AtomicU64>,
}

impl Throttling {
    /// Starts answering every request with `exception` (`ThrottlingException`,
    /// `ProvisionedThroughputExceededException`).
    pub fn start(exception: &'static str) -> Throttling {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let endpoint = format!("http://{}", listener.local_addr().expect("an address"));
        let requests = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&requests);
        std::thread::spawn(move || {
            for connection in listener.incoming().flatten() {
                let counted = Arc::clone(&counted);
                std::thread::spawn(move || answer(connection, exception, &counted));
            }
        });
        Throttling { endpoint, requests }
    }
}

/// Answers each request of one keep-alive connection until the client closes it.
fn answer(connection: TcpStream, exception: &str, requests: &AtomicU64) {
    let Ok(mut writer) = connection.try_clone() else { return };
    let mut reader = BufReader::new(connection);
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        let mut lines = 0;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            lines += 1;
            if line == "\r\n" || line == "\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.trim().eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        if lines <= 1 {
            return;
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        requests.fetch_add(1, Ordering::Relaxed);
        let body = format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{exception}","message":"Rate exceeded"}}"#);
        let response = format!(
            "HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.0\r\nx-amzn-RequestId: throttled\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}
