//! Masks secrets in log lines before they leave in a notice. Every line that reaches a notice
//! (sample, context line, fingerprint, fingerprint example, request id) is redacted whole
//! first, then cut to what the notice shows, then fingerprinted: a cut never splits a secret
//! out of the pattern that recognises it.
//!
//! # What is masked
//!
//! A mask replaces the secret, not the name next to it: `password=[REDACTED]`,
//! `Authorization: Bearer [REDACTED]`, `AKIA[REDACTED]`. The mask is always [`MASK`], whatever
//! the secret's length, and keeps no part of the secret beyond a public prefix that says what
//! kind of secret it was (the prefixes listed below, as published by their issuers and used by
//! gitleaks and trufflehog). The rules, in the order they run:
//!
//! | Kind | Shape (informal) | Becomes |
//! |------|------------------|---------|
//! | Private keys | `-----BEGIN … PRIVATE KEY-----` … `-----END … PRIVATE KEY-----` (RSA, EC, DSA, OPENSSH, ENCRYPTED, PGP … BLOCK); a block without its end is masked to the end of the line | header `[REDACTED]` footer |
//! | URL credentials | `scheme://user:password@host`, the user may be empty (`redis://:pw@`), the password may hold `/`, `@` and `:` | `scheme://user:[REDACTED]@host` |
//! | Cookie headers | `Cookie:` / `Set-Cookie:` up to the end of the header value | `Cookie: [REDACTED]` |
//! | Secret-named keys | `key=value`, `key: value`, `key => value`, `"key": "value"`, `'key': 'value'`, `\"key\":\"value\"` inside a JSON string, `key: ["value"]`, when the key's last word is a secret word (below) | `key=[REDACTED]` |
//! | Secret-named XML elements | `<password>…</password>`, same key words | `<password>[REDACTED]</password>` |
//! | Bare Bearer/Basic credentials | `Bearer <token68>`, `Basic <base64>` anywhere in text | `Bearer [REDACTED]` |
//! | Prefixed tokens | AWS access key ids `AKIA`/`ASIA`/`ABIA`/`ACCA`/`AGPA`/`AIDA`/`AIPA`/`ANPA`/`ANVA`/`AROA`/`APKA`/`ASCA` + 16; GitHub `ghp_`/`gho_`/`ghu_`/`ghs_`/`ghr_`/`github_pat_`; GitLab `glpat-`; Slack `xoxa-`/`xoxb-`/`xoxp-`/`xoxo-`/`xoxr-`/`xoxs-`/`xapp-` and `https://hooks.slack.com/services/…` webhooks; Stripe `sk_`/`rk_`/`pk_` + `live_`/`test_`, `whsec_`; Google API keys `AIza` + 35; npm `npm_`; PyPI `pypi-AgEIcHlwaS5vcmc`; OpenAI/Anthropic `sk-`, `sk-proj-`, `sk-ant-api03-`; SendGrid `SG.`; Hugging Face `hf_`; DigitalOcean `dop_v1_`/`doo_v1_`/`dor_v1_`; Shopify `shpat_`/`shpca_`/`shppa_`/`shpss_`; Square `sq0atp-`/`sq0csp-`; Mailgun `key-` + 32 | prefix `[REDACTED]` |
//! | AWS session tokens | base64 starting `IQoJb3JpZ2luX2Vj`, `FwoGZXIvYXdz` or `FQoGZXIvYXdz` | `[REDACTED]` |
//! | JWTs | `eyJ…` with up to four more dot-separated parts (JWS and JWE), also cut short | `[REDACTED]` |
//! | Card numbers | 13 to 19 digits, optionally grouped by spaces or dashes, starting with an issuer digit (2221-2720, 3, 4, 5, 6), passing the Luhn check and not part of a longer number | `[REDACTED]` |
//! | AWS secret access keys | exactly 40 of `A-Za-z0-9/+`, alone (not part of a longer base64 run), with upper- and lower-case letters and not all hex | `[REDACTED]` |
//! | Config patterns | each `notices.redact` regex | its whole match becomes `[REDACTED]` |
//!
//! **Secret words.** A key is split into words at `_`, `-`, `.`, `:` and camelCase humps
//! (`DB_PASSWORD`, `MYSQL_PWD`, `user_password`, `X-Amz-Security-Token`, `sessionId`). It
//! names a secret when its last word is one of `pwd`, `pass`, `pw`, `passcode`, `auth`,
//! `authorization`, `session`, `cookie`, `jwt`, `sid`, `sig`, `signature`, `creds`,
//! `credential(s)`, `otp`, `pin`, `cvv`, `cvc`, `sas`; or ends with `password`, `passwd`,
//! `passphrase`, `secret`, `token`, `apikey`, `secretkey`, `accesskey`, `privatekey`,
//! `sessionid`, `sessid` (so `PGPASSWORD`, `csrftoken`, `JSESSIONID`); or is `key`/`id` after
//! `api`, `access`, `secret`, `private`, `session`, `signing`, `encryption`, `master`, `account`,
//! `client`, `shared`, `auth`, `webhook` (`secret_key`, `x-api-key`, `AccountKey`, `session_id`).
//! Only the last word counts, so `token_count=5`, `max_tokens=1000`, `password_reset_sent=true`,
//! `passed=12`, `bypass=1` and `author=bob` stay readable. After `Authorization`/`auth` keys the
//! scheme stays visible (`Bearer`, `Basic`, `Token`, `ApiKey`, `Digest`, …); schemes whose
//! credentials carry several parameters (`Digest`, `AWS4-HMAC-SHA256`, `Negotiate`, `NTLM`) are
//! masked to the end of the header value.
//!
//! **Where a value ends.** A quoted value ends at its closing quote (or at the end of a line that
//! was cut). An unquoted one ends at whitespace, `"`, `&`, or at `,` `;` `'` `)` `]` `}` `>`
//! followed by whitespace or the end, so `password=ab,cd;ef` is masked whole while
//! `{user=bob, password=hunter2, role=admin}` keeps `role`. JSON escapes (`\"`, `\n`) inside a
//! value are masked with it, so a redacted JSON line stays valid JSON.
//!
//! # Known limits
//!
//! A secret with no recognisable name or shape (a password logged alone, `-pSECRET` flags,
//! `{"Name":"DB_PASSWORD","Value":"…"}` pairs) is not found: add a `notices.redact` pattern.
//! JSON that escapes ASCII letters (`\u0070assword`) hides a key from the rules. Look-alikes are
//! masked on purpose rather than risk a leak: a Luhn-valid 16-digit order id that starts like a
//! card, a 40-character mixed-case word, English such as `token: expired`.
//!
//! # Speed
//!
//! The rules are compiled once per process (lazily, on first use) together with a `RegexSet` of
//! all of them: a line is scanned once by the set, and only the rules the set reports run again
//! to find and replace. A line without secrets costs that one scan and no allocation. Figures are
//! in `benches/redact.rs`.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex, RegexSet};

