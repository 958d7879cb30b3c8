//! End to end: the real `watchdog-lambda` binary under cargo-lambda's Lambda runtime emulator
//! (`cargo lambda watch`), with moto_server standing in for SNS and SQS. Every file in `events/`
//! is invoked over HTTP, in name order, like deliveries to one warm container; the EMF documents
//! the function prints must be valid and add up to `tests/data/expected-counts.json`.
//!
//! The tools come from `.venv/` (`scripts/venv` installs them, and this test runs it). A missing
//! tool fails the test with what to do; it never skips.

mod common;

use common::moto::Moto;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_sqs::types::QueueAttributeName;
use common::{event_files, expected_counts, map_batches, root, totals};
use lambda_watchdog::emf::check_document;
use serde_json::Value;

/// The namespace passed in `WATCHDOG_NAMESPACE`, as the template passes `MetricNamespace`; it
/// differs from watchdog.toml's so the test sees the variable win.
const NAMESPACE: &str = "LambdaWatchdog/EndToEnd";

/// The first invocation makes `cargo lambda watch` build the function (a debug build of the AWS
/// SDK takes about 4 minutes on 2 cores from scratch); later ones answer in milliseconds.
const FIRST_INVOKE: Duration = Duration::from_secs(10 * 60);
const LATER_INVOKE: Duration = Duration::from_secs(60);

/// A started process and everything it has printed, line by line.
struct Started {
    name: &'static str,
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Started {
    /// Starts `command` in a process group of its own (so that stopping it also stops what it
    /// started: cargo-lambda runs cargo, which runs the function) with both outputs collected.
    fn spawn(name: &'static str, mut command: Command) -> Started {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {name} ({command:?}): {e}"));
        let stdout = collect_lines(child.stdout.take().expect("piped stdout"));
        let stderr = collect_lines(child.stderr.take().expect("piped stderr"));
        Started {
            name,
            child,
            stdout,
            stderr,
        }
    }

    fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Its output so far, for failure messages.
    fn transcript(&self) -> String {
        let tail = |lines: Vec<String>| lines[lines.len().saturating_sub(40)..].join("\n");
        format!(
            "--- {} stdout (last 40 lines):\n{}\n--- {} stderr (last 40 lines):\n{}",
            self.name,
            tail(self.stdout()),
            self.name,
            tail(self.stderr())
        )
    }

    /// Fails the test if the process has exited.
    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited early ({status})\n{}", self.name, self.transcript());
        }
    }
}

impl Drop for Started {
    /// Stops the process group: TERM, then KILL after 5 s. Runs on failure too (unwinding).
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let signal = |sig: &str| {
            let _ = Command::new("kill")
                .args([sig, "--", &group])
                .stderr(Stdio::null())
                .status();
        };
        signal("-TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // The group may outlive its leader (the function under cargo run): KILL it regardless.
        signal("-KILL");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect_lines(pipe: impl Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            match line {
                Ok(line) => sink.lock().unwrap().push(line),
                Err(_) => break,
            }
        }
    });
    lines
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A minimal HTTP/1.1 exchange (no client crate needed): status and body.
fn http(port: u16, method: &str, path: &str, body: &[u8], timeout: Duration) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {head:?}")))?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:") && l.to_ascii_lowercase().contains("chunked")
    });
    Ok((status, if chunked { dechunk(body) } else { body.to_string() }))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// Waits until something answers HTTP on the port, failing if the process exits or time runs out.
