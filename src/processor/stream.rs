//! Stream attribution: which invocation a line without a request id belongs to, whatever order
//! a log stream's batches arrive in.
//!
//! A log stream is one execution environment, which runs one invocation at a time, so a line
//! without a request id belongs to the invocation whose START (or the init whose INIT_START)
//! last precedes it in the stream. Inside a batch that is the last START before the line. The
//! lines at the head of a batch, before its first START or INIT_START, belong to whatever ran
//! when the batch began:
//!
//! - if the head shows an END, REPORT or `platform.runtimeDone` of an invocation before any
//!   START, the head is that invocation's (no START can come between an invocation's START and
//!   its REPORT), for certain;
//! - otherwise it is the invocation of the last START or INIT_START known before the batch in
//!   the stream, or of a head REPORT known after it with no START between: a guess, which a
//!   batch arriving later can correct (it moves the head's facts to their true owner).
//!
//! Order within a stream: CloudWatch Logs keeps a stream's events in timestamp order, and the
//! events of one millisecond in the order of their event ids (56-digit numbers that grow as
//! events are ingested). That is how two batches of a stream are ordered here. It is observed,
//! not documented: if a stream's ids ever did not grow, a head line logged in the same
//! millisecond as the last START of the batch before it could be given to the wrong
//! invocation. A stream remembers its last [`MAX_SEGMENTS`] batches; a batch older than all of
//! them is attributed with what is known.

use smallvec::SmallVec;

use super::facts::Facts;
use super::record::Evidence;
use crate::parse::Line;

/// Batches remembered per log stream.
pub const MAX_SEGMENTS: usize = 16;

/// Where an event stands in its log stream: its timestamp, then its event id as a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    timestamp_ms: i64,
    /// The event id's decimal digits, two to a byte, right-aligned, so that comparing bytes
    /// compares the numbers. Ids that are not decimal (hand-made files) compare equal.
    id: [u8; 32],
}

impl Pos {
    /// The position of an event with this timestamp and id.
    pub fn of(timestamp_ms: i64, id: &str) -> Pos {
        let digits = id.as_bytes();
        let mut packed = [0u8; 32];
        if !digits.is_empty() && digits.len() <= 64 && digits.iter().all(u8::is_ascii_digit) {
            // Right-aligned: digit k from the end goes to nibble k from the end.
            for (k, &d) in digits.iter().rev().enumerate() {
                let byte = 31 - k / 2;
                let value = d - b'0';
                packed[byte] |= if k % 2 == 0 { value } else { value << 4 };
            }
        }
        Pos {
            timestamp_ms,
            id: packed,
        }
    }
}

/// What starts a stretch of a stream that lines without a request id belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boundary {
    /// An invocation's START (its key).
    Start(u64),
    /// INIT_START: an init phase.
    Init,
}

/// Whose lines a stretch of stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// An invocation (its key).
    Invocation(u64),
    /// An init phase: counted in no class.
    Init,
    /// Not known yet: no earlier batch of the stream has been seen.
    Unknown,
}

/// The facts of a batch's head whose owner is a guess, kept so that they can move.
#[derive(Debug, Clone)]
pub struct Orphan {
    /// The facts.
    pub facts: Facts,
    /// Their evidence.
    pub evidence: Vec<Evidence>,
    /// Who has them now.
    pub owner: Owner,
}

/// What a stream remembers of one batch.
#[derive(Debug, Clone)]
struct Segment {
    /// The batch's first event.
    first: Pos,
    /// Its last START or INIT_START.
    last_boundary: Option<(Pos, Boundary)>,
    /// The invocation known to be running when the batch began (a head END/REPORT).
    running_at_start: Option<u64>,
    /// Its head's facts, when their owner is a guess.
    orphan: Option<Box<Orphan>>,
}

/// One batch, as [`StreamState::insert`] takes it.
pub struct BatchMarks {
    /// The batch's first event.
    pub first: Pos,
    /// Its last START or INIT_START.
    pub last_boundary: Option<(Pos, Boundary)>,
    /// The invocation known to be running when it began.
    pub running_at_start: Option<u64>,
}

/// A head whose owner changed: its facts move from `from` to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    /// The owner that had them.
    pub from: Owner,
    /// The owner that has them now.
    pub to: Owner,
}