/// What a masked value is replaced with.
pub const MASK: &str = "[REDACTED]";

/// Which check a candidate match must also pass before it is masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// The match alone is enough.
    None,
    /// The `key` group must name a secret ([`is_secret_key`]).
    SecretKey,
    /// A bare Bearer/Basic value must look like a credential, not an English word.
    Credential,
    /// Luhn, issuer prefix and length, and not part of a longer number.
    Card,
    /// Mixed case and not all hex (an AWS secret key, not a SHA-1).
    AwsSecret,
}

struct Rule {
    check: Check,
    regex: Regex,
    /// Indexes of the groups named `secret…`: the first that took part is masked.
    secrets: Vec<usize>,
}

struct Rules {
    set: RegexSet,
    rules: Vec<Rule>,
}

/// Authorization schemes whose credential is one token.
const SCHEMES: &str =
    r"bearer|basic|token|apikey|api-key|sso-key|key|otp|mac|hoba|dpop|vapid|scram-sha-256|scram-sha-1";
/// Authorization schemes whose credentials are several parameters: masked to the end.
const MULTI_SCHEMES: &str = r"digest|aws4-hmac-sha256|negotiate|ntlm|mutual";
/// Characters an unquoted value never continues through.
const STOP: &str = r#"\s"'\\&,;)\]}>"#;
/// Characters that end an unquoted value only when whitespace or the end follows.
const SOFT_STOP: &str = r"',;&)\]}>";

