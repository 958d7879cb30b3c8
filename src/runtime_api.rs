//! The one Runtime API call `lambda_runtime` does not make for us: reporting a failed cold start
//! (`POST /2018-06-01/runtime/init/error`), so that the invoke and the console say why the
//! function could not start instead of only `Runtime.ExitError`.
//! See <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html#runtimes-api-initerror>.
//!
//! One request at cold start, before the runtime loop, so a blocking HTTP/1.1 exchange over a
//! standard TCP stream does; no HTTP client is needed for it.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The error type reported for a config that was refused.
pub const CONFIG_ERROR_TYPE: &str = "Runtime.ConfigError";

/// How long the Runtime API may take to take the report.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Posts `message` as an init error of `error_type` to the Runtime API at `api` (the value of
/// `AWS_LAMBDA_RUNTIME_API`: `host:port`, which cargo-lambda's emulator follows with a path
/// prefix such as `/.rt`); returns the HTTP status it answered with.
pub fn report_init_error(api: &str, error_type: &str, message: &str) -> std::io::Result<u16> {
    let body = serde_json::json!({ "errorMessage": message, "errorType": error_type }).to_string();
    let api = api.strip_prefix("http://").unwrap_or(api);
    let (host, prefix) = match api.find('/') {
        Some(at) => api.split_at(at),
        None => (api, ""),
    };
    let prefix = prefix.trim_end_matches('/');
    let address = host
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("AWS_LAMBDA_RUNTIME_API `{api}` names no address")))?;
    let mut stream = TcpStream::connect_timeout(&address, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    let request = format!(
        "POST {prefix}/2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Lambda-Runtime-Function-Error-Type: {error_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes())?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head)?;
    let status_line = String::from_utf8_lossy(&head[..n]);
    status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {status_line:?}")))
}

/// Ends a cold start that cannot go on: logs `error`, reports it to the Runtime API when there
/// is one (`AWS_LAMBDA_RUNTIME_API`, set by Lambda and by cargo-lambda's emulator) and exits
/// with status 1.
pub fn fail_init(error_type: &str, error: &dyn std::error::Error) -> ! {
    let message = error.to_string();
    tracing::error!(error_type, error = %message, "The function cannot start.");
    if let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") {
        match report_init_error(&api, error_type, &message) {
            Ok(status) if (200..300).contains(&status) => {}
            Ok(status) => tracing::warn!(status, "The Runtime API refused the init error."),
            Err(err) => tracing::warn!(error = %err, "Could not report the init error to the Runtime API."),
        }
    }
    std::process::exit(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::net::TcpListener;

    #[test]
    fn an_init_error_is_posted_with_its_type_header_and_json_body() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let api = format!("{}/.rt", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = std::io::BufReader::new(stream);
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" {
                    break;
                }
                head.push(line.trim_end().to_string());
            }
            let length: usize = head
                .iter()
                .find_map(|h| h.strip_prefix("Content-Length: "))
                .unwrap()
                .parse()
                .unwrap();
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            reader
                .get_mut()
                .write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
            (head, body)
        });
        let message =
            "the config key `defaults.near_timeout_ratio` is not valid: must be more than 0 and at most 1, got 2";
        let status = report_init_error(&api, CONFIG_ERROR_TYPE, message).unwrap();
        let (head, body) = server.join().unwrap();
        assert_eq!(status, 202);
        assert_eq!(
            head[0], "POST /.rt/2018-06-01/runtime/init/error HTTP/1.1",
            "under the API's path prefix"
        );
        assert!(head.contains(&"Lambda-Runtime-Function-Error-Type: Runtime.ConfigError".to_string()));
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["errorMessage"], message);
        assert_eq!(body["errorType"], "Runtime.ConfigError");
    }

    #[test]
    fn an_unreachable_runtime_api_is_an_error_not_a_hang_or_a_panic() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        assert!(report_init_error(&format!("127.0.0.1:{port}"), CONFIG_ERROR_TYPE, "x").is_err());
        assert!(report_init_error("no port here", CONFIG_ERROR_TYPE, "x").is_err());
    }
}
