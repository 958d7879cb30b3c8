//! The names and units of every metric lambda-watchdog publishes, in one place, so that the
//! processor, the EMF writer, the summaries and the template all agree on them.

/// A metric published per monitored function (dimension `FunctionName`) and fleet-wide (`[]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// Invocations that reported (a REPORT line or a `platform.report` record).
    Invocations,
    /// Invocations that timed out, once per invocation.
    Timeouts,
    /// Invocations that ran out of memory, once per invocation.
    OutOfMemory,
    /// Invocations that failed or logged an error-level line, timeouts excluded.
    Errors,
    /// Invocations that logged a rate-limit error.
    RateLimited,
    /// Invocations that hit a database connection cap.
    TooManyConnections,
    /// Invocations with any connection failure, the connection cap included.
    ConnectionErrors,
    /// Invocations that carried an init duration.
    ColdStarts,
    /// Invocations that finished close to the function's timeout.
    NearTimeout,
    /// Successful invocations of chunked workers that ran far under a minute.
    ShortRuns,
    /// Failed `INIT_REPORT`/`RESTORE_REPORT` phases (init or restore that errored or timed out).
    InitFailures,
    /// Each invocation's duration.
    Duration,
    /// Each cold start's init duration.
    InitDuration,
    /// Each invocation's peak memory.
    MaxMemoryUsed,
    /// Each invocation's peak memory as a share of its memory size.
    MemoryUtilization,
    /// Each invocation's billed duration (`cost_metrics`).
    BilledDuration,
    /// Each invocation's billed compute, memory size in GB times billed duration in seconds,
    /// the unit Lambda's duration price is quoted in (`cost_metrics`).
    GBSeconds,
}

impl Metric {
    /// The counters, in the order they appear in documents and summaries.
    pub const COUNTS: [Metric; 11] = [
        Metric::Invocations,
        Metric::Timeouts,
        Metric::OutOfMemory,
        Metric::Errors,
        Metric::RateLimited,
        Metric::TooManyConnections,
        Metric::ConnectionErrors,
        Metric::ColdStarts,
        Metric::NearTimeout,
        Metric::ShortRuns,
        Metric::InitFailures,
    ];

    /// The metrics that carry one value per invocation.
    pub const VALUES: [Metric; 4] = [
        Metric::Duration,
        Metric::InitDuration,
        Metric::MaxMemoryUsed,
        Metric::MemoryUtilization,
    ];

    /// The metrics of what invocations are billed for, one value per invocation that reports
    /// them (Lambda Managed Instances' reports do not); written with `cost_metrics = true`.
    /// See <https://aws.amazon.com/lambda/pricing/>.
    pub const COST: [Metric; 2] = [Metric::BilledDuration, Metric::GBSeconds];

    /// The CloudWatch metric name.
    pub const fn name(self) -> &'static str {
        match self {
            Metric::Invocations => "Invocations",
            Metric::Timeouts => "Timeouts",
            Metric::OutOfMemory => "OutOfMemory",
            Metric::Errors => "Errors",
            Metric::RateLimited => "RateLimited",
            Metric::TooManyConnections => "TooManyConnections",
            Metric::ConnectionErrors => "ConnectionErrors",
            Metric::ColdStarts => "ColdStarts",
            Metric::NearTimeout => "NearTimeout",
            Metric::ShortRuns => "ShortRuns",
            Metric::InitFailures => "InitFailures",
            Metric::Duration => "Duration",
            Metric::InitDuration => "InitDuration",
            Metric::MaxMemoryUsed => "MaxMemoryUsed",
            Metric::MemoryUtilization => "MemoryUtilization",
            Metric::BilledDuration => "BilledDuration",
            Metric::GBSeconds => "GBSeconds",
        }
    }

    /// The CloudWatch unit.
    pub const fn unit(self) -> Unit {
        match self {
            Metric::Duration | Metric::InitDuration | Metric::BilledDuration => Unit::Milliseconds,
            Metric::GBSeconds => Unit::None,
            Metric::MaxMemoryUsed => Unit::Megabytes,
            Metric::MemoryUtilization => Unit::Percent,
            _ => Unit::Count,
        }
    }

    /// The position of a counter in [`Metric::COUNTS`].
    pub fn count_index(self) -> Option<usize> {
        Metric::COUNTS.iter().position(|m| *m == self)
    }
}