static RULES: LazyLock<Rules> = LazyLock::new(|| {
    let key_words = r"pass|pw|pwd|secret|token|key|auth|cred|session|sess|cookie|sid|sig|jwt|otp|pin|cvv|cvc|sas";
    let unquoted = format!(r"(?:\\.|[^{STOP}]|[{SOFT_STOP}]+(?:\\.|[^{STOP}]))+");
    let patterns: Vec<(Check, String)> = vec![
        (
            Check::None,
            r"(?s)-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----(?P<secret>.*?)(?:-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----|\z)".into(),
        ),
        (
            Check::None,
            r#"(?-u:\b)[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s/?#@:"'<>\\]*:(?P<secret>(?:[^\s"'<>\\]|\\/)+)@[A-Za-z0-9\[_]"#.into(),
        ),
        (
            Check::None,
            r#"(?i)(?-u:\b)(?:set-)?cookie\\?["']?\s*[:=]\s*(?:\[\s*)?(?:"(?P<secret_dq>(?:[^"\\]|\\.)+)(?:"|\z)|'(?P<secret_sq>(?:[^'\\]|\\.)+)(?:'|\z)|\\"(?P<secret_eq>(?:[^"\\]|\\[^"])+)(?:\\"|\z)|(?P<secret>(?:[^"\\\r\n]|\\[^"])+))"#.into(),
        ),
        (
            Check::SecretKey,
            format!(
                r#"(?P<key>(?-u:\b)[A-Za-z0-9_.-]*(?i:{key_words})[A-Za-z0-9_.-]*)\\?["']?\s*(?:=>|:=|[:=])\s*(?:\[\s*)?(?:"(?:(?P<scheme_dq>(?i:{SCHEMES}|{MULTI_SCHEMES}))\s+)?(?P<secret_dq>(?:[^"\\]|\\.)+)(?:"|\z)|'(?:(?P<scheme_sq>(?i:{SCHEMES}|{MULTI_SCHEMES}))\s+)?(?P<secret_sq>(?:[^'\\]|\\.)+)(?:'|\z)|\\"(?:(?P<scheme_eq>(?i:{SCHEMES}|{MULTI_SCHEMES}))\s+)?(?P<secret_eq>(?:[^"\\]|\\[^"])+)(?:\\"|\z)|(?P<scheme_multi>(?i:{MULTI_SCHEMES}))\s+(?P<secret_multi>(?:[^"\\\r\n]|\\[^"]|"[^"\r\n]*")+)|(?:(?P<scheme>(?i:{SCHEMES}))\s+)?(?P<secret>{unquoted}))"#
            ),
        ),
        (
            Check::SecretKey,
            format!(r"<(?:[A-Za-z][\w.-]*:)?(?P<key>[\w.-]*(?i:{key_words})[\w.-]*)(?:\s[^>]*)?>(?P<secret>[^<]+)</"),
        ),
        (
            Check::Credential,
            r"(?i)(?-u:\b)(?:bearer|basic)\s+(?P<secret>[A-Za-z0-9._~+/=-]{8,})".into(),
        ),
        (
            Check::None,
            [
                r"(?-u:\b)(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA)(?P<secret_aws>[A-Z0-9]{16})(?-u:\b)",
                r"(?-u:\b)gh[pousr]_(?P<secret_gh>[A-Za-z0-9]{20,255})",
                r"(?-u:\b)github_pat_(?P<secret_ghpat>[A-Za-z0-9_]{20,255})",
                r"(?-u:\b)glpat-(?P<secret_gl>[A-Za-z0-9_-]{20,})",
                r"(?-u:\b)(?:xox[abposr]-|xapp-)(?P<secret_slack>[A-Za-z0-9-]{10,})",
                r"https://hooks\.slack\.com/(?:services|workflows|triggers)/(?P<secret_hook>[A-Za-z0-9_/+-]+)",
                r"(?-u:\b)(?:(?:sk|rk|pk)_(?:live|test)_|whsec_)(?P<secret_stripe>[A-Za-z0-9]{10,})",
                r"(?-u:\b)AIza(?P<secret_google>[0-9A-Za-z_-]{35})",
                r"(?-u:\b)npm_(?P<secret_npm>[A-Za-z0-9]{36})",
                r"(?-u:\b)pypi-AgEIcHlwaS5vcmc(?P<secret_pypi>[A-Za-z0-9_-]{20,})",
                r"(?-u:\b)sk-(?:ant-(?:api|admin)\d\d-|proj-|svcacct-|admin-)?(?P<secret_sk>[A-Za-z0-9_-]{20,})",
                r"(?-u:\b)SG\.(?P<secret_sg>[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,})",
                r"(?-u:\b)hf_(?P<secret_hf>[A-Za-z0-9]{30,})",
                r"(?-u:\b)do[opr]_v1_(?P<secret_do>[a-f0-9]{64})",
                r"(?-u:\b)shp(?:at|ca|pa|ss)_(?P<secret_shopify>[a-fA-F0-9]{32})",
                r"(?-u:\b)sq0(?:atp|csp)-(?P<secret_square>[0-9A-Za-z_-]{22,})",
                r"(?-u:\b)key-(?P<secret_mailgun>[0-9a-zA-Z]{32})(?-u:\b)",
                r"(?P<secret_session>(?-u:\b)(?:IQoJb3JpZ2luX2Vj|FwoGZXIvYXdz|FQoGZXIvYXdz)(?:[A-Za-z0-9/+=]|\\/)+)",
                r"(?P<secret_jwt>(?-u:\b)eyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*){0,4})",
            ]
            .join("|"),
        ),
        (
            Check::Card,
            r"(?-u:\b)(?P<secret>[2-6]\d{3}(?:[ -]?\d){9,15})(?-u:\b)".into(),
        ),
        (
            Check::AwsSecret,
            r"(?:^|[^A-Za-z0-9/+=\\])(?P<secret>[A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)".into(),
        ),
    ];
    let rules: Vec<Rule> = patterns
        .iter()
        .map(|(check, pattern)| {
            // The patterns are constants: failing to compile one is a bug caught by every test.
            let regex = Regex::new(pattern).expect("built-in redaction patterns compile");
            let secrets = regex
                .capture_names()
                .enumerate()
                .filter(|(_, name)| name.is_some_and(|n| n.starts_with("secret")))
                .map(|(i, _)| i)
                .collect();
            Rule {
                check: *check,
                regex,
                secrets,
            }
        })
        .collect();
    let set = RegexSet::new(patterns.iter().map(|(_, p)| p)).expect("built-in redaction patterns compile as a set");
    Rules { set, rules }
});

