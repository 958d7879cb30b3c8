//! Links into the CloudWatch console: a log stream at a given minute, and a Logs Insights query
//! over a window. The console reads its state from the URL fragment, percent-encoded and then
//! with `%` written as `$` (and, inside Logs Insights values, as `*`). Both builders live here so
//! that the encoding rules are in one place and tested together.

/// The console's base URL for a region; for an unknown one (empty), the console's own, which
/// opens in the reader's last Region.
fn base(region: &str) -> String {
    if region.is_empty() {
        return "https://console.aws.amazon.com/cloudwatch/home".to_string();
    }
    format!("https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}")
}

/// JavaScript's `encodeURIComponent`: everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` as `%XX`.
pub fn encode_uri_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn dollar(s: &str) -> String {
    s.replace('%', "$")
}

/// A link to a log stream's events between two instants (epoch ms).
pub fn log_stream(region: &str, log_group: &str, log_stream: &str, start_ms: i64, end_ms: i64) -> String {
    let g = dollar(&encode_uri_component(&encode_uri_component(log_group)));
    let s = dollar(&encode_uri_component(&encode_uri_component(log_stream)));
    let q = dollar(&encode_uri_component(&format!("?start={start_ms}&end={end_ms}")));
    format!("{}#logsV2:log-groups/log-group/{g}/log-events/{s}{q}", base(region))
}

/// A value inside the Logs Insights state: every byte but `A-Z a-z 0-9 - _ .` as `*XX`, so that
/// the state's own delimiters (`~ ( ) '`) never appear inside a value.
fn insights_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("*{b:02X}"));
        }
    }
    out
}

/// A link that opens Logs Insights with `query` over `log_group` between two instants.
pub fn insights(region: &str, log_group: &str, query: &str, start_ms: i64, end_ms: i64) -> String {
    let state = format!(
        "~(end~'{}~start~'{}~timeType~'ABSOLUTE~tz~'UTC~editorString~'{}~source~(~'{}))",
        insights_value(&crate::present::rfc3339_ms(end_ms)),
        insights_value(&crate::present::rfc3339_ms(start_ms)),
        insights_value(query),
        insights_value(log_group)
    );
    format!(
        "{}#logsV2:logs-insights{}",
        base(region),
        dollar(&encode_uri_component(&format!("?queryDetail={state}")))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Undoes the `$` and percent encoding, as the console does.
    fn decode(s: &str) -> String {
        crate::testing::percent_decode(s, '$')
    }

    #[test]
    fn stream_links_match_the_documented_shape() {
        let link = log_stream(
            "us-east-1",
            "/aws/lambda/x",
            "2026/11/29/[$LATEST]abc",
            1_764_460_800_000,
            1_764_461_100_000,
        );
        assert_eq!(
            link,
            "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:log-groups/log-group/$252Faws$252Flambda$252Fx/log-events/2026$252F11$252F29$252F$255B$2524LATEST$255Dabc$3Fstart$3D1764460800000$26end$3D1764461100000"
        );
        let fragment = link.split('#').nth(1).unwrap();
        let group = fragment.split('/').nth(2).unwrap();
        assert_eq!(decode(&decode(group)), "/aws/lambda/x");
    }

    #[test]
    fn insights_links_carry_group_window_and_query_intact() {
        let query = "fields @timestamp, @message | filter @message like /Task timed out|Status: timeout/";
        let link = insights(
            "eu-west-1",
            "/aws/lambda/up-loader",
            query,
            1_795_946_400_000,
            1_795_946_700_000,
        );
        assert!(link.starts_with("https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:logs-insights$3FqueryDetail$3D~(end~'"));
        let state = decode(link.split("logs-insights").nth(1).unwrap());
        let state = state.strip_prefix("?queryDetail=").unwrap();
        // Every value decodes back; no value contains a delimiter of the state.
        let unstar = |v: &str| decode(&v.replace('*', "%"));
        let parts: Vec<&str> = state.split("~'").collect();
        assert_eq!(unstar(parts[1].trim_end_matches("~start")), "2026-11-29T10:05:00.000Z");
        assert_eq!(
            unstar(parts[2].trim_end_matches("~timeType")),
            "2026-11-29T10:00:00.000Z"
        );
        assert_eq!(unstar(parts[5].trim_end_matches("~source~(")), query);
        assert_eq!(unstar(parts[6].trim_end_matches("))")), "/aws/lambda/up-loader");
    }

    #[test]
    fn iso_times_are_utc() {
        assert_eq!(crate::present::rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            crate::present::rfc3339_ms(1_795_946_401_123),
            "2026-11-29T10:00:01.123Z"
        );
        assert_eq!(crate::present::rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
