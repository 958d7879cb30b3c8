//! Redaction against a corpus of secrets in realistic log lines (`tests/data/secrets.txt`) and of
//! look-alikes that must stay readable (`tests/data/not-secrets.txt`).

use lambda_watchdog::notify::redact::{MASK, redact};

struct Case {
    kind: String,
    /// The line as logged.
    line: String,
    /// The line as a notice must show it.
    expected: String,
    /// The marked secrets.
    secrets: Vec<String>,
}

/// Reads `KIND<TAB>LINE` rows whose secrets are marked `«…»`.
fn corpus() -> Vec<Case> {
    let text = include_str!("data/secrets.txt");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|row| {
            let (kind, marked) = row.split_once('\t').expect("KIND<TAB>LINE");
            let (mut line, mut expected, mut secrets) = (String::new(), String::new(), Vec::new());
            let mut rest = marked;
            while let Some(open) = rest.find('«') {
                let close = rest[open..].find('»').expect("a closing mark") + open;
                line.push_str(&rest[..open]);
                expected.push_str(&rest[..open]);
                let secret = &rest[open + '«'.len_utf8()..close];
                line.push_str(secret);
                expected.push_str(MASK);
                secrets.push(secret.to_string());
                rest = &rest[close + '»'.len_utf8()..];
            }
            line.push_str(rest);
            expected.push_str(rest);
            assert!(!secrets.is_empty(), "{kind}: no secret marked");
            Case {
                kind: kind.to_string(),
                line,
                expected,
                secrets,
            }
        })
        .collect()
}

#[test]
fn every_secret_in_the_corpus_is_masked_and_the_words_around_it_stay() {
    let cases = corpus();
    let mut failures = Vec::new();
    for case in &cases {
        let redacted = redact(&case.line, &[]);
        for secret in &case.secrets {
            if redacted.contains(secret.as_str()) {
                failures.push(format!("{}: the secret {secret:?} survived in {redacted}", case.kind));
            }
        }
        if redacted != case.expected {
            failures.push(format!(
                "{}:\n  got      {redacted}\n  expected {}",
                case.kind, case.expected
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_corpus_covers_at_least_thirty_kinds_of_secret() {
    let mut kinds: Vec<String> = corpus().into_iter().map(|c| c.kind).collect();
    kinds.sort();
    kinds.dedup();
    assert!(kinds.len() >= 30, "{} kinds: {kinds:?}", kinds.len());
}

#[test]
fn redacting_twice_changes_nothing_more() {
    for case in corpus() {
        let once = redact(&case.line, &[]).into_owned();
        assert_eq!(redact(&once, &[]), once, "{}", case.kind);
    }
}

#[test]
fn redacted_json_lines_stay_json() {
    for case in corpus().iter().filter(|c| c.line.starts_with('{')) {
        assert!(
            serde_json::from_str::<serde_json::Value>(&case.line).is_ok(),
            "{}: the corpus line itself is not JSON",
            case.kind
        );
        let redacted = redact(&case.line, &[]);
        assert!(
            serde_json::from_str::<serde_json::Value>(&redacted).is_ok(),
            "{}: {redacted}",
            case.kind
        );
    }
}

#[test]
fn look_alikes_of_secrets_are_left_as_they_are() {
    let text = include_str!("data/not-secrets.txt");
    let mut failures = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let redacted = redact(line, &[]);
        if redacted != line {
            failures.push(format!("  was {line}\n  now {redacted}"));
        }
    }
    assert!(failures.is_empty(), "masked without a secret:\n{}", failures.join("\n"));
}
