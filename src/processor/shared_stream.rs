//! Stream positions shared between containers, for lines without a request id.
//!
//! A line without a request id belongs to the invocation whose START last precedes it in its
//! log stream ([`super::stream`]). With shared state, the batch that holds the START and the
//! batch whose head holds the line can go to different containers, so what decides the owner
//! is kept in one item per log stream (`s#<log group>#<log stream>`), as a string set that
//! containers add to:
//!
//! - `b<pos>;<request id>`: the last START of a batch (`b<pos>;` for an INIT_START);
//! - `r<pos>;<request id>`: a batch that began inside that invocation (its head showed the
//!   invocation's END or REPORT before any START);
//! - `h<pos>;<fact token>`: the facts of a batch's head that has no owner for certain.
//!
//! `<pos>` is the event's timestamp (15 digits) and its CloudWatch event id (56 digits), so
//! that positions sort as text in stream order. Every container that adds to the item reads it
//! back whole and attributes every head by the same rule as a single container does; each
//! invocation's facts are its own item's and those of the heads the stream item gives it.

use std::collections::BTreeMap;

use super::facts::Facts;

/// Digits of the event id in a position.
const ID_DIGITS: usize = 56;

/// The position of an event as sortable text.
pub fn pos_key(timestamp_ms: i64, id: &str) -> String {
    let id = if !id.is_empty() && id.len() <= ID_DIGITS && id.bytes().all(|b| b.is_ascii_digit()) {
        id
    } else {
        ""
    };
    format!("{:015}{id:0>ID_DIGITS$}", timestamp_ms.clamp(0, 999_999_999_999_999))
}

/// The epoch ms of a position.
fn pos_ms(pos: &str) -> i64 {
    pos.get(..15).and_then(|t| t.parse().ok()).unwrap_or(0)
}

/// What one batch adds to its stream's item.
pub fn batch_tokens(
    last_boundary: Option<(String, Option<&str>)>,
    running_at_start: Option<(String, &str)>,
    head: Option<(String, &Facts)>,
) -> Vec<String> {
    let mut tokens = Vec::new();
    if let Some((pos, id)) = last_boundary {
        tokens.push(format!("b{pos};{}", id.unwrap_or("")));
    }
    if let Some((pos, id)) = running_at_start {
        tokens.push(format!("r{pos};{id}"));
    }
    if let Some((pos, facts)) = head {
        tokens.extend(facts.to_tokens().into_iter().map(|t| format!("h{pos};{t}")));
    }
    tokens
}

/// Who a head belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadOwner {
    /// The invocation with this request id.
    Invocation(String),
    /// An init phase: counted in no class.
    Init,
    /// No START known before it yet.
    Unknown,
}

/// A stream's item, read.
#[derive(Debug, Default)]
pub struct StreamView {
    /// (position, request id; `None` for an init), in stream order.
    boundaries: Vec<(String, Option<String>)>,
    /// (position, request id), in stream order.
    marks: Vec<(String, String)>,
    /// Head position → its fact tokens.
    heads: BTreeMap<String, Vec<String>>,
}

impl StreamView {
    /// Reads the item's tokens; tokens that do not read are skipped.
    pub fn parse<S: AsRef<str>>(tokens: &[S]) -> StreamView {
        let mut view = StreamView::default();
        for token in tokens {
            let token = token.as_ref();
            let Some(kind) = token.chars().next() else { continue };
            let Some((pos, rest)) = token[1..].split_once(';') else {
                continue;
            };
            match kind {
                'b' => view
                    .boundaries
                    .push((pos.to_string(), (!rest.is_empty()).then(|| rest.to_string()))),
                'r' if !rest.is_empty() => view.marks.push((pos.to_string(), rest.to_string())),
                'h' => view.heads.entry(pos.to_string()).or_default().push(rest.to_string()),
                _ => {}
            }
        }
        view.boundaries.sort();
        view.boundaries.dedup();
        view.marks.sort();
        view.marks.dedup();
        view
    }

    /// Who the head at `pos` belongs to: the invocation a later batch began inside of, when
    /// no START or INIT_START comes between; else the last START or INIT_START before it.
    pub fn owner(&self, pos: &str) -> HeadOwner {
        let next_boundary = self
            .boundaries
            .iter()
            .find(|(p, _)| p.as_str() >= pos)
            .map(|(p, _)| p.as_str());
        if let Some((at, id)) = self.marks.iter().find(|(p, _)| p.as_str() >= pos)
            && next_boundary.is_none_or(|b| b > at.as_str())
        {
            return HeadOwner::Invocation(id.clone());
        }
        match self.boundaries.iter().rev().find(|(p, _)| p.as_str() < pos) {
            Some((_, Some(id))) => HeadOwner::Invocation(id.clone()),
            Some((_, None)) => HeadOwner::Init,
            None => HeadOwner::Unknown,
        }
    }

    /// The facts of the heads that each invocation (by request id) has.
    pub fn attributed(&self) -> BTreeMap<String, Facts> {
        self.attributed_with(self)
    }

    /// Whether the item holds any head.
    pub fn has_heads(&self) -> bool {
        !self.heads.is_empty()
    }