/// `line` with every secret masked (see the module docs for what counts); `extra` patterns
/// (the config's `notices.redact`) are masked whole. Borrowed when nothing was masked.
pub fn redact<'a>(line: &'a str, extra: &[Regex]) -> Cow<'a, str> {
    let rules = &*RULES;
    let mut out = Cow::Borrowed(line);
    // The set is matched against the line as given; a rule that did not match it cannot match
    // after masking, which only replaces text by `[REDACTED]`.
    let present = rules.set.matches(line);
    if present.matched_any() {
        for i in present.iter() {
            if let Some(masked) = apply(&rules.rules[i], &out) {
                out = Cow::Owned(masked);
            }
        }
    }
    for pattern in extra {
        if pattern.is_match(&out) {
            out = Cow::Owned(pattern.replace_all(&out, MASK).into_owned());
        }
    }
    out
}

/// The text with this rule's secrets masked, or `None` when it masked nothing.
fn apply(rule: &Rule, text: &str) -> Option<String> {
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut at = 0;
    while at <= text.len() {
        let Some(caps) = rule.regex.captures_at(text, at) else {
            break;
        };
        let Some(whole) = caps.get(0) else { break };
        let span = rule
            .secrets
            .iter()
            .find_map(|&i| caps.get(i))
            .filter(|s| !s.is_empty() && !already_masked(text, s.start()));
        let accepted = match (rule.check, span) {
            (_, None) => None,
            (Check::Card, Some(s)) => card_within(text, s.start(), s.end()),
            (check, Some(s)) => passes(check, &caps).then(|| (mask_start(check, &caps).unwrap_or(s.start()), s.end())),
        };
        match accepted {
            Some((start, end)) => {
                let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
                o.push_str(&text[copied..start]);
                o.push_str(MASK);
                copied = end;
                at = end;
            }
            None => {
                // Rejected: look again one character later, so a rejected candidate does not
                // hide a secret that starts inside it.
                at = whole.start() + text[whole.start()..].chars().next().map_or(1, char::len_utf8);
            }
        }
    }
    let mut o = out?;
    o.push_str(&text[copied..]);
    Some(o)
}

