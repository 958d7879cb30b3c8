//! `lambda-watchdog report`: the watchdog's metrics read back from CloudWatch, per function,
//! worst first; optionally drawn as SVG or PNG and published to the notices topic.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use crate::cli::replay::load_config;
use crate::notify::sns::Publisher;
use crate::report::{self, Backoff, Format, Request, Selection, Window, chart};

/// Options of `report`.
#[derive(Parser)]
pub struct Args {
    /// Config file (TOML): the namespace and each function's timeout. Default: $WATCHDOG_CONFIG's text, else ./watchdog.toml if present, else built-in defaults.
    #[arg(long)]
    config: Option<PathBuf>,
    /// How far back from now (or from --end): 90m, 24h, 7d.
    #[arg(long, default_value = "24h", conflicts_with = "start")]
    since: String,
    /// Start of the window: RFC 3339 in UTC (2026-11-29T00:00:00Z) or epoch seconds.
    #[arg(long)]
    start: Option<String>,
    /// End of the window (default: now), same forms as --start.
    #[arg(long)]
    end: Option<String>,
    /// Only functions matching this glob (repeatable); a plain name is shown even without data.
    #[arg(long = "function", value_name = "GLOB")]
    functions: Vec<String>,
    /// What to print.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    output: Format,
    /// Also draw the report into this file: .svg for browsers, wikis and chat; .png for e-mail.
    #[arg(long, value_name = "FILE.svg|FILE.png")]
    chart: Option<PathBuf>,
    /// Most functions the chart draws, worst first.
    #[arg(long, default_value_t = chart::DEFAULT_MAX_FUNCTIONS)]
    chart_max: usize,
    /// Also send the report (as a table) to the notices topic (--topic-arn, else $WATCHDOG_TOPIC_ARN).
    #[arg(long)]
    publish: bool,
    /// The SNS topic for --publish.
    #[arg(long)]
    topic_arn: Option<String>,
    /// The Region whose CloudWatch metrics are read (and whose topic --publish sends to). Default: $AWS_REGION, else the profile's region.
    #[arg(long)]
    region: Option<String>,
    /// A named profile from the AWS config and credentials files. Default: $AWS_PROFILE, else `default`.
    #[arg(long)]
    profile: Option<String>,
}

/// The SDK config loader for `--region` and `--profile`: what is not given comes from the
/// environment and the shared config files, as for the AWS CLI. The profile also supplies the
/// Region when `--region` and `$AWS_REGION` are absent.
/// <https://docs.aws.amazon.com/sdkref/latest/guide/file-format.html>
pub fn sdk_loader(region: Option<&str>, profile: Option<&str>) -> aws_config::ConfigLoader {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_string()));
    }
    loader
}

/// The window the options ask for, at `now`.
pub fn window(since: &str, start: Option<&str>, end: Option<&str>, now: i64) -> Result<Window, report::ReportError> {
    let end_at = end.map(report::parse_time).transpose()?;
    match (start.map(report::parse_time).transpose()?, end_at) {
        (Some(start), end) => Window::new(start, end.unwrap_or(now), now),
        (None, Some(end)) => Window::new(end - report::parse_duration(since)?, end, now),
        (None, None) => Window::since(report::parse_duration(since)?, now),
    }
}