/// A metric about the processor itself, published under the dimension `Processor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProcessorMetric {
    /// DATA_MESSAGE batches processed.
    BatchesProcessed,
    /// Log events processed.
    EventsProcessed,
    /// CONTROL_MESSAGE batches skipped.
    ControlMessages,
    /// Batches (or Kinesis records) that could not be decoded.
    DecodeFailures,
    /// Batches skipped because their log group is excluded or is the processor's own.
    BatchesExcluded,
    /// Batches skipped because the same batch was processed before (a delivery retried by
    /// CloudWatch Logs, Kinesis or Lambda).
    DuplicateBatches,
    /// Log events older than EMF accepts (14 days).
    EventsTooOld,
    /// Log events further in the future than EMF accepts (2 hours).
    EventsTooNew,
    /// Log events whose message was not UTF-8 (raw bytes, a lone surrogate escape) and was
    /// decoded lossily, so that its batch could be processed.
    MessagesRepaired,
    /// Batches and invocations counted with the container's own memory because the shared
    /// state table did not answer in time (or kept changing under it): their counts may drift
    /// as they do without the table.
    StateFallbacks,
    /// Notices handed to SNS.
    NoticesSent,
    /// Notices that SNS did not take; they were written to the log instead.
    NoticeFailures,
}

impl ProcessorMetric {
    /// Every processor metric, in document order.
    pub const ALL: [ProcessorMetric; 12] = [
        ProcessorMetric::BatchesProcessed,
        ProcessorMetric::EventsProcessed,
        ProcessorMetric::ControlMessages,
        ProcessorMetric::DecodeFailures,
        ProcessorMetric::BatchesExcluded,
        ProcessorMetric::DuplicateBatches,
        ProcessorMetric::EventsTooOld,
        ProcessorMetric::EventsTooNew,
        ProcessorMetric::MessagesRepaired,
        ProcessorMetric::StateFallbacks,
        ProcessorMetric::NoticesSent,
        ProcessorMetric::NoticeFailures,
    ];

    /// The CloudWatch metric name.
    pub const fn name(self) -> &'static str {
        match self {
            ProcessorMetric::BatchesProcessed => "BatchesProcessed",
            ProcessorMetric::EventsProcessed => "EventsProcessed",
            ProcessorMetric::ControlMessages => "ControlMessages",
            ProcessorMetric::DecodeFailures => "DecodeFailures",
            ProcessorMetric::BatchesExcluded => "BatchesExcluded",
            ProcessorMetric::DuplicateBatches => "DuplicateBatches",
            ProcessorMetric::EventsTooOld => "EventsTooOld",
            ProcessorMetric::EventsTooNew => "EventsTooNew",
            ProcessorMetric::MessagesRepaired => "MessagesRepaired",
            ProcessorMetric::StateFallbacks => "StateFallbacks",
            ProcessorMetric::NoticesSent => "NoticesSent",
            ProcessorMetric::NoticeFailures => "NoticeFailures",
        }
    }
}

/// The CloudWatch units lambda-watchdog uses (a subset of what EMF accepts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    /// A count.
    Count,
    /// Milliseconds.
    Milliseconds,
    /// Megabytes.
    Megabytes,
    /// Percent.
    Percent,
    /// Seconds.
    Seconds,
    /// Bytes.
    Bytes,
    /// No unit.
    None,
}

impl Unit {
    /// Every unit name EMF accepts, as CloudWatch spells them.
    pub const EMF_NAMES: [&'static str; 27] = [
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    ];

    /// The unit name as EMF spells it.
    pub const fn name(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Megabytes => "Megabytes",
            Unit::Percent => "Percent",
            Unit::Seconds => "Seconds",
            Unit::Bytes => "Bytes",
            Unit::None => "None",
        }
    }
}