/// A scheme written in front of a masked value is kept after `Authorization`/`auth` keys
/// (`Bearer [REDACTED]`); after any other key it is masked with the value, since there it may
/// be the secret itself (`password=basic`). Returns where the mask starts when it should start
/// before the value (at the scheme).
fn mask_start(check: Check, caps: &Captures<'_>) -> Option<usize> {
    if check != Check::SecretKey {
        return None;
    }
    let scheme = ["scheme_dq", "scheme_sq", "scheme_eq", "scheme_multi", "scheme"]
        .iter()
        .find_map(|n| caps.name(n))?;
    let key = caps.name("key")?.as_str();
    let last = words(key).pop().unwrap_or_default();
    if matches!(last.as_str(), "authorization" | "auth") {
        None
    } else {
        Some(scheme.start())
    }
}

/// Whether `[REDACTED]` is what a rule would mask again (a value masked by an earlier rule).
fn already_masked(text: &str, start: usize) -> bool {
    let from = &text[start..];
    from.starts_with(MASK) || (from.starts_with("REDACTED]") && text[..start].ends_with('['))
}

fn passes(check: Check, caps: &Captures<'_>) -> bool {
    match check {
        Check::None => true,
        Check::SecretKey => caps.name("key").is_some_and(|k| is_secret_key(k.as_str())),
        Check::Credential => caps.name("secret").is_some_and(|s| {
            let s = s.as_str();
            s.len() >= 20 || s.bytes().any(|b| !b.is_ascii_alphabetic())
        }),
        // Checked by `card_within`, which may narrow the match.
        Check::Card => false,
        Check::AwsSecret => caps.name("secret").is_some_and(|s| {
            let s = s.as_str();
            s.bytes().any(|b| b.is_ascii_uppercase())
                && s.bytes().any(|b| b.is_ascii_lowercase())
                && !s.bytes().all(|b| b.is_ascii_hexdigit())
        }),
    }
}

/// A key's words, lower case: split at `_`, `-`, `.`, `:` and camelCase humps
/// (`XAmzSecurityToken` → x, amz, security, token; `APIKey` → api, key).
fn words(key: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in key.split(['_', '-', '.', ':']).filter(|p| !p.is_empty()) {
        let chars: Vec<char> = part.chars().collect();
        let mut word = String::new();
        for (i, &c) in chars.iter().enumerate() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1).copied();
            let hump = c.is_uppercase()
                && prev.is_some_and(|p| {
                    p.is_lowercase() || p.is_ascii_digit() || (p.is_uppercase() && next.is_some_and(char::is_lowercase))
                });
            if hump && !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            word.extend(c.to_lowercase());
        }
        if !word.is_empty() {
            out.push(word);
        }
    }
    out
}