/// Runs `report`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Everything that can be refused without AWS is refused first.
    let chart_format = args.chart.as_deref().map(chart::check_path).transpose()?;
    let topic = if args.publish {
        let topic = args
            .topic_arn
            .clone()
            .or_else(|| std::env::var("WATCHDOG_TOPIC_ARN").ok())
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        let Some(topic) = topic else {
            anyhow::bail!(
                "--publish needs a topic: give --topic-arn or set WATCHDOG_TOPIC_ARN (the stack's NoticesTopicArn output)"
            );
        };
        Some(topic)
    } else {
        None
    };
    let config = load_config(args.config.as_deref())?;
    let request = Request {
        window: window(
            &args.since,
            args.start.as_deref(),
            args.end.as_deref(),
            crate::processor::wall_ms() / 1000,
        )?,
        selection: Selection::new(&args.functions)?,
        chart: args.chart.is_some(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let report = runtime.block_on(async {
        let sdk = sdk_loader(args.region.as_deref(), args.profile.as_deref()).load().await;
        let client = aws_sdk_cloudwatch::Client::new(&sdk);
        let region = sdk.region().map(ToString::to_string);
        report::generate(&client, &config, &request, Backoff::default())
            .await
            .map(|report| report.in_region(region))
    })?;

    let mut stdout = std::io::stdout().lock();
    stdout.write_all(report.render(args.output).as_bytes())?;
    stdout.flush()?;
    if let (Some(path), Some(format)) = (&args.chart, chart_format) {
        let bytes = chart::render(&report, args.chart_max, format)?;
        std::fs::write(path, bytes).with_context(|| format!("could not write the chart to {}", path.display()))?;
        eprintln!("lambda-watchdog: chart written to {}", path.display());
    }
    if let Some(topic) = topic {
        let id = runtime.block_on(async {
            let loader = sdk_loader(args.region.as_deref(), args.profile.as_deref());
            let publisher = Publisher::with_loader(loader, &topic).await;
            publisher
                .publish_text(&report.subject(), &report.render(Format::Table))
                .await
        })?;
        eprintln!("lambda-watchdog: report published to {topic} (message {id})");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_000_000;

    #[test]
    fn the_window_comes_from_since_or_start_and_end() {
        let w = window("24h", None, None, NOW).unwrap();
        assert_eq!(w.seconds(), 86_400);
        let w = window("2h", None, Some("1795946400"), NOW).unwrap();
        assert_eq!((w.start, w.end), (1_795_939_200, 1_795_946_400));
        let w = window("24h", Some("2026-11-29T10:00:00Z"), Some("2026-11-29T12:00:00Z"), NOW).unwrap();
        assert_eq!((w.start, w.end), (1_795_946_400, 1_795_953_600));
        let w = window("24h", Some("2026-11-29T10:00:00Z"), None, NOW).unwrap();
        assert_eq!(w.end, NOW.div_euclid(60) * 60 + 60, "up to now");
        assert!(window("24h", Some("yesterday"), None, NOW).is_err());
    }

    /// Loads what `sdk_loader` gives, with the shared config file replaced by `config`.
    async fn region_of(region: Option<&str>, profile: Option<&str>, config: &str) -> Option<String> {
        use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
        let files = EnvConfigFiles::builder()
            .with_contents(EnvConfigFileKind::Config, config)
            .build();
        let sdk = sdk_loader(region, profile).profile_files(files).load().await;
        sdk.region().map(|r| r.to_string())
    }

    #[tokio::test]
    async fn region_and_profile_options_choose_where_the_report_reads() {
        const CONFIG: &str = "[default]\nregion = us-east-1\n\n[profile ops-eu]\nregion = eu-west-1\n";
        // Only cases that hold whatever AWS_REGION says: an explicit --region always wins.
        let cases: [(&str, Option<&str>, Option<&str>, &str); 3] = [
            (
                "--region wins over the default profile",
                Some("ap-southeast-2"),
                None,
                "ap-southeast-2",
            ),
            (
                "--region wins over the named profile",
                Some("ca-central-1"),
                Some("ops-eu"),
                "ca-central-1",
            ),
            (
                "--region alone still reads the config file",
                Some("eu-central-1"),
                Some("missing"),
                "eu-central-1",
            ),
        ];
        for (case, region, profile, expected) in cases {
            assert_eq!(
                region_of(region, profile, CONFIG).await.as_deref(),
                Some(expected),
                "{case}"
            );
        }
        // Without --region, the environment comes first, as for the AWS CLI, then the profile.
        let from_env = ["AWS_REGION", "AWS_DEFAULT_REGION"]
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()));
        assert_eq!(
            region_of(None, Some("ops-eu"), CONFIG).await,
            Some(from_env.unwrap_or_else(|| "eu-west-1".to_string())),
            "--profile alone takes the profile's region unless the environment names one"
        );
    }
}
