//! One batch's invocations, in order of first appearance, found by request id. Ids borrow from
//! the batch's lines, so a batch allocates no string per invocation. Consecutive lines almost
//! always belong to the same invocation, so the last slot is checked before the map.

use std::collections::HashMap;

use smallvec::SmallVec;

use super::facts::Facts;

/// Lines kept as evidence per invocation and batch.
pub const MAX_EVIDENCE_PER_INVOCATION: usize = 3;

/// Whose lines a slot holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Owner<'a> {
    /// An invocation, by request id.
    Id(&'a str),
    /// The init phase that an INIT_START in this batch began.
    Init,
    /// The lines at the head of the batch, before its first START or INIT_START.
    Head,
}

/// What one batch showed of one invocation (or of its init phase or head).
#[derive(Debug, Default)]
pub struct Invocation {
    /// The facts.
    pub facts: Facts,
    /// Where its START is in the batch.
    pub started_at: Option<usize>,
    /// Where its REPORT is in the batch.
    pub reported_at: Option<usize>,
    /// The events that are its evidence, by index in the batch.
    pub evidence: SmallVec<[usize; MAX_EVIDENCE_PER_INVOCATION]>,
}

impl Invocation {
    /// The line at `event_index` showed `flags`; failures keep it as evidence.
    pub fn mark(&mut self, flags: u16, event_index: usize, timestamp_ms: i64, evidence: bool) {
        self.facts.saw(flags, timestamp_ms);
        if evidence {
            self.keep_evidence(event_index);
        }
    }

    /// Keeps the line at `event_index` as evidence, if there is room.
    pub fn keep_evidence(&mut self, event_index: usize) {
        if self.evidence.len() < MAX_EVIDENCE_PER_INVOCATION && !self.evidence.contains(&event_index) {
            self.evidence.push(event_index);
        }
    }

    /// Takes in another slot's lines (a head that turned out to be this invocation's).
    pub fn absorb(&mut self, other: Invocation) {
        self.facts.merge(&other.facts);
        for i in other.evidence {
            self.keep_evidence(i);
        }
        self.evidence.sort_unstable();
    }
}

/// The slots of one batch.
#[derive(Default)]
pub struct Slots<'a> {
    /// Each invocation's id and what the batch showed of it.
    pub invocations: Vec<(Owner<'a>, Invocation)>,
    index: HashMap<&'a str, usize, foldhash::fast::RandomState>,
    init: Option<usize>,
    head: Option<usize>,
    last: Option<usize>,
}

impl<'a> Slots<'a> {
    /// Room for the invocations of a batch of `events` log events.
    pub fn for_events(events: usize) -> Self {
        // A dozen lines or more per invocation is usual; the guess only saves regrowing.
        let guess = (events / 8).min(4096);
        Slots {
            invocations: Vec::with_capacity(guess),
            index: HashMap::with_capacity_and_hasher(guess, Default::default()),
            ..Slots::default()
        }
    }

    /// The slot of an owner already seen in this batch.
    pub fn find(&mut self, owner: Owner<'_>) -> Option<usize> {
        let id = match owner {
            Owner::Id(id) => id,
            Owner::Init => return self.init,
            Owner::Head => return self.head,
        };
        if let Some(last) = self.last
            && matches!(self.invocations[last].0, Owner::Id(r) if same_id(r, id))
        {
            return Some(last);
        }
        let i = *self.index.get(id)?;
        self.last = Some(i);
        Some(i)
    }

    /// The slot of an owner, made if this batch has not seen it yet.
    pub fn get(&mut self, owner: Owner<'a>) -> &mut Invocation {
        let i = match self.find(owner) {
            Some(i) => i,
            None => {
                let i = self.invocations.len();
                match owner {
                    Owner::Id(id) => {
                        self.index.insert(id, i);
                    }
                    Owner::Init => self.init = Some(i),
                    Owner::Head => self.head = Some(i),
                }
                self.invocations.push((owner, Invocation::default()));
                self.last = Some(i);
                i
            }
        };
        &mut self.invocations[i].1
    }

    /// Takes the head's slot out (it is left empty in place).
    pub fn take_head(&mut self) -> Option<Invocation> {
        self.head.map(|i| std::mem::take(&mut self.invocations[i].1))
    }

    /// The init phase's slot, if the batch has one.
    pub fn init(&self) -> Option<&Invocation> {
        self.init.map(|i| &self.invocations[i].1)
    }
}

/// Whether two request ids are equal. Ids are compared on nearly every line, and nearly all are
/// 36-byte UUIDs: those are compared as five words, without a call to `memcmp`.
pub fn same_id(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != 36 || b.len() != 36 {
        return a == b;
    }
    let word = |s: &[u8], at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_le_bytes(w)
    };
    // The last word overlaps the fourth, to cover bytes 28 to 35.
    [0, 8, 16, 24, 28]
        .iter()
        .fold(0, |differ, &at| differ | (word(a, at) ^ word(b, at)))
        == 0
}