/// Whether a key names a secret (the "secret words" of the module docs).
pub fn is_secret_key(key: &str) -> bool {
    let words = words(key);
    let Some(last) = words.last() else { return false };
    let last = last.as_str();
    const EXACT: &[&str] = &[
        "pwd",
        "pass",
        "pw",
        "passcode",
        "auth",
        "authorization",
        "session",
        "cookie",
        "jwt",
        "sid",
        "sig",
        "signature",
        "creds",
        "credential",
        "credentials",
        "otp",
        "pin",
        "cvv",
        "cvc",
        "sas",
    ];
    const SUFFIX: &[&str] = &[
        "password",
        "passwd",
        "passphrase",
        "secret",
        "token",
        "apikey",
        "secretkey",
        "accesskey",
        "privatekey",
        "sessionid",
        "sessid",
    ];
    const QUALIFIER: &[&str] = &[
        "api",
        "access",
        "secret",
        "private",
        "session",
        "signing",
        "encryption",
        "master",
        "account",
        "client",
        "shared",
        "auth",
        "webhook",
    ];
    if EXACT.contains(&last) || SUFFIX.iter().any(|s| last.ends_with(s)) {
        return true;
    }
    let before = words.len().checked_sub(2).map(|i| words[i].as_str());
    matches!(last, "key" | "id") && before.is_some_and(|b| QUALIFIER.contains(&b) && (last == "key" || b == "session"))
}

/// The longest run of digit groups inside `start..end` that is a card number. The regex takes
/// as many groups as it can, so a number written after the card (`4111 1111 1111 1111 7 items`)
/// or before it (`2026 4111…`) is part of its match; narrowing to group boundaries finds the
/// card in it.
fn card_within(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let span = &text.as_bytes()[start..end];
    let mut starts = vec![start];
    let mut ends = Vec::new();
    for (i, &c) in span.iter().enumerate() {
        if !c.is_ascii_digit() {
            ends.push(start + i);
            starts.push(start + i + 1);
        }
    }
    ends.push(end);
    let mut candidates: Vec<(usize, usize)> = starts
        .iter()
        .flat_map(|&s| ends.iter().filter(move |&&e| e > s).map(move |&e| (s, e)))
        .collect();
    candidates.sort_by_key(|&(s, e)| (std::cmp::Reverse(e - s), s));
    candidates.into_iter().find(|&(s, e)| is_card(text, s, e))
}

/// Whether the digits at `start..end` are a payment card number: 13 to 19 digits, an issuer's
/// first digits, the Luhn check, and no digits run on before or after it (directly or after a
/// dash).
fn is_card(text: &str, start: usize, end: usize) -> bool {
    let digits: Vec<u8> = text[start..end]
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    // A dash joins digits into one number (`1234-5678-…`, an all-digit UUID); a space does not:
    // `status=50 4111 1111 1111 1111` is two numbers, and the card must not escape for its
    // neighbour.
    let b = text.as_bytes();
    let runs_on_after = b.get(end) == Some(&b'-') && b.get(end + 1).is_some_and(u8::is_ascii_digit);
    let runs_on_before = start >= 2 && b[start - 1] == b'-' && b[start - 2].is_ascii_digit()
        || start >= 1 && b[start - 1].is_ascii_digit();
    if runs_on_after || runs_on_before {
        return false;
    }
    let prefix4 = digits[..4].iter().fold(0u32, |n, &d| n * 10 + u32::from(d));
    let issuer = match digits[0] {
        2 => (2221..=2720).contains(&prefix4) && digits.len() == 16,
        3..=6 => true,
        _ => false,
    };
    issuer && luhn(&digits)
}

