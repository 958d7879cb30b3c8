//! Many short texts searched as one: the batch-wide searches (the vocabulary scan,
//! [`crate::signals::scan_each`], and the rules' needles, [`crate::rules::RuleMatcher::candidates`])
//! lower-case a window of texts at a time into one buffer, each followed by a NUL byte, and
//! search it in one go.
//!
//! Searching costs a fixed price per call on top of its price per byte, and log lines are
//! short; a window of [`WINDOW_BYTES`] makes the fixed price vanish and is still read back from
//! cache just after it is written. ASCII lower-casing keeps byte offsets, so a match in the
//! window is at the same offset in its text.

use std::cell::RefCell;

/// How many bytes of texts a window holds before it is searched (a text longer than that is a
/// window of its own).
pub(crate) const WINDOW_BYTES: usize = 64 << 10;

/// The most buffer kept between calls, the lowered texts and their starts together: a window
/// stretched by a long text, or by many empty ones (eight bytes of starts each), is given back.
const KEPT_BYTES: usize = 4 * WINDOW_BYTES;

thread_local! {
    static BUFFER: RefCell<(Vec<u8>, Vec<usize>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// One window of texts.
pub(crate) struct Window<'w> {
    /// The index, among all the texts, of the window's first.
    pub first: usize,
    /// The texts ASCII-lower-cased, each followed by a NUL byte.
    pub lowered: &'w [u8],
    starts: &'w [usize],
}

impl Window<'_> {
    /// How many texts the window holds.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Where the window's text `text` starts in [`Window::lowered`].
    pub fn start(&self, text: usize) -> usize {
        self.starts[text]
    }
}

/// Which text of a window a byte offset falls in, for offsets that come mostly in order: a
/// cursor that walks forward (or back) from its last answer.
#[derive(Default)]
pub(crate) struct TextAt(usize);

impl TextAt {
    /// The window's text that holds byte `offset` of its lowered buffer.
    pub fn of(&mut self, window: &Window<'_>, offset: usize) -> usize {
        let starts = window.starts;
        while self.0 > 0 && starts[self.0] > offset {
            self.0 -= 1;
        }
        while starts.get(self.0 + 1).is_some_and(|&next| next <= offset) {
            self.0 += 1;
        }
        self.0
    }
}

/// Calls `search` with each window of `texts`, in order.
pub(crate) fn each<'a>(texts: impl IntoIterator<Item = &'a str>, mut search: impl FnMut(&Window<'_>)) {
    let mut texts = texts.into_iter().peekable();
    BUFFER.with(|buffer| {
        // A search inside another's gets a buffer of its own rather than a panic.
        let mut own = (Vec::new(), Vec::new());
        let mut borrowed = buffer.try_borrow_mut();
        let (lowered, starts) = match borrowed.as_deref_mut() {
            Ok((lowered, starts)) => (lowered, starts),
            Err(_) => (&mut own.0, &mut own.1),
        };
        let mut first = 0;
        while texts.peek().is_some() {
            lowered.clear();
            starts.clear();
            while lowered.len() < WINDOW_BYTES
                && let Some(text) = texts.next()
            {
                starts.push(lowered.len());
                // Lower-cased as it is copied: one pass (a copy and then a lower-casing pass
                // measured slower, the copy being one `memcpy` call per short text).
                lowered.extend(text.bytes().map(|b| b.to_ascii_lowercase()));
                lowered.push(0);
            }
            search(&Window { first, lowered, starts });
            first += starts.len();
        }
        if lowered.capacity() + starts.capacity() * size_of::<usize>() > KEPT_BYTES {
            *lowered = Vec::new();
            *starts = Vec::new();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept() -> usize {
        BUFFER.with(|b| {
            let (lowered, starts) = &*b.borrow();
            lowered.capacity() + starts.capacity() * size_of::<usize>()
        })
    }

    #[test]
    fn windows_hold_every_text_once_in_order_lowered_and_parted_by_nul() {
        let texts: Vec<String> = (0..20_000usize)
            .map(|i| match i % 3 {
                0 => format!("Line {i} ABC"),
                1 => String::new(),
                _ => "Xy".repeat(if i % 1001 == 2 { WINDOW_BYTES } else { i % 40 }),
            })
            .collect();
        let mut seen = Vec::new();
        let mut windows = 0;
        each(texts.iter().map(String::as_str), |window| {
            assert_eq!(window.first, seen.len(), "windows follow each other");
            for t in 0..window.len() {
                let end = if t + 1 < window.len() {
                    window.start(t + 1)
                } else {
                    window.lowered.len()
                };
                let (text, nul) = window.lowered[window.start(t)..end].split_at(end - window.start(t) - 1);
                assert_eq!(nul, [0]);
                seen.push(String::from_utf8(text.to_vec()).unwrap());
                let mut at = TextAt::default();
                assert_eq!(at.of(window, window.start(t)), t);
                assert_eq!(at.of(window, end - 1), t, "the NUL after a text is its own");
                assert_eq!(at.of(window, 0), 0, "the cursor walks back");
            }
            windows += 1;
        });
        let lowered: Vec<String> = texts.iter().map(|t| t.to_ascii_lowercase()).collect();
        assert_eq!(seen, lowered);
        assert!(windows > 4, "{windows} windows");
    }

    #[test]
    fn many_empty_texts_leave_no_more_than_the_kept_bytes_behind() {
        // Each text costs the buffer one byte and its start eight: the starts must count too.
        let texts = vec![""; KEPT_BYTES];
        let mut count = 0;
        each(texts.iter().copied(), |window| count += window.len());
        assert_eq!(count, texts.len());
        assert!(kept() <= KEPT_BYTES, "{} bytes kept", kept());
        // A window within the bound is kept for the next call.
        each(["Rate exceeded"; 16], |_| {});
        assert!(kept() > 0);
    }

    #[test]
    fn a_search_inside_another_gets_its_own_buffer() {
        let mut inner = Vec::new();
        each(["Outer"], |outer| {
            each(["Inner"], |window| inner.push(window.lowered.to_vec()));
            assert_eq!(outer.lowered, b"outer\0");
        });
        assert_eq!(inner, [b"inner\0".to_vec()]);
    }
}