    /// The facts of this view's heads, by the request id that `whole` (the item they were
    /// taken from) attributes each to.
    pub fn attributed_with(&self, whole: &StreamView) -> BTreeMap<String, Facts> {
        let mut owned: BTreeMap<String, Facts> = BTreeMap::new();
        for (pos, tokens) in &self.heads {
            if let HeadOwner::Invocation(id) = whole.owner(pos) {
                owned.entry(id).or_default().merge(&Facts::from_tokens(tokens));
            }
        }
        owned
    }

    /// The tokens older than `before_ms` that can go (the item is capped in size): every head
    /// and mark before it, and every boundary before it but the last one, which still owns the
    /// heads after it.
    pub fn stale_tokens(&self, tokens: &[String], before_ms: i64) -> Vec<String> {
        let keep = self
            .boundaries
            .iter()
            .rev()
            .find(|(p, _)| pos_ms(p) < before_ms)
            .map(|(p, id)| format!("b{p};{}", id.as_deref().unwrap_or("")));
        tokens
            .iter()
            .filter(|t| {
                t.get(1..16)
                    .and_then(|ms| ms.parse::<i64>().ok())
                    .is_some_and(|ms| ms < before_ms)
                    && Some(t.as_str()) != keep.as_deref()
            })
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processor::flag;

    fn pos(ms: i64, id: u64) -> String {
        pos_key(ms, &format!("{id:056}"))
    }

    fn error_facts() -> Facts {
        let mut facts = Facts::default();
        facts.saw(flag::ERROR_LINE, 0);
        facts
    }

    #[test]
    fn positions_sort_as_text_in_stream_order() {
        assert!(pos(5, 99) < pos(6, 1));
        assert!(pos(5, 99) < pos(5, 100));
        assert!(pos_key(1_795_946_400_000, "abc") < pos(1_795_946_400_000, 1));
    }

    #[test]
    fn a_head_belongs_to_the_last_start_before_it_whichever_container_added_what() {
        let facts = error_facts();
        // Three containers' batches: START a; a head with an error line; START b.
        let one = batch_tokens(Some((pos(10, 1), Some("a"))), None, None);
        let two = batch_tokens(None, None, Some((pos(20, 2), &facts)));
        let three = batch_tokens(Some((pos(30, 3), Some("b"))), None, None);
        for order in [[&one, &two, &three], [&three, &two, &one], [&two, &three, &one]] {
            let all: Vec<String> = order.iter().flat_map(|t| t.iter().cloned()).collect();
            let view = StreamView::parse(&all);
            assert_eq!(view.owner(&pos(20, 2)), HeadOwner::Invocation("a".into()));
            assert_eq!(view.attributed().keys().collect::<Vec<_>>(), ["a"]);
        }
    }

    #[test]
    fn a_later_batch_that_began_inside_an_invocation_claims_the_heads_before_it() {
        let facts = error_facts();
        let mut all = batch_tokens(Some((pos(10, 1), None)), None, None);
        all.extend(batch_tokens(None, None, Some((pos(20, 2), &facts))));
        all.extend(batch_tokens(None, Some((pos(30, 3), "c")), None));
        assert_eq!(
            StreamView::parse(&all).owner(&pos(20, 2)),
            HeadOwner::Invocation("c".into())
        );
        // A START between the head and that batch: the mark is that START's invocation's, and
        // the head goes back to what ran before the START (the init).
        all.extend(batch_tokens(Some((pos(25, 4), Some("d"))), None, None));
        assert_eq!(StreamView::parse(&all).owner(&pos(20, 2)), HeadOwner::Init);
        assert_eq!(
            StreamView::parse(&all).owner(&pos(27, 5)),
            HeadOwner::Invocation("c".into())
        );
    }

    #[test]
    fn init_heads_and_heads_before_any_start_belong_to_no_invocation() {
        let facts = error_facts();
        let mut all = batch_tokens(None, None, Some((pos(5, 1), &facts)));
        assert_eq!(StreamView::parse(&all).owner(&pos(5, 1)), HeadOwner::Unknown);
        all.extend(batch_tokens(Some((pos(1, 0), None)), None, None));
        let view = StreamView::parse(&all);
        assert_eq!(view.owner(&pos(5, 1)), HeadOwner::Init);
        assert!(view.attributed().is_empty());
    }

    #[test]
    fn stale_tokens_keep_the_last_boundary_that_still_owns_later_heads() {
        let facts = error_facts();
        let mut all = batch_tokens(Some((pos(1_000, 1), Some("a"))), None, None);
        all.extend(batch_tokens(
            Some((pos(2_000, 2), Some("b"))),
            None,
            Some((pos(1_500, 3), &facts)),
        ));
        all.extend(batch_tokens(None, None, Some((pos(9_000, 4), &facts))));
        let view = StreamView::parse(&all);
        let stale = view.stale_tokens(&all, 5_000);
        assert!(stale.iter().any(|t| t.starts_with('h') && t.contains(&pos(1_500, 3))));
        assert!(stale.contains(&format!("b{};a", pos(1_000, 1))));
        assert!(!stale.contains(&format!("b{};b", pos(2_000, 2))), "{stale:?}");
        let kept: Vec<String> = all.iter().filter(|t| !stale.contains(t)).cloned().collect();
        assert_eq!(
            StreamView::parse(&kept).owner(&pos(9_000, 4)),
            HeadOwner::Invocation("b".into())
        );
    }
}