/// The Luhn checksum (ISO/IEC 7812-1) holds.
fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// `line` cut to at most `max` bytes for keeping as evidence, without the word the cut splits:
/// the part of a secret before the cut would not match its pattern later (a 40-character key
/// cut to 25, a card number cut to 8 digits), so it is dropped rather than shown. The cut is
/// marked with `…`. Lines within `max` are kept whole.
pub fn cut_at_word(line: &str, max: usize) -> String {
    if line.len() <= max {
        return line.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    let boundary = |c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '"' | '\'' | ',' | ';' | '&' | '<' | '>' | '(' | ')' | '[' | ']' | '{' | '}' | '|' | '`'
            )
    };
    let splits_a_word = line[end..].chars().next().is_some_and(|c| !boundary(c));
    let mut kept = &line[..end];
    if splits_a_word {
        kept = &kept[..kept
            .rfind(boundary)
            .map_or(0, |i| i + kept[i..].chars().next().map_or(1, char::len_utf8))];
    }
    // Grouped digits before the cut may be the start of a card number.
    let kept = kept.trim_end_matches(|c: char| c.is_ascii_digit() || c == ' ' || c == '-');
    format!("{kept}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_and_the_rest_is_kept() {
        let cases = [
            (
                "using key AKIAIOSFODNN7EXAMPLE for s3",
                "using key AKIA[REDACTED] for s3",
            ),
            (
                "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY done",
                "aws_secret_access_key=[REDACTED] done",
            ),
            (
                "Authorization: Bearer abcdefghijklmnop.qrs",
                "Authorization: Bearer [REDACTED]",
            ),
            ("header Bearer abcdefghijklmnop1", "header Bearer [REDACTED]"),
            ("token eyJhbGciOi.eyJzdWIiOiIx.SflKxwRJSMeKKF2QT4", "token [REDACTED]"),
            (
                "connect postgres://app:hunter2@db.internal:5432/main failed",
                "connect postgres://app:[REDACTED]@db.internal:5432/main failed",
            ),
            (
                "login failed password=hunter2 user=bob",
                "login failed password=[REDACTED] user=bob",
            ),
            (
                r#"{"user":"bob","password":"hunter2"}"#,
                r#"{"user":"bob","password":"[REDACTED]"}"#,
            ),
            ("api_key: sk_live_123456abcdef rejected", "api_key: [REDACTED] rejected"),
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
        assert_eq!(redact("customer acct-991 failed", &extra), "customer [REDACTED] failed");
    }

    #[test]
    fn key_names_are_split_into_words_and_only_the_last_decides() {
        let cases = [
            ("DB_PASSWORD", true),
            ("MYSQL_PWD", true),
            ("user_password", true),
            ("PGPASSWORD", true),
            ("X-Amz-Security-Token", true),
            ("sessionId", true),
            ("JSESSIONID", true),
            ("secret_key", true),
            ("x-api-key", true),
            ("APIKey", true),
            ("AccountKey", true),
            ("connect.sid", true),
            ("pw", true),
            ("token_count", false),
            ("max_tokens", false),
            ("password_reset_sent", false),
            ("passed", false),
            ("bypass", false),
            ("author", false),
            ("cache_key", false),
            ("client_id", false),
            ("keyboard", false),
        ];
        for (key, secret) in cases {
            assert_eq!(is_secret_key(key), secret, "{key}");
        }
    }

    #[test]
    fn card_numbers_need_an_issuer_prefix_a_valid_luhn_sum_and_a_whole_number() {
        let cases = [
            ("4111 1111 1111 1111", true),
            ("4111-1111-1111-1111", true),
            ("5500005555555559", true),
            ("378282246310005", true),
            ("2223000048400011", true),
            ("4111111111111112", false),
            ("1795946400000", false),
            ("2026112910000112", false),
            ("4111111111111111-2", false),
            ("12345678-4111111111111111", false),
            ("status=50 4111111111111111 then", true),
            ("4111111111111111 7 items", true),
            ("2026 4111 1111 1111 1111", true),
        ];
        for (text, card) in cases {
            assert_eq!(redact(text, &[]).contains(MASK), card, "{text}");
        }
    }

    #[test]
    fn a_cut_drops_the_word_it_splits() {
        let cases = [
            ("short line", 100, "short line"),
            ("key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY end", 20, "key…"),
            ("card 4111 1111 1111 1111 end", 20, "card…"),
            ("word boundary", 8, "word…"),
            ("nospacesatallinthisline", 10, "…"),
        ];
        for (line, max, expected) in cases {
            assert_eq!(cut_at_word(line, max), expected, "{line} at {max}");
            assert!(cut_at_word(line, max).len() <= max.max(line.len()));
        }
    }
}
