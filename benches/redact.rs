//! Cost of redacting one log line, as a notice pays it for every sample, context line and
//! fingerprint: a typical 200-byte application line with no secret (the common case: one
//! `RegexSet` scan), the same line with a `password=` and a Bearer token, and 1,000-byte lines
//! (the longest a notice shows) without and with secrets. The rules are compiled before timing.
//!
//! Run: `cargo bench --bench redact` (figures in the README).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lambda_watchdog::notify::redact::redact;

const PLAIN_200: &str = "2026-11-29T10:00:01.123Z\t3f1c2a9e-1b2c-4d5e-8f90-0a1b2c3d4e5f\tERROR\tInvoke Error \
{\"errorType\":\"Error\",\"errorMessage\":\"ER_CON_COUNT_ERROR: Too many connections\",\"code\":\"ER_CON_COUNT_ERROR\"}";

const SECRET_200: &str = "2026-11-29T10:00:01.123Z\t3f1c2a9e-1b2c-4d5e-8f90-0a1b2c3d4e5f\tERROR\tlogin failed \
user=bob password=Tr0ub4dor&3x via Authorization: Bearer mF_9.B5f-4.1JqM host=db.internal attempts=3";

/// A 1,000-byte line: a JSON log record with a stack trace in its message.
fn long_line(secret: bool) -> String {
    let mut message = String::from("Error: upstream call failed");
    if secret {
        message.push_str(" with aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    }
    let mut frame = 0;
    while message.len() < 860 {
        message.push_str(&format!(
            "\n    at Object.handler (/var/task/src/orders/index.js:{}:{})",
            40 + frame,
            frame * 7 % 80
        ));
        frame += 1;
    }
    let mut line = serde_json::json!({
        "timestamp": "2026-11-29T10:00:01.123Z",
        "level": "ERROR",
        "requestId": "3f1c2a9e-1b2c-4d5e-8f90-0a1b2c3d4e5f",
        "message": message,
    })
    .to_string();
    line.truncate(1_000);
    line
}

fn bench(c: &mut Criterion) {
    // Compile the rules outside the timings.
    black_box(redact("warm up", &[]));
    let long_plain = long_line(false);
    let long_secret = long_line(true);
    let mut group = c.benchmark_group("redact");
    for (name, line) in [
        ("200 B, no secret", PLAIN_200),
        ("200 B, password and Bearer", SECRET_200),
        ("1000 B, no secret", long_plain.as_str()),
        ("1000 B, secret key", long_secret.as_str()),
    ] {
        group.throughput(Throughput::Bytes(line.len() as u64));
        group.bench_function(name, |b| b.iter(|| redact(black_box(line), &[]).len()));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
