//! Chunk-size advice for chunked workers: when timeouts and near-timeouts dominate, chunks are
//! too big; when most successful runs end far under a minute, they are too small. The new size
//! scales the chunk so that the p95 run lands at `target_duration_ratio` of the timeout.

use serde::Serialize;

use crate::config::AdviceSettings;
use crate::present::Stats;
use crate::processor::Timeout;

/// One finished invocation, as the advice sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Run {
    /// When it reported, epoch ms.
    pub timestamp_ms: i64,
    /// How long it ran, ms.
    pub duration_ms: f64,
    /// It timed out.
    pub timed_out: bool,
    /// It finished close to the timeout.
    pub near_timeout: bool,
    /// It failed (error, OOM).
    pub failed: bool,
    /// It succeeded far under a minute.
    pub short: bool,
}

/// Which way the chunk size should go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Chunks are too big: make them smaller.
    Smaller,
    /// Chunks are too small: make them larger.
    Larger,
}

/// Advice with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Advice {
    /// Smaller or larger.
    pub direction: Direction,
    /// Recent invocations considered.
    pub invocations: usize,
    /// Of which timed out.
    pub timeouts: usize,
    /// Of which finished near the timeout.
    pub near_timeouts: usize,
    /// Of which succeeded.
    pub successes: usize,
    /// Of which were short successful runs.
    pub short_runs: usize,
    /// Duration statistics of the runs the advice is about, ms.
    pub duration_ms: Stats,
    /// The timeout and its source.
    pub timeout: Timeout,
    /// The chunk size the function logged, if any.
    pub chunk_size: Option<f64>,
    /// The factor to scale the chunk size by.
    pub factor: f64,
    /// The concrete new chunk size, when the current one is known.
    pub suggested_chunk_size: Option<u64>,
    /// The share of the timeout the p95 run should land at.
    pub target_duration_ratio: f64,
}

/// Advice for these recent runs, if a pattern dominates them.
pub fn advise(runs: &[Run], timeout: Timeout, chunk_size: Option<f64>, settings: &AdviceSettings) -> Option<Advice> {
    let n = runs.len();
    if n < settings.min_invocations || n == 0 {
        return None;
    }
    let timeouts = runs.iter().filter(|r| r.timed_out).count();
    let near = runs.iter().filter(|r| r.near_timeout).count();
    let successes: Vec<&Run> = runs.iter().filter(|r| !r.timed_out && !r.failed).collect();
    let short = successes.iter().filter(|r| r.short).count();
    let timeout_ms = timeout.seconds * 1000.0;
    let target_ms = settings.target_duration_ratio * timeout_ms;

    let (direction, mut durations): (Direction, Vec<f64>) =
        if (timeouts + near) as f64 >= settings.dominant_share * n as f64 {
            // Timed-out runs would have run longer: their duration is a floor, so the factor errs small.
            (Direction::Smaller, runs.iter().map(|r| r.duration_ms).collect())
        } else if !successes.is_empty() && short as f64 >= settings.dominant_share * successes.len() as f64 {
            (Direction::Larger, successes.iter().map(|r| r.duration_ms).collect())
        } else {
            return None;
        };
    let stats = Stats::of(&mut durations)?;
    let raw_factor = target_ms / stats.p95.max(1.0);
    let factor = match direction {
        Direction::Smaller => raw_factor.clamp(0.05, 0.9),
        Direction::Larger => raw_factor.clamp(1.1, 20.0),
    };
    let suggested_chunk_size = chunk_size
        .filter(|c| *c >= 1.0)
        .map(|c| ((c * factor).floor() as u64).max(1));
    Some(Advice {
        direction,
        invocations: n,
        timeouts,
        near_timeouts: near,
        successes: successes.len(),
        short_runs: short,
        duration_ms: stats,
        timeout,
        chunk_size,
        factor,
        suggested_chunk_size,
        target_duration_ratio: settings.target_duration_ratio,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processor::TimeoutSource;

    fn settings() -> AdviceSettings {
        AdviceSettings {
            min_invocations: 5,
            dominant_share: 0.5,
            target_duration_ratio: 0.5,
            window_ms: 3_600_000,
            cooldown_ms: 3_600_000,
        }
    }

    fn run(seconds: f64, timed_out: bool, near: bool, short: bool) -> Run {
        Run {
            timestamp_ms: 0,
            duration_ms: seconds * 1000.0,
            timed_out,
            near_timeout: near,
            failed: false,
            short,
        }
    }

    const FIVE_MINUTES: Timeout = Timeout {
        seconds: 300.0,
        source: TimeoutSource::Config,
    };

    #[test]
    fn timeouts_dominating_advise_a_smaller_chunk_that_lands_at_half_the_timeout() {
        let runs = [
            run(300.0, true, false, false),
            run(300.0, true, false, false),
            run(270.0, false, true, false),
            run(120.0, false, false, false),
            run(150.0, false, false, false),
        ];
        let advice = advise(&runs, FIVE_MINUTES, Some(100.0), &settings()).unwrap();
        assert_eq!(advice.direction, Direction::Smaller);
        assert_eq!((advice.timeouts, advice.near_timeouts), (2, 1));
        assert!(
            (advice.factor - 0.5).abs() < 1e-9,
            "150 s target over a 300 s p95: {}",
            advice.factor
        );
        assert_eq!(advice.suggested_chunk_size, Some(50));
    }

    #[test]
    fn short_successful_runs_dominating_advise_a_larger_chunk() {
        let runs: Vec<Run> = [20.0, 25.0, 30.0, 28.0, 90.0, 22.0]
            .iter()
            .map(|&s| run(s, false, false, s < 60.0))
            .collect();
        let advice = advise(&runs, FIVE_MINUTES, Some(50.0), &settings()).unwrap();
        assert_eq!(advice.direction, Direction::Larger);
        assert_eq!(advice.duration_ms.p95, 90_000.0);
        assert!((advice.factor - 150.0 / 90.0).abs() < 1e-9);
        assert_eq!(advice.suggested_chunk_size, Some(83));
    }

    #[test]
    fn without_a_known_chunk_size_only_the_factor_is_given() {
        let runs: Vec<Run> = (0..6).map(|_| run(10.0, false, false, true)).collect();
        let advice = advise(&runs, FIVE_MINUTES, None, &settings()).unwrap();
        assert_eq!(advice.suggested_chunk_size, None);
        assert_eq!(advice.factor, 15.0);
    }

    #[test]
    fn no_advice_below_the_minimum_or_without_a_dominant_pattern() {
        let few: Vec<Run> = (0..4).map(|_| run(300.0, true, false, false)).collect();
        assert!(advise(&few, FIVE_MINUTES, Some(10.0), &settings()).is_none());
        let healthy: Vec<Run> = (0..10).map(|i| run(100.0 + i as f64, false, false, false)).collect();
        assert!(advise(&healthy, FIVE_MINUTES, Some(10.0), &settings()).is_none());
    }

    #[test]
    fn factors_are_clamped_so_advice_always_moves_the_right_way() {
        // Runs that time out at a tiny timeout still advise "smaller", never a factor above 0.9.
        let runs: Vec<Run> = (0..5).map(|_| run(1.0, true, false, false)).collect();
        let t = Timeout {
            seconds: 3.0,
            source: TimeoutSource::Learned,
        };
        let advice = advise(&runs, t, Some(10.0), &settings()).unwrap();
        assert!(advice.factor <= 0.9);
        assert_eq!(advice.suggested_chunk_size, Some(9));
    }
}