/// A log stream's remembered batches, oldest first, and its reported invocations whose outcome
/// waits for the stream to move on.
#[derive(Debug, Clone, Default)]
pub struct StreamState {
    segments: SmallVec<[Segment; 2]>,
    /// The last START or INIT_START of the batches forgotten to make room.
    base: Option<(Pos, Boundary)>,
    /// Reported invocations whose outcome is not final, with their REPORT's position.
    pub open: SmallVec<[(u64, Pos); 2]>,
    /// The stream has lines without a request id: with shared state, its batches' positions
    /// go to the stream's shared item.
    pub positional: bool,
    /// The stream ran several invocations at once (Lambda Managed Instances): its lines are
    /// attributed by request id only. Once seen, for as long as the stream is remembered.
    pub concurrent: bool,
}

impl StreamState {
    /// Who the lines at `at` belong to, from the batches known around it.
    pub fn owner_at(&self, at: Pos) -> Owner {
        // A batch from `at` on that began inside a known invocation, with no START or
        // INIT_START between: the lines at `at` are that invocation's too. The batch that
        // begins at `at` counts among those between: its own boundaries come after its head.
        for s in self.segments.iter().filter(|s| s.first >= at) {
            if let Some(key) = s.running_at_start {
                return Owner::Invocation(key);
            }
            if s.last_boundary.is_some() {
                break;
            }
        }
        self.segments
            .iter()
            .rev()
            .filter(|s| s.first < at)
            .find_map(|s| s.last_boundary)
            .or(self.base.filter(|&(pos, _)| pos < at))
            .map_or(Owner::Unknown, |(_, b)| match b {
                Boundary::Start(key) => Owner::Invocation(key),
                Boundary::Init => Owner::Init,
            })
    }

    /// Remembers a batch (and its head's facts, when their owner is a guess). Says whose facts
    /// moved because of it (heads of other batches that it shows to belong elsewhere), and gives
    /// back the head of the batch it forgot to make room, if that head had facts: their owner
    /// is final now.
    pub fn insert(&mut self, marks: BatchMarks, orphan: Option<Orphan>) -> (SmallVec<[Moved; 1]>, Option<Orphan>) {
        if marks.last_boundary.is_none() && marks.running_at_start.is_none() && orphan.is_none() {
            // A batch in the middle of an invocation that shows nothing about whose it is.
            return (SmallVec::new(), None);
        }
        let at = self.segments.partition_point(|s| s.first < marks.first);
        self.segments.insert(
            at,
            Segment {
                first: marks.first,
                last_boundary: marks.last_boundary,
                running_at_start: marks.running_at_start,
                orphan: orphan.map(Box::new),
            },
        );
        let mut moved = SmallVec::new();
        for i in 0..self.segments.len() {
            let Some(first) = self.segments[i].orphan.as_ref().map(|_| self.segments[i].first) else {
                continue;
            };
            let owner = self.owner_at(first);
            if let Some(orphan) = self.segments[i].orphan.as_mut()
                && orphan.owner != owner
            {
                moved.push(Moved {
                    from: orphan.owner,
                    to: owner,
                });
                orphan.owner = owner;
            }
        }
        let forgotten = if self.segments.len() > MAX_SEGMENTS {
            let oldest = self.segments.remove(0);
            if let Some(b) = oldest.last_boundary
                && self.base.is_none_or(|(pos, _)| pos < b.0)
            {
                self.base = Some(b);
            }
            oldest.orphan.map(|o| *o)
        } else {
            None
        };
        (moved, forgotten)
    }

    /// The facts of the heads that `owner` has, merged, with their evidence.
    pub fn orphans_of(&self, owner: Owner) -> impl Iterator<Item = &Orphan> {
        self.segments
            .iter()
            .filter_map(|s| s.orphan.as_deref())
            .filter(move |o| o.owner == owner)
    }

    /// Whether a START or INIT_START is known after `at`: the invocation reported at `at` has
    /// ended, and no line without a request id after it is its own.
    pub fn moved_on_after(&self, at: Pos) -> bool {
        self.segments
            .iter()
            .filter_map(|s| s.last_boundary)
            .chain(self.base)
            .any(|(pos, _)| pos > at)
    }
}