fn wait_for_http(process: &mut Started, port: u16, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        if http(port, "GET", "/", b"", Duration::from_secs(5)).is_ok() {
            return;
        }
        process.assert_running();
        if Instant::now() > deadline {
            panic!(
                "{} did not answer on port {port} within {within:?}\n{}",
                process.name,
                process.transcript()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `.venv/bin/<tool>`, after `scripts/venv` made sure the virtual environment is complete.
fn venv_tool(root: &Path, tool: &str) -> PathBuf {
    let path = root.join(".venv/bin").join(tool);
    assert!(
        path.is_file(),
        "{} is missing although scripts/venv succeeded: check scripts/requirements.txt (it must list moto[server] and cargo-lambda)",
        path.display()
    );
    path
}

fn run_scripts_venv(root: &Path) {
    let output = Command::new(root.join("scripts/venv"))
        .current_dir(root)
        .output()
        .unwrap_or_else(|e| panic!("could not run scripts/venv (it needs bash and python3): {e}"));
    assert!(
        output.status.success(),
        "scripts/venv failed ({}); it installs moto_server and cargo-lambda into .venv/ and needs python3 \
         with venv or virtualenv and access to the Python package index:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Moves every log event of a saved event by the same whole number of minutes, so that the samples
/// (logged on 2026-11-29) fall in the last half hour: the function runs on the wall clock, and EMF
/// drops metrics more than 14 days old. Whole minutes keep every metric in the same minute as in
/// a replay. Batches that do not decode (the malformed samples) stay byte for byte as they are.
fn shift_to_recent_past(event: &mut Value, shift_ms: i64) {
    map_batches(event, |batch| {
        for e in batch["logEvents"].as_array_mut().into_iter().flatten() {
            if let Some(t) = e["timestamp"].as_i64() {
                e["timestamp"] = Value::from(t + shift_ms);
            }
        }
    });
}

fn earliest_sample_timestamp(events: &[Value]) -> i64 {
    let mut earliest = i64::MAX;
    for event in events {
        let mut copy = event.clone();
        map_batches(&mut copy, |batch| {
            for e in batch["logEvents"].as_array().into_iter().flatten() {
                earliest = earliest.min(e["timestamp"].as_i64().unwrap_or(i64::MAX));
            }
        });
    }
    assert!(earliest < i64::MAX, "no log events in the samples");
    earliest
}

/// A message SQS received from the notices topic (RawMessageDelivery off: an SNS envelope).
#[derive(Debug)]
struct Delivered {
    body: Value,
}

// NOTICES, read back from SQS: every notice the function counted as sent arrives through the
// topic, as the machine-readable JSON SQS subscribers get, with the attributes filter policies use.
fn check_notices(topic_arn: &str, delivered: &[Delivered], processor: &BTreeMap<String, f64>) {
    let sent = processor.get("NoticesSent").copied().unwrap_or(0.0);
    assert_eq!(
        processor.get("NoticeFailures").copied().unwrap_or(0.0),
        0.0,
        "no notice may fail with SNS up"
    );
    assert!(sent >= 10.0, "the samples call for alerts and advice; {sent} sent");
    assert_eq!(delivered.len() as f64, sent, "every notice sent arrives");
    let mut seen = Vec::new();
    for d in delivered {
        assert_eq!(d.body["Type"], "Notification", "not an SNS notification: {}", d.body);
        assert_eq!(d.body["TopicArn"], topic_arn, "from another topic: {}", d.body);
        let subject = d.body["Subject"].as_str().unwrap_or_default();
        assert!(subject.starts_with("[watchdog] ") && subject.len() <= 100, "{subject}");
        let notice: Value = serde_json::from_str(d.body["Message"].as_str().unwrap()).expect("the JSON notice");
        let attrs = &d.body["MessageAttributes"];
        assert_eq!(attrs["function"]["Value"], notice["function"], "{}", d.body);
        assert_eq!(attrs["class"]["Value"], notice["class"], "{}", d.body);
        assert!(attrs["severity"]["Value"].is_string(), "{}", d.body);
        assert_ne!(
            notice["function"], "lambda-watchdog",
            "nothing from the excluded own group"
        );
        seen.push(format!(
            "{}/{}",
            notice["function"].as_str().unwrap(),
            notice["class"].as_str().unwrap()
        ));
    }
    for want in [
        "uploader/Timeouts",
        "uploader/OutOfMemory",
        "orch-files/TooManyConnections",
        "orch-user/RateLimited",
        "scraper-worker/ChunkSize",
    ] {
        assert!(seen.iter().any(|s| s == want), "no {want} notice among {seen:?}");
    }
    eprintln!("e2e: {} notices arrived through SNS and SQS", delivered.len());
}

struct Fleet {
    sns: aws_sdk_sns::Client,
    sqs: aws_sdk_sqs::Client,
    topic_arn: String,
    queue_url: String,
}

impl Fleet {
    /// The notices topic and a queue subscribed to it, on moto.
    async fn create(moto: &Moto) -> Fleet {
        let config = moto.sdk_config().await;
        let sns = aws_sdk_sns::Client::new(&config);
        let sqs = aws_sdk_sqs::Client::new(&config);
        let topic_arn = sns
            .create_topic()
            .name("lambda-watchdog-notices")
            .send()
            .await
            .expect("moto creates the topic")
            .topic_arn
            .expect("a topic ARN");
        let queue_url = sqs
            .create_queue()
            .queue_name("lambda-watchdog-notices-e2e")
            .send()
            .await
            .expect("moto creates the queue")
            .queue_url
            .expect("a queue URL");
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("moto gives the queue's attributes");
        let queue_arn = attributes
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .expect("a queue ARN")
            .clone();
        sns.subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .attributes("RawMessageDelivery", "false")
            .send()
            .await
            .expect("moto subscribes the queue");
        Fleet {
            sns,
            sqs,
            topic_arn,
            queue_url,
        }
    }

    /// Everything waiting in the queue (deleted as read).
    async fn drain(&self) -> Vec<Delivered> {
        let mut out = Vec::new();
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .expect("moto receives");
            let messages = received.messages();
            if messages.is_empty() {
                return out;
            }
            for m in messages {
                let body = m.body().unwrap_or_default();
                out.push(Delivered {
                    body: serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}")),
                });
                if let Some(handle) = m.receipt_handle() {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .expect("moto deletes");
                }
            }
        }
    }
}

/// `cargo lambda watch` on `port`, in the repository, with the cargo that runs this test first
/// on the PATH (cargo-lambda runs `cargo run`).
fn watch_command(root: &Path, cargo_lambda: &Path, port: u16) -> Command {
    let mut path = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).collect::<Vec<_>>();
    if let Some(cargo_dir) = std::env::var_os("CARGO")
        .map(PathBuf::from)
        .and_then(|c| c.parent().map(Path::to_path_buf))
    {
        path.insert(0, cargo_dir);
    }
    path.insert(0, root.join(".venv/bin"));
    let mut command = Command::new(cargo_lambda);
    command
        .args(["lambda", "watch", "--ignore-changes", "--invoke-address", "127.0.0.1"])
        .args(["--invoke-port", &port.to_string()])
        .current_dir(root)
        .env("PATH", std::env::join_paths(path).expect("a valid PATH"));
    command
}

#[test]
fn a_bad_config_fails_the_cold_start_through_the_runtime_apis_init_error_call() {
    let root = root();
    run_scripts_venv(&root);
    let cargo_lambda = venv_tool(&root, "cargo-lambda");
    let port = free_port();
    let mut command = watch_command(&root, &cargo_lambda, port);
    command
        .env(
            "WATCHDOG_CONFIG",
            "namespace = \"LambdaWatchdog\"\n[defaults]\nnear_timeout_ration = 0.9\n",
        )
        .env("RUST_LOG", "info")
        .env_remove("WATCHDOG_TOPIC_ARN");
    let mut watch = Started::spawn("cargo lambda watch", command);
    wait_for_http(&mut watch, port, Duration::from_secs(60));
    let invoke_path = "/2015-03-31/functions/watchdog-lambda/invocations";
    let (status, body) = http(port, "POST", invoke_path, b"{}", FIRST_INVOKE)
        .unwrap_or_else(|e| panic!("invoking: {e}\n{}", watch.transcript()));
    let transcript = watch.transcript();
    // cargo-lambda's emulator answers 200 with the error body for a failed init (Lambda answers
    // the invoke with the error too): the body is what says the function could not start.
    let _ = status;
    let error: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}\n{transcript}"));
    let message = error["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("the config is not valid TOML at line 3, column 1: unknown field `near_timeout_ration`"),
        "the invoke says what is wrong and where: {body}\n{transcript}"
    );
    assert_eq!(error["errorType"], "Runtime.ConfigError", "{body}");
    assert!(
        !transcript.contains("Toml {"),
        "no Debug struct in the logs:\n{transcript}"
    );
}

#[test]
fn every_sample_event_through_the_lambda_runtime_emulator() {
    let root = root();
    run_scripts_venv(&root);
    let cargo_lambda = venv_tool(&root, "cargo-lambda");

    let moto = Moto::start();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let fleet = runtime.block_on(Fleet::create(&moto));
    // The plumbing works before the function runs, so a missing notice later is the function's.
    let canary = runtime.block_on(async {
        fleet
            .sns
            .publish()
            .topic_arn(&fleet.topic_arn)
            .message("e2e canary")
            .send()
            .await
            .expect("moto publishes");
        fleet.drain().await
    });
    assert_eq!(
        canary.len(),
        1,
        "the canary did not arrive through SNS and SQS: {canary:?}"
    );
    assert_eq!(
        canary[0].body["Message"], "e2e canary",
        "RawMessageDelivery must be off"
    );

    // The containers' shared state, as the template creates it: the function decides every
    // count through it.
    runtime.block_on(async {
        let config = moto.sdk_config().await;
        lambda_watchdog::state::create_table(&aws_sdk_dynamodb::Client::new(&config), "e2e-state")
            .await
            .expect("moto creates the state table");
    });

    let watch_port = free_port();
    let mut command = watch_command(&root, &cargo_lambda, watch_port);
    command
        .env("WATCHDOG_STATE_TABLE", "e2e-state")
        .env(
            "WATCHDOG_CONFIG",
            // Counts that wait for a later batch are held one second, so the redelivery below
            // settles them (a top-level key goes before the file's tables).
            format!(
                "hold_seconds = 1\n{}",
                std::fs::read_to_string(root.join("watchdog.toml")).unwrap()
            ),
        )
        .env("WATCHDOG_NAMESPACE", NAMESPACE)
        .env("WATCHDOG_TOPIC_ARN", &fleet.topic_arn)
        .envs(moto.env())
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("RUST_LOG", "info")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN");
    let mut watch = Started::spawn("cargo lambda watch", command);
    wait_for_http(&mut watch, watch_port, Duration::from_secs(60));

    let files = event_files();
    let mut events: Vec<Value> = files
        .iter()
        .map(|f| serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap())
        .collect();
    let minute = 60_000;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    let earliest = earliest_sample_timestamp(&events);
    let shift = (now / minute - 30) * minute - earliest / minute * minute;
    for event in &mut events {
        shift_to_recent_past(event, shift);
    }

    let invoke_path = "/2015-03-31/functions/watchdog-lambda/invocations";
    for (i, (file, event)) in files.iter().zip(&events).enumerate() {
        let name = file.file_name().unwrap().to_string_lossy();
        let timeout = if i == 0 { FIRST_INVOKE } else { LATER_INVOKE };
        let started = Instant::now();
        let (status, body) = http(watch_port, "POST", invoke_path, event.to_string().as_bytes(), timeout)
            .unwrap_or_else(|e| panic!("invoking with {name}: {e}\n{}", watch.transcript()));
        if i == 0 {
            eprintln!("e2e: first invocation (with the build) took {:?}", started.elapsed());
        }
        assert_eq!(status, 200, "{name}: {body}\n{}", watch.transcript());
        let response: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{name}: {e}: {body}"));
        let want = if event.get("Records").is_some() {
            serde_json::json!({"batchItemFailures": []})
        } else {
            Value::Null
        };
        assert_eq!(response, want, "{name}: the response must never ask Lambda to retry");
    }
    // The first file once more, after the hold: a duplicate delivery, which counts nothing but
    // DuplicateBatches, and the event that settles what the last batches of each stream held.
    std::thread::sleep(Duration::from_millis(1_500));
    let (status, body) = http(
        watch_port,
        "POST",
        invoke_path,
        events[0].to_string().as_bytes(),
        LATER_INVOKE,
    )
    .unwrap_or_else(|e| panic!("invoking with the first file again: {e}\n{}", watch.transcript()));
    assert_eq!(status, 200, "the redelivery: {body}");
    let invocations = files.len() + 1;

    // Each invocation logs "Processed an event." after its documents and notices are out; then
    // the documents are in the pipe, and a short quiet spell lets the reader take them.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let done = watch
            .stderr()
            .iter()
            .chain(watch.stdout().iter())
            .filter(|l| l.contains("Processed an event."))
            .count();
        if done >= invocations {
            break;
        }
        watch.assert_running();
        assert!(
            Instant::now() < deadline,
            "{done} of {invocations} invocations logged \"Processed an event.\"\n{}",
            watch.transcript()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut seen = 0;
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = watch.stdout().len();
        if now == seen {
            break;
        }
        seen = now;
    }

    let documents: Vec<String> = watch.stdout().into_iter().filter(|l| l.starts_with('{')).collect();
    assert!(
        documents.len() > 20,
        "only {} EMF documents\n{}",
        documents.len(),
        watch.transcript()
    );
    for doc in &documents {
        check_document(doc).unwrap_or_else(|e| panic!("{e}: {doc}"));
        let value: Value = serde_json::from_str(doc).unwrap();
        for directive in value["_aws"]["CloudWatchMetrics"].as_array().unwrap() {
            assert_eq!(directive["Namespace"], NAMESPACE, "WATCHDOG_NAMESPACE must win: {doc}");
        }
    }

    let expected = expected_counts();
    let got = totals(&documents, "FunctionName");
    for (function, metrics) in expected.iter().filter(|(f, _)| !f.starts_with('_')) {
        for (metric, want) in metrics {
            // Strict: a built-in metric the documents do not carry is a failure, never a 0; only
            // a rule that does not apply to the function (expected 0) is absent.
            let builtin = lambda_watchdog::metrics::Metric::COUNTS
                .iter()
                .any(|m| m.name() == metric);
            let have = match got.get(function).and_then(|m| m.get(metric)) {
                Some(n) => *n,
                None if !builtin && *want == 0 => 0.0,
                None => panic!("{function} has no metric named {metric}"),
            };
            assert_eq!(have, *want as f64, "{function} {metric}");
        }
        assert_eq!(
            got[function].get("Duration").copied().unwrap_or(0.0),
            got[function]["Invocations"],
            "{function}: one Duration value per invocation"
        );
    }
    let functions: Vec<&String> = got.keys().collect();
    let expected_functions: Vec<&String> = expected.keys().filter(|f| !f.starts_with('_')).collect();
    assert_eq!(functions, expected_functions, "the excluded own group must not appear");

    let processor = totals(&documents, "Processor");
    assert_eq!(processor.len(), 1, "one processor: {:?}", processor.keys());
    let processor: &BTreeMap<String, f64> = processor.values().next().unwrap();
    for (metric, want) in &expected["_processor"] {
        assert_eq!(processor[metric], *want as f64, "Processor {metric}");
    }
    assert_eq!(processor["BatchesExcluded"], 1.0, "the own group's batch");
    assert_eq!(processor["DuplicateBatches"], 1.0, "the first file, delivered again");
    assert_eq!(
        processor["EventsTooOld"], 0.0,
        "the samples were moved to the recent past"
    );
    assert_eq!(processor["EventsTooNew"], 0.0);
    assert_eq!(processor["MessagesRepaired"], 0.0, "the samples are UTF-8");
    assert_eq!(
        processor["StateFallbacks"], 0.0,
        "every count went through the state table"
    );

    let delivered = runtime.block_on(fleet.drain());
    check_notices(&fleet.topic_arn, &delivered, processor);
}

/// The fleet dead-letter check end to end: the queue's alarm event invoked over HTTP into the
/// real binary under the emulator, which peeks at the queue on moto, reads the failed
/// invocation's lines from moto's CloudWatch Logs, and publishes one notice through SNS; the
/// message stays in the queue.
#[test]
fn a_dead_letter_alarm_through_the_lambda_runtime_emulator() {
    let root = root();
    run_scripts_venv(&root);
    let cargo_lambda = venv_tool(&root, "cargo-lambda");
    let moto = Moto::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let fleet = runtime.block_on(Fleet::create(&moto));
    let id = "0b6f2a1e-5d4c-4b3a-9e8f-7a6b5c4d3e2f";
    let dlq_url = runtime.block_on(async {
        let config = moto.sdk_config().await;
        let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
        let group = "/aws/lambda/uploader";
        let stream = "2026/11/29/[$LATEST]4f1e2d3c4b5a6978";
        logs.create_log_group().log_group_name(group).send().await.expect("log group");
        logs.create_log_stream()
            .log_group_name(group)
            .log_stream_name(stream)
            .send()
            .await
            .expect("log stream");
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
        let lines = [
            (now - 20_000, format!("START RequestId: {id} Version: $LATEST\n")),
            (now - 17_000, format!("2026-11-29T10:00:03.000Z {id} Task timed out after 3.00 seconds\n")),
            (now - 16_999, format!("END RequestId: {id}\n")),
            (
                now - 16_998,
                format!("REPORT RequestId: {id}\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 60 MB\tStatus: timeout\n"),
            ),
        ];
        logs.put_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .set_log_events(Some(
                lines
                    .into_iter()
                    .map(|(t, m)| {
                        aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                            .timestamp(t)
                            .message(m)
                            .build()
                            .unwrap()
                    })
                    .collect(),
            ))
            .send()
            .await
            .expect("log events");
        let dlq_url = fleet
            .sqs
            .create_queue()
            .queue_name("uploader-dlq")
            .send()
            .await
            .expect("dead-letter queue")
            .queue_url
            .expect("a queue URL");
        let attribute = |v: &str| {
            aws_sdk_sqs::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .unwrap()
        };
        fleet
            .sqs
            .send_message()
            .queue_url(&dlq_url)
            .message_body(r#"{"key":"reports/7.csv"}"#)
            .message_attributes("RequestID", attribute(id))
            .message_attributes("ErrorMessage", attribute("Task timed out after 3.00 seconds"))
            .send()
            .await
            .expect("the dead letter");
        dlq_url
    });

    let watch_port = free_port();
    let mut command = watch_command(&root, &cargo_lambda, watch_port);
    command
        .env(
            "WATCHDOG_CONFIG",
            "[[queue]]\nname = \"uploader-dlq\"\nfunction = \"uploader\"\n",
        )
        .env("WATCHDOG_DEAD_LETTER_QUEUES", "uploader-dlq")
        .env("WATCHDOG_TOPIC_ARN", &fleet.topic_arn)
        .envs(moto.env())
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("RUST_LOG", "info")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN");
    let mut watch = Started::spawn("cargo lambda watch", command);
    wait_for_http(&mut watch, watch_port, Duration::from_secs(60));
    let event = std::fs::read(root.join("tests/data/dlq-alarm-event.json")).unwrap();
    let (status, body) = http(
        watch_port,
        "POST",
        "/2015-03-31/functions/watchdog-lambda/invocations",
        &event,
        FIRST_INVOKE,
    )
    .unwrap_or_else(|e| panic!("invoking with the alarm event: {e}\n{}", watch.transcript()));
    assert_eq!(status, 200, "{body}\n{}", watch.transcript());
    let response: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(response["dead_letter_check"][0]["result"], "published", "{response}");

    let delivered = runtime.block_on(fleet.drain());
    assert_eq!(delivered.len(), 1, "one notice for the queue: {delivered:?}");
    let envelope = &delivered[0].body;
    assert_eq!(
        envelope["Subject"], "[watchdog] dead letters: 1 message in uploader-dlq (Timeouts)",
        "{envelope}"
    );
    assert_eq!(
        envelope["MessageAttributes"]["class"]["Value"], "DeadLetters",
        "{envelope}"
    );
    // The queue subscriber gets the notice as JSON.
    let notice: Value = serde_json::from_str(envelope["Message"].as_str().unwrap()).expect("the JSON notice");
    let m = &notice["messages"][0];
    assert_eq!(m["request_ids"], serde_json::json!([id]), "{notice}");
    assert_eq!(m["classes"], serde_json::json!(["Timeouts"]), "{notice}");
    assert!(
        m["lines"].as_array().unwrap().iter().any(|l| l["message"]
            .as_str()
            .unwrap()
            .contains("Task timed out after 3.00 seconds")),
        "{notice}"
    );
    assert!(
        m["log_link"]
            .as_str()
            .unwrap()
            .starts_with("https://us-east-1.console.aws.amazon.com/cloudwatch/home"),
        "{notice}"
    );
    assert_eq!(notice["insights_links"][0][0], "/aws/lambda/uploader", "{notice}");
    assert!(
        notice["queue_link"]
            .as_str()
            .unwrap()
            .starts_with("https://us-east-1.console.aws.amazon.com/sqs/v3/home"),
        "{notice}"
    );
    let visible = runtime.block_on(async {
        fleet
            .sqs
            .get_queue_attributes()
            .queue_url(&dlq_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .expect("queue attributes")
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
            .cloned()
    });
    assert_eq!(visible.as_deref(), Some("1"), "the dead letter is still in the queue");
}
