//! Masks secrets in log lines before they leave in a notice: AWS access keys, secret keys and
//! session tokens, bearer and basic credentials, JWTs, passwords in URLs, and `key=value` or
//! `"key": "value"` pairs whose key says secret. The config adds patterns of its own.

use std::sync::LazyLock;

use regex::Regex;

/// What a masked value is replaced with.
pub const MASK: &str = "****";

static BUILT_IN: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        // Access key ids keep their four-letter prefix, which says what kind of key leaked.
        (r"\b(AKIA|ASIA|AIDA|AROA|ANPA)[A-Z0-9]{16}\b", "${1}****"),
        (
            r"(?i)\b(aws_secret_access_key|secretaccesskey|aws_session_token|sessiontoken)(\W{1,4})[A-Za-z0-9/+=]{16,}",
            "${1}${2}****",
        ),
        (r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}", "${1} ****"),
        (r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}", "****"),
        (r"\b([a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+):[^@\s/]+@", "${1}:****@"),
        (
            r#"(?i)\b(password|passwd|pwd|secret|client_secret|token|access_token|refresh_token|api_key|apikey|api-key|x-api-key|authorization)(["']?\s*[:=]\s*["']?)[^\s"'&,;}]+"#,
            "${1}${2}****",
        ),
    ]
    .into_iter()
    .map(|(pattern, replacement)| (Regex::new(pattern).expect("built-in redaction patterns compile"), replacement))
    .collect()
});

/// `line` with every secret masked; `extra` patterns (from the config) are masked whole.
pub fn redact(line: &str, extra: &[Regex]) -> String {
    let mut out = line.to_string();
    for (pattern, replacement) in BUILT_IN.iter() {
        if pattern.is_match(&out) {
            out = pattern.replace_all(&out, *replacement).into_owned();
        }
    }
    for pattern in extra {
        if pattern.is_match(&out) {
            out = pattern.replace_all(&out, MASK).into_owned();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_and_the_rest_is_kept() {
        let cases = [
            ("using key AKIAIOSFODNN7EXAMPLE for s3", "using key AKIA**** for s3"),
            (
                "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY done",
                "aws_secret_access_key=**** done",
            ),
            ("Authorization: Bearer abcdefghijklmnop.qrs", "Authorization: **** ****"),
            ("header Bearer abcdefghijklmnop", "header Bearer ****"),
            ("token eyJhbGciOi.eyJzdWIiOiIx.SflKxwRJSMeKKF2QT4", "token ****"),
            (
                "connect postgres://app:hunter2@db.internal:5432/main failed",
                "connect postgres://app:****@db.internal:5432/main failed",
            ),
            (
                "login failed password=hunter2 user=bob",
                "login failed password=**** user=bob",
            ),
            (
                r#"{"user":"bob","password":"hunter2"}"#,
                r#"{"user":"bob","password":"****"}"#,
            ),
            ("api_key: sk_live_123456 rejected", "api_key: **** rejected"),
            (
                "nothing secret about Too many connections",
                "nothing secret about Too many connections",
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(redact(line, &[]), expected, "{line}");
        }
    }

    #[test]
    fn config_patterns_mask_their_whole_match() {
        let extra = [Regex::new(r"acct-\d+").unwrap()];
        assert_eq!(redact("customer acct-991 failed", &extra), "customer **** failed");
    }
}