/// Whether a batch shows several invocations in flight at once in its log stream: a START while
/// another invocation of the batch has started and not ended (no END, REPORT or
/// `platform.runtimeDone` yet). An execution environment of Lambda Managed Instances runs
/// several requests at once (docs.aws.amazon.com/lambda, "Lambda Managed Instances"); every other
/// environment runs one at a time, so its STARTs and REPORTs alternate.
///
/// Reads the batch's lines as [`crate::parse::parse_all`] gives them (`lines[i]` is
/// `messages[i]` parsed), so no line is parsed twice; only those whose message begins with a
/// printable ASCII byte count. Lambda writes its platform lines from their first byte, and the
/// parser trims leading blanks off any line, so a `START` behind blanks, an application's echo,
/// would otherwise count.
pub fn overlapping_invocations<'a>(messages: impl IntoIterator<Item = &'a str>, lines: &[Line<'_>]) -> bool {
    let mut in_flight: SmallVec<[&str; 4]> = SmallVec::new();
    for (message, line) in messages.into_iter().zip(lines) {
        if !message.as_bytes().first().is_some_and(u8::is_ascii_graphic) {
            continue;
        }
        match line {
            Line::Start { request_id } => {
                if !in_flight.contains(request_id) {
                    in_flight.push(request_id);
                }
                if in_flight.len() > 1 {
                    return true;
                }
            }
            Line::Report(report) => in_flight.retain(|id| *id != report.request_id),
            Line::End { request_id } | Line::RuntimeDone { request_id, .. } => in_flight.retain(|id| id != request_id),
            _ => {}
        }
    }
    false
}

/// The function a log stream belongs to: `/aws/lambda/NAME` gives NAME; any other log group
/// (Lambda's advanced logging controls let a function log to any group, and several functions
/// share one) takes the name from the stream, `YYYY/MM/DD/<function>[<version>]<environment id>`
/// or `YYYY/MM/DD/<function>[<version>][<environment id>]` (docs.aws.amazon.com/lambda,
/// "Configuring advanced logging controls": log stream names), and falls back to the group's
/// last part when the stream does not name one.
pub fn function_name_in<'a>(log_group: &'a str, log_stream: &'a str) -> &'a str {
    if log_group
        .strip_prefix("/aws/lambda/")
        .is_some_and(|name| !name.is_empty())
    {
        return super::function_name(log_group);
    }
    stream_function(log_stream).unwrap_or_else(|| super::function_name(log_group))
}

/// `<function>` of a stream named `YYYY/MM/DD/<function>[<version>]…`, if it is named so.
fn stream_function(log_stream: &str) -> Option<&str> {
    let b = log_stream.as_bytes();
    let date = b.get(..11)?;
    let shape = date.iter().enumerate().all(|(i, c)| match i {
        4 | 7 | 10 => *c == b'/',
        _ => c.is_ascii_digit(),
    });
    if !shape {
        return None;
    }
    let rest = log_stream.get(11..)?;
    let open = rest.find('[')?;
    let name = rest.get(..open)?;
    // Lambda function names: letters, digits, hyphens and underscores, at most 64.
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
    (valid && rest.get(open..)?.contains(']')).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_all;

    fn pos(t: i64) -> Pos {
        Pos::of(t, &format!("{t:056}"))
    }

    fn marks(first: i64, boundary: Option<(i64, Boundary)>, running: Option<u64>) -> BatchMarks {
        BatchMarks {
            first: pos(first),
            last_boundary: boundary.map(|(t, b)| (pos(t), b)),
            running_at_start: running,
        }
    }

    fn orphan(owner: Owner) -> Option<Orphan> {
        Some(Orphan {
            facts: Facts::default(),
            evidence: Vec::new(),
            owner,
        })
    }

    /// Whether the batch of these messages shows invocations in flight at once.
    fn batch_overlaps(messages: &[String]) -> bool {
        let messages = || messages.iter().map(String::as_str);
        overlapping_invocations(messages(), &parse_all(messages()))
    }

    #[test]
    fn a_stream_with_two_invocations_in_flight_is_concurrent_and_alternating_ones_are_not() {
        let a = "aaaaaaaa-0000-4000-8000-000000000001";
        let b = "bbbbbbbb-0000-4000-8000-000000000002";
        let start = |id: &str| format!("START RequestId: {id} Version: $LATEST");
        let report = |id: &str| format!("REPORT RequestId: {id}\tDuration: 5.00 ms");
        let json_start =
            |id: &str| format!(r#"{{"time":"t","type":"platform.start","record":{{"requestId":"{id}"}}}}"#);
        let json_done = |id: &str| {
            format!(
                r#"{{"time":"t","type":"platform.runtimeDone","record":{{"requestId":"{id}","status":"success"}}}}"#
            )
        };
        let cases: [(&str, Vec<String>, bool); 6] = [
            (
                "one after the other",
                vec![start(a), report(a), start(b), report(b)],
                false,
            ),
            ("a START without its REPORT yet", vec![start(a), "line".into()], false),
            ("two in flight", vec![start(a), start(b), report(a), report(b)], true),
            (
                "JSON, two in flight",
                vec![json_start(a), json_start(b), json_done(a)],
                true,
            ),
            (
                "JSON, one after the other",
                vec![json_start(a), json_done(a), json_start(b)],
                false,
            ),
            ("the same START twice is one", vec![start(a), start(a)], false),
        ];
        for (name, lines, concurrent) in cases {
            assert_eq!(batch_overlaps(&lines), concurrent, "{name}");
        }
    }

    #[test]
    fn a_platform_line_behind_blanks_does_not_make_a_batch_concurrent() {
        // Lambda writes its platform lines from their first byte: one behind blanks is an
        // application's echo, and the check has only ever read lines that begin with `START `,
        // `END `, `REPORT ` or `{` (a batch's result must not hang on a parse that trims).
        let a = "aaaaaaaa-0000-4000-8000-000000000001";
        let b = "bbbbbbbb-0000-4000-8000-000000000002";
        let start = |id: &str| format!("START RequestId: {id} Version: $LATEST");
        let json_start =
            |id: &str| format!(r#"{{"time":"t","type":"platform.start","record":{{"requestId":"{id}"}}}}"#);
        let cases: [(&str, Vec<String>, bool); 5] = [
            ("two STARTs from the first byte", vec![start(a), start(b)], true),
            (
                "a START behind a space",
                vec![format!(" {}", start(a)), start(b)],
                false,
            ),
            (
                "a START behind a newline",
                vec![start(a), format!("\n{}", start(b))],
                false,
            ),
            (
                "a JSON start behind a tab",
                vec![start(a), format!("\t{}", json_start(b))],
                false,
            ),
            (
                "a START behind a no-break space",
                vec![format!("\u{a0}{}", start(a)), json_start(b)],
                false,
            ),
        ];
        for (name, lines, concurrent) in cases {
            assert_eq!(batch_overlaps(&lines), concurrent, "{name}");
        }
    }

    #[test]
    fn functions_in_custom_log_groups_are_named_by_their_log_stream() {
        let cases = [
            ("/aws/lambda/uploader", "2026/12/02/[$LATEST]0123abcd", "uploader"),
            ("/aws/lambda/uploader", "2026/12/02/other[$LATEST]0123abcd", "uploader"),
            ("/shared/lambda", "2026/12/02/orders-api[$LATEST]0123abcd", "orders-api"),
            ("/shared/lambda", "2026/12/02/billing_job[7][0123abcd]", "billing_job"),
            ("/shared/lambda", "2026/12/02/[$LATEST]0123abcd", "lambda"),
            ("/shared/lambda", "2026/12/02/orders-api", "lambda"),
            ("/shared/lambda", "2026/12/02/bad name[1]x", "lambda"),
            ("/shared/lambda", "12/02/2026/orders[1]x", "lambda"),
            ("/shared/lambda", "", "lambda"),
            ("", "2026/12/02/orders[1]x", "orders"),
        ];
        for (group, stream, name) in cases {
            assert_eq!(function_name_in(group, stream), name, "{group} {stream}");
        }
    }

    #[test]
    fn positions_order_by_time_then_by_event_id_as_a_number() {
        assert!(Pos::of(5, "99") < Pos::of(6, "1"));
        assert!(Pos::of(5, "99") < Pos::of(5, "100"), "ids compare as numbers, not text");
        assert!(
            Pos::of(5, "36589629473914436553467890876543217896541230978654321098")
                < Pos::of(5, "36589629473914436553467890876543217896541230978654321099")
        );
        assert_eq!(Pos::of(5, "abc"), Pos::of(5, ""), "ids that are not numbers tie");
    }

    #[test]
    fn a_head_belongs_to_the_last_start_before_its_batch() {
        let mut s = StreamState::default();
        s.insert(marks(0, Some((5, Boundary::Start(1))), None), None);
        assert_eq!(s.owner_at(pos(10)), Owner::Invocation(1));
        assert_eq!(
            s.owner_at(pos(0)),
            Owner::Unknown,
            "nothing known before the first batch"
        );
    }

    #[test]
    fn a_batch_that_arrives_late_moves_the_heads_after_it_to_their_owner() {
        // Batches 1, 3, 2 of one stream: 2 holds the START that 3's head belongs to.
        let mut s = StreamState::default();
        s.insert(marks(0, Some((5, Boundary::Start(1))), None), None);
        let guess = s.owner_at(pos(30));
        assert_eq!(guess, Owner::Invocation(1));
        assert!(s.insert(marks(30, None, None), orphan(guess)).0.is_empty());
        let (moved, _) = s.insert(marks(20, Some((25, Boundary::Start(2))), None), None);
        assert_eq!(
            moved.as_slice(),
            [Moved {
                from: Owner::Invocation(1),
                to: Owner::Invocation(2)
            }]
        );
        assert_eq!(s.orphans_of(Owner::Invocation(2)).count(), 1);
    }

    #[test]
    fn a_later_head_report_claims_the_heads_before_it() {
        let mut s = StreamState::default();
        s.insert(marks(10, None, None), orphan(Owner::Unknown));
        let (moved, _) = s.insert(marks(20, Some((25, Boundary::Start(8))), Some(7)), None);
        assert_eq!(
            moved.as_slice(),
            [Moved {
                from: Owner::Unknown,
                to: Owner::Invocation(7)
            }]
        );
    }

    /// A head (init lines) followed by a START in its own batch is not claimed by the next
    /// batch's head REPORT: that START stands between them.
    #[test]
    fn a_head_before_its_own_batchs_start_stays_with_what_ran_before() {
        let mut s = StreamState::default();
        s.insert(marks(0, Some((0, Boundary::Init)), None), None);
        let guess = s.owner_at(pos(10));
        assert_eq!(guess, Owner::Init);
        s.insert(marks(10, Some((30, Boundary::Start(1))), None), orphan(guess));
        let (moved, _) = s.insert(marks(40, Some((60, Boundary::Start(2))), Some(1)), None);
        assert!(moved.is_empty(), "{moved:?}");
        assert_eq!(s.orphans_of(Owner::Init).count(), 1);
    }

    #[test]
    fn a_head_stays_with_the_init_when_a_later_batch_reports_the_invocation_its_own_batch_starts() {
        // Batch 1: INIT_START. Batch 2: an init error line at its head, then INIT_REPORT, START 1.
        // Batch 3: the REPORT of 1 at its head. The error line is the init's, not invocation 1's.
        let mut s = StreamState::default();
        s.insert(marks(0, Some((0, Boundary::Init)), None), None);
        let guess = s.owner_at(pos(10));
        assert_eq!(guess, Owner::Init);
        s.insert(marks(10, Some((15, Boundary::Start(1))), None), orphan(guess));
        let (moved, _) = s.insert(marks(20, None, Some(1)), None);
        assert!(moved.is_empty(), "{moved:?}");
        assert_eq!(s.orphans_of(Owner::Init).count(), 1);
    }

    #[test]
    fn init_lines_belong_to_the_init() {
        let mut s = StreamState::default();
        s.insert(marks(0, Some((0, Boundary::Init)), None), None);
        assert_eq!(s.owner_at(pos(3)), Owner::Init);
    }

    #[test]
    fn a_stream_moves_on_at_the_next_start() {
        let mut s = StreamState::default();
        s.insert(marks(0, Some((1, Boundary::Start(1))), None), None);
        assert!(!s.moved_on_after(pos(4)));
        s.insert(marks(5, Some((6, Boundary::Start(2))), None), None);
        assert!(s.moved_on_after(pos(4)));
    }

    #[test]
    fn a_stream_remembers_a_bounded_number_of_batches() {
        let mut s = StreamState::default();
        let n = MAX_SEGMENTS as i64 + 6;
        for t in 0..n {
            s.insert(marks(t * 10, Some((t * 10, Boundary::Start(t as u64))), None), None);
        }
        assert_eq!(s.segments.len(), MAX_SEGMENTS);
        assert_eq!(s.owner_at(pos(n * 10 - 5)), Owner::Invocation(n as u64 - 1));
    }

    #[test]
    fn a_start_forgotten_to_make_room_still_owns_the_heads_after_it() {
        // One long invocation cut into many batches, each with a head whose owner is a guess.
        let mut s = StreamState::default();
        s.insert(marks(0, Some((0, Boundary::Start(1))), None), None);
        for t in 1..(MAX_SEGMENTS as i64 * 2) {
            let owner = s.owner_at(pos(t * 10));
            assert_eq!(owner, Owner::Invocation(1), "batch {t}");
            s.insert(marks(t * 10, None, None), orphan(owner));
        }
    }
}
