//! The config's `[[rule]]` patterns, compiled together once when the config is loaded and
//! shared by every function (a function's rules are a bit mask over them), so that matching a
//! line costs no compile, no lookup and no allocation.
//!
//! A batch's lines are matched in two steps:
//! - [`RuleMatcher::candidates`]: the rules each line could match, for all lines at once. Every
//!   rule but a regex without a finite set of prefixes has needles, lower-cased literals that
//!   every match of it must hold: a plain phrase (no regex syntax) its own text, a regex the
//!   literals every match of it begins with (regex-syntax's prefix extraction). The lines are
//!   lower-cased a window at a time ([`crate::window`]) and the needles searched for there (up
//!   to four with their own memchr searchers, more in one overlapping Aho-Corasick walk). ASCII
//!   lower-casing keeps byte offsets, so a line that matches a rule leaves the rule's
//!   needle, lower-cased, in the buffer: no line is ruled out that matches. It turns a
//!   case-insensitive pattern's hundreds of case variants into one literal.
//! - [`RuleMatcher::confirm`]: for one line, which of its candidates match: phrases by their
//!   own case-sensitive search, regexes at most two on their own, more in one `RegexSet` whose
//!   answers are kept only for them. Most lines have no candidate left once an invocation has
//!   the rules it can count, and cost nothing here.
//!
//! The set holds all regex rules of the config, also those of other functions: a set per
//! function could not be compiled at load (function names are known only from the logs), and
//! one set costs a function with few rules little, since a line is scanned once either way.

use aho_corasick::AhoCorasick;
use memchr::memmem::Finder;
use regex::{RegexSet, RegexSetBuilder};

use crate::config::Rule;
use crate::window::{self, TextAt};

/// Most bytes one compiled regex (or the set of all regex rules) may take: regex's own default.
pub const REGEX_SIZE_LIMIT: usize = 10 << 20;

/// The rules' patterns, compiled together. Cloning the config shares it (it sits in an `Arc`).
#[derive(Debug, Default)]
pub struct RuleMatcher {
    /// Bit `i`: rule `i` is a plain phrase.
    phrase_bits: u64,
    /// All plain phrases as written, searched for all at once; pattern `j` is rule
    /// `phrase_rules[j]`.
    phrases: Option<AhoCorasick>,
    phrase_rules: Vec<usize>,
    /// Bit `i`: rule `i` is a regex.
    regex_bits: u64,
    /// All regex rules; pattern `j` of the set is rule `regex_rules[j]`.
    regexes: Option<RegexSet>,
    regex_rules: Vec<usize>,
    /// Bit `i`: regex rule `i` has no finite set of prefixes, so every line is its candidate.
    unfiltered: u64,
    /// Every rule's needles, lower-cased (a phrase's text, a regex's prefixes); pattern `j` is
    /// a needle of rule `needle_rules[j]`.
    needles: Option<AhoCorasick>,
    needle_rules: Vec<usize>,
    /// The same needles each with a searcher of its own, and for each rule the range of its own
    /// among them: a function with few rules is searched for theirs alone.
    needle_finders: Vec<Finder<'static>>,
    needle_ranges: Vec<std::ops::Range<usize>>,
}

/// Up to this many needles (or phrases), each is looked for with its own SIMD substring search:
/// quicker than one automaton over all of them, whose search stops at every byte that can begin
/// one (`d` and `w` for `deadlock` and `with`, in most words).
const OWN_SEARCHES: u32 = 4;

/// The literals every match of `pattern` begins with, ASCII lower-cased and without repeats;
/// `None` when there is no finite set of them (or one is empty: every line is a candidate).
fn lowered_prefixes(pattern: &str) -> Option<Vec<Vec<u8>>> {
    let hir = regex_syntax::Parser::new().parse(pattern).ok()?;
    let seq = regex_syntax::hir::literal::Extractor::new()
        .kind(regex_syntax::hir::literal::ExtractKind::Prefix)
        .extract(&hir);
    let mut out: Vec<Vec<u8>> = Vec::new();
    for literal in seq.literals()? {
        let lowered = literal.as_bytes().to_ascii_lowercase();
        if lowered.is_empty() {
            return None;
        }
        if !out.contains(&lowered) {
            out.push(lowered);
        }
    }
    Some(out)
}

/// Why the rules could not be compiled together.
#[derive(Debug, thiserror::Error)]
pub enum RuleSetError {
    /// The regex rules up to `rule` do not fit in one set.
    #[error(
        "the regex rules up to this one are too large to compile together ({source}); use plain phrases, \
         fewer or simpler regexes (no `\\w{{n}}`-style counted repetition of Unicode classes)"
    )]
    TooLarge {
        /// The index of the first rule that does not fit.
        rule: usize,
        /// What the regex engine said.
        #[source]
        source: regex::Error,
    },
    /// The phrases could not be put in one automaton (not expected for at most 64 phrases).
    #[error("the plain-phrase rules could not be compiled together: {0}")]
    Phrases(#[from] aho_corasick::BuildError),
}

/// An automaton with standard semantics, the only kind with an overlapping search.
fn overlapping_automaton<P: AsRef<[u8]>>(patterns: &[P]) -> Result<Option<AhoCorasick>, aho_corasick::BuildError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::Standard)
        .build(patterns)
        .map(Some)
}

impl RuleMatcher {
    /// Compiles `rules` (at most 64) together.
    pub fn new(rules: &[Rule]) -> Result<RuleMatcher, RuleSetError> {
        let mut matcher = RuleMatcher::default();
        let mut phrases: Vec<&[u8]> = Vec::new();
        let mut needles: Vec<Vec<u8>> = Vec::new();
        matcher.needle_ranges = vec![0..0; rules.len()];
        for (i, rule) in rules.iter().enumerate() {
            let own = match &rule.literal {
                Some(finder) => {
                    matcher.phrase_bits |= 1 << i;
                    matcher.phrase_rules.push(i);
                    phrases.push(finder.needle());
                    Some(vec![finder.needle().to_ascii_lowercase()])
                }
                None => {
                    matcher.regex_bits |= 1 << i;
                    matcher.regex_rules.push(i);
                    lowered_prefixes(rule.pattern.as_str())
                }
            };
            let Some(own) = own else {
                matcher.unfiltered |= 1 << i;
                continue;
            };
            let start = needles.len();
            for needle in own {
                matcher.needle_finders.push(Finder::new(&needle).into_owned());
                needles.push(needle);
                matcher.needle_rules.push(i);
            }
            matcher.needle_ranges[i] = start..needles.len();
        }
        matcher.phrases = overlapping_automaton(&phrases)?;
        matcher.needles = overlapping_automaton(&needles)?;
        if !matcher.regex_rules.is_empty() {
            let patterns = || matcher.regex_rules.iter().map(|&i| rules[i].pattern.as_str());
            let build = |n: usize| {
                RegexSetBuilder::new(patterns().take(n))
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
            };
            matcher.regexes = Some(match build(usize::MAX) {
                Ok(set) => set,
                Err(source) => {
                    // Find the rule that tips it over, to name its key (only on failure).
                    let n = (1..=matcher.regex_rules.len())
                        .find(|&n| build(n).is_err())
                        .unwrap_or(matcher.regex_rules.len());
                    return Err(RuleSetError::TooLarge {
                        rule: matcher.regex_rules[n - 1],
                        source,
                    });
                }
            });
        }
        Ok(matcher)
    }

    /// Which of the `open` rules (bit `i` is rule `i` of `rules`, the rules this matcher was
    /// built from) match `line`, as bits: [`RuleMatcher::confirm`] of its
    /// [`RuleMatcher::candidates`].
    pub fn matching(&self, rules: &[Rule], open: u64, line: &str) -> u64 {
        self.confirm(rules, self.candidates(open, [line])[0], line)
    }

    /// For each of `lines`, the rules among `open` it could match: those with a needle in it
    /// (in any ASCII case), and regexes without needles. Never leaves out a rule the line
    /// matches; may name rules it does not (a needle in the wrong case, or across two lines).
    pub fn candidates<'a>(&self, open: u64, lines: impl IntoIterator<Item = &'a str>) -> Vec<u64> {
        let always = open & self.unfiltered;
        let searched = open & !self.unfiltered;
        let lines = lines.into_iter();
        let mut found = Vec::with_capacity(lines.size_hint().0);
        if searched == 0 {
            found.extend(lines.map(|_| always));
            return found;
        }
        let needles: usize = bits(searched).map(|r| self.needle_ranges[r].len()).sum();
        // The NUL between lines: a needle that spans it only makes a candidate too many.
        window::each(lines, |window| {
            found.resize(window.first + window.len(), always);
            let found = &mut found[window.first..];
            if needles <= OWN_SEARCHES as usize {
                for r in bits(searched) {
                    for finder in &self.needle_finders[self.needle_ranges[r].clone()] {
                        let mut line = TextAt::default();
                        for start in finder.find_iter(window.lowered) {
                            found[line.of(window, start)] |= 1 << r;
                        }
                    }
                }
            } else if let Some(ac) = &self.needles {
                let mut line = TextAt::default();
                for m in ac.find_overlapping_iter(window.lowered) {
                    let rule = self.needle_rules[m.pattern().as_usize()];
                    found[line.of(window, m.start())] |= searched & (1 << rule);
                }
            }
        });
        found
    }

    /// Which of the `candidates` (bits of the rules this matcher was built from, as
    /// [`RuleMatcher::candidates`] gives them) match `line`.
    pub fn confirm(&self, rules: &[Rule], candidates: u64, line: &str) -> u64 {
        let mut found = 0;
        let phrases = candidates & self.phrase_bits;
        if phrases.count_ones() <= OWN_SEARCHES {
            for r in bits(phrases) {
                if rules[r]
                    .literal
                    .as_ref()
                    .is_some_and(|f| f.find(line.as_bytes()).is_some())
                {
                    found |= 1 << r;
                }
            }
        } else if let Some(ac) = &self.phrases {
            found |= overlapping(ac, line.as_bytes(), &self.phrase_rules, phrases);
        }
        let regexes = candidates & self.regex_bits;
        if regexes == 0 {
            return found;
        }
        if regexes.count_ones() <= 2 {
            // Few left: their own regexes, so a rule already matched (or another function's)
            // cannot make the set say yes on every line and send it to a second scan.
            for r in bits(regexes) {
                if rules[r].pattern.is_match(line) {
                    found |= 1 << r;
                }
            }
        } else if let Some(set) = &self.regexes
            && set.is_match(line)
        {
            for j in set.matches(line).iter() {
                found |= regexes & (1 << self.regex_rules[j]);
            }
        }
        found
    }
}

/// Which of the `wanted` rules one overlapping walk of `ac` over `haystack` finds, pattern `j`
/// standing for rule `rule_of[j]`; the walk stops once it has found them all.
fn overlapping(ac: &AhoCorasick, haystack: &[u8], rule_of: &[usize], wanted: u64) -> u64 {
    let mut found = 0;
    for m in ac.find_overlapping_iter(haystack) {
        found |= wanted & (1 << rule_of[m.pattern().as_usize()]);
        if found == wanted {
            break;
        }
    }
    found
}

/// The indexes of the set bits of `set`, lowest first.
pub fn bits(mut set: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (set != 0).then(|| {
            let i = set.trailing_zeros() as usize;
            set &= set - 1;
            i
        })
    })
}

#[cfg(test)]
mod tests {
    use crate::Config;

    fn config(rules: &[(&str, &str)]) -> Config {
        let text: String = rules
            .iter()
            .map(|(metric, pattern)| format!("[[rule]]\nmetric = \"{metric}\"\npattern = '{pattern}'\n"))
            .collect();
        Config::from_toml_str(&text).unwrap()
    }

    fn matched(config: &Config, open: u64, line: &str) -> Vec<String> {
        let found = config.rule_matcher().matching(&config.rules, open, line);
        super::bits(found).map(|r| config.rules[r].metric.to_string()).collect()
    }

    #[test]
    fn every_open_rule_that_matches_a_line_is_found_in_one_call() {
        let config = config(&[
            ("Api", "API Rate"),
            ("ApiLimit", "API Rate Limit"),
            ("Deadlock", "(?i)deadlock detected"),
            ("Code", r"code=\d{3}"),
            ("Size", "size="),
        ]);
        let cases: [(&str, &str, &[&str]); 6] = [
            ("a line with none of them", "fetched page 3", &[]),
            (
                "phrases that share a start",
                "API Rate Limit Exceeded",
                &["Api", "ApiLimit"],
            ),
            ("a phrase inside another's match", "chunk_size=5", &["Size"]),
            ("a case-insensitive regex", "DEADLOCK Detected in tx", &["Deadlock"]),
            (
                "phrases and regexes together",
                "API Rate code=429 size=3",
                &["Api", "Code", "Size"],
            ),
            ("a phrase in the wrong case", "api rate limit", &[]),
        ];
        for (name, line, want) in cases {
            assert_eq!(matched(&config, u64::MAX >> (64 - 5), line), want, "{name}");
        }
    }

    #[test]
    fn rules_that_are_not_open_are_not_reported() {
        let config = config(&[("Api", "API Rate"), ("Deadlock", "(?i)deadlock"), ("Other", "x")]);
        let line = "API Rate deadlock x";
        assert_eq!(matched(&config, 0b010, line), ["Deadlock"]);
        assert_eq!(matched(&config, 0b101, line), ["Api", "Other"]);
        assert_eq!(matched(&config, 0, line), Vec::<String>::new());
    }

    #[test]
    fn lines_across_many_search_windows_each_get_their_own_rules() {
        use crate::window::WINDOW_BYTES;
        let config = config(&[
            ("Api", "API Rate Limit"),
            ("Deadlock", "(?i)deadlock detected"),
            ("Any", r"\d+ failed"),
        ]);
        let matcher = config.rule_matcher();
        // Lines of every length around the window's size, some of them longer than it, with the
        // needles at the start, the end, and split over two lines.
        let mut lines = Vec::new();
        for i in 0..4000usize {
            let filler = "x".repeat(if i % 997 == 0 { WINDOW_BYTES + i } else { i % 61 });
            lines.push(match i % 5 {
                0 => format!("API Rate Limit {filler}"),
                1 => format!("{filler} DEADLOCK detected"),
                2 => format!("{filler} API Rate"),
                3 => format!(" Limit {filler} 3 failed"),
                _ => filler,
            });
        }
        let total: usize = lines.iter().map(String::len).sum();
        assert!(total > 4 * WINDOW_BYTES, "{total} bytes");
        let candidates = matcher.candidates(0b111, lines.iter().map(String::as_str));
        for (i, (line, candidates)) in lines.iter().zip(candidates).enumerate() {
            let want = (0..3)
                .filter(|&r| config.rules[r].pattern.is_match(line))
                .fold(0u64, |bits, r| bits | 1 << r);
            assert_eq!(matcher.confirm(&config.rules, candidates, line), want, "line {i}");
            // Only the regex without needles is a candidate of every line.
            assert_eq!(candidates, want | 0b100, "line {i}");
        }
    }

    mod properties {
        use proptest::prelude::*;

        /// Rules whose phrases share starts, sit inside each other and overlap, with regexes
        /// beside them: what a one-pass search could get wrong.
        const RULES: &[(&str, &str)] = &[
            ("A", "API Rate"),
            ("B", "API Rate Limit"),
            ("C", "Rate Limit Exceeded"),
            ("D", "Limit"),
            ("E", "size="),
            ("F", "chunk_size="),
            ("G", r"(?i)dead\w*lock"),
            ("H", r"code=\d{3}"),
            ("I", "(?i)payment \\d+ declined"),
            ("J", "(?i)kelvin (timeout|deadline) exceeded"),
            ("K", "^ERROR"),
            ("L", r"\d+ failed"),
            ("M", "[A-Z]{3}-\\d"),
            ("N", "(?i)(?:ſtop|halt)ed"),
            // The same prefix as G's, in another rule: each must be reported.
            ("O", r"(?i)dead\s+end"),
            // More literals than own searches, even when it is the only open rule.
            ("P", r"(alpha|beta|gamma|delta|omega)-\d"),
            ("Q", "Limit Exceeded"),
            ("R", "API"),
        ];
        const PIECES: &[&str] = &[
            "API ",
            "Rate ",
            "Limit ",
            "Exceeded",
            "api rate",
            "chunk_",
            "size=",
            "DeadLock",
            "code=42",
            "9",
            "payment 7 declined",
            "PAYMENT",
            " ",
            "x",
            "\u{212A}ELVIN ",
            "kelvin ",
            "TIMEOUT exceeded",
            "deadline Exceeded",
            "ERROR",
            "error",
            " failed",
            "ABC-",
            "abc-",
            "STOPPED",
            "ſtopped",
            "Halted",
            "dead end",
            "DEAD \t END",
            "omega-1",
            "Alpha-2",
            "gamma-",
        ];

        /// Rules at the edges of the prefilter: phrases that hold or are the NUL that parts lines
        /// in the search buffer, phrases at line edges, case-insensitive regexes whose Unicode
        /// case folding reaches past ASCII (Kelvin sign, long s, sharp s, titlecase digraphs,
        /// final sigma), anchors, a regex with more needles than own searches, one without any.
        const EDGE_RULES: &[(&str, &str)] = &[
            ("NulInside", "a\0b"),
            ("Nul", "\0"),
            ("End", "END"),
            ("KelvinPhrase", "\u{212A}elvin"),
            ("Kelvin", "(?i)kelvin"),
            ("LongS", "(?i)ſtop"),
            ("SharpS", "(?i)straße"),
            ("Digraph", "(?i)ǆx"),
            ("Whole", "^ERROR$"),
            ("LineStart", "(?m)^x"),
            ("NulRegex", r"a\x00b"),
            ("Many", r"(alpha|beta|gamma|delta|omega|sigma)-\d"),
            ("NoNeedle", r"\w+=\d+"),
            ("Sigma", "(?i)σ="),
            ("KelvinSign", r"(?i)\x{212A}="),
            ("Limit", "Limit"),
            ("ApiLimit", "API Rate Limit"),
            ("Boundary", r"x\b"),
            ("DottedI", "(?i)İ="),
            ("Spaced", " E"),
        ];

        /// Pieces of generated regexes, each whole on its own: case-insensitive groups whose
        /// folding reaches past ASCII, classes, repetitions (some that allow nothing), anchors.
        const REGEX_ATOMS: &[&str] = &[
            "(?i:k)",
            "(?i:ſ)",
            "(?i:ß)",
            "(?i:ǅ)",
            "(?i:σ)",
            "(?i:s)+",
            "(?-i:K)",
            "[a-cK]",
            "a*",
            "b?",
            "(?:x|yz)",
            r"\b",
            r"\d",
            ".",
            "q{2,3}",
            "^",
            "$",
            "(?m:^)",
            r"\x00",
            "(?i)",
            "(?i:KELVIN)",
        ];
        const LINE_ATOMS: &[&str] = &[
            "k", "K", "\u{212A}", "ſ", "s", "S", "a", "b", "c", "x", "yz", "1", "ß", "ẞ", "ǅ", "ǆ", "Ǆ", "q", "Σ", "σ",
            "ς", " ", "\n", "\0", "elvin", "ELVIN",
        ];

        /// Line pieces for [`EDGE_RULES`], among them fillers that make a batch span several
        /// search windows and end them at every kind of place.
        fn edge_pieces() -> Vec<String> {
            let window = crate::window::WINDOW_BYTES;
            let mut pieces: Vec<String> = [
                "a",
                "\0",
                "b",
                "END",
                "end",
                "\u{212A}",
                "K",
                "k",
                "elvin",
                "ELVIN",
                "ſ",
                "S",
                "s",
                "top",
                "TOP",
                "stra",
                "STRA",
                "ß",
                "ẞ",
                "SS",
                "e",
                "E",
                "ǆ",
                "ǅ",
                "Ǆ",
                "x",
                "X",
                "ERROR",
                "\n",
                "alpha-",
                "OMEGA-",
                "Sigma-",
                "1",
                "=",
                "_",
                " ",
                "Σ",
                "σ",
                "ς",
                "İ",
                "i",
                "API ",
                "Rate ",
                "Limit",
                "\u{1F600}",
            ]
            .iter()
            .map(|p| p.to_string())
            .collect();
            pieces.push("f".repeat(window - 5));
            pieces.push("y".repeat(window / 3));
            pieces.push("z".repeat(window + 1));
            pieces
        }

        /// A config of `rules` whose patterns are written as TOML strings with escapes, so that
        /// they may hold any character (NUL too).
        fn escaped_config(rules: &[(&str, &str)]) -> crate::Config {
            let text: String = rules
                .iter()
                .map(|(metric, pattern)| {
                    let pattern = toml::Value::String(pattern.to_string());
                    format!("[[rule]]\nmetric = \"{metric}\"\npattern = {pattern}\n")
                })
                .collect();
            crate::Config::from_toml_str(&text).unwrap()
        }

        #[test]
        fn the_rules_take_both_ways_of_searching_prefixes_and_share_one() {
            use crate::rules::{OWN_SEARCHES, lowered_prefixes};
            let wide = lowered_prefixes(RULES[15].1).unwrap();
            assert!(wide.len() > OWN_SEARCHES as usize, "{wide:?}");
            let (g, o) = (
                lowered_prefixes(RULES[6].1).unwrap(),
                lowered_prefixes(RULES[14].1).unwrap(),
            );
            assert!(g.iter().any(|p| o.contains(p)), "{g:?} {o:?}");
        }

        proptest! {
            #[test]
            fn the_batch_search_finds_for_each_line_what_its_own_patterns_match(
                lines in proptest::collection::vec(proptest::collection::vec(0..PIECES.len(), 0..8), 0..10),
                open in 0u64..(1 << RULES.len()),
            ) {
                let config = super::config(RULES);
                let matcher = config.rule_matcher();
                let lines: Vec<String> = lines.iter().map(|l| l.iter().map(|&i| PIECES[i]).collect()).collect();
                let candidates = matcher.candidates(open, lines.iter().map(String::as_str));
                prop_assert_eq!(candidates.len(), lines.len());
                for (line, candidates) in lines.iter().zip(candidates) {
                    let want = (0..RULES.len())
                        .filter(|&r| open & (1 << r) != 0 && config.rules[r].pattern.is_match(line))
                        .fold(0u64, |bits, r| bits | 1 << r);
                    prop_assert_eq!(candidates & want, want, "a matching rule was left out of {:?}", line);
                    prop_assert_eq!(matcher.confirm(&config.rules, candidates, line), want, "{:?}", line);
                }
            }

            #[test]
            fn batches_over_many_windows_find_for_each_line_what_its_own_patterns_match(
                lines in proptest::collection::vec(proptest::collection::vec(any::<prop::sample::Index>(), 0..6), 0..30),
                open in prop_oneof![
                    any::<u64>(),
                    (0..EDGE_RULES.len()).prop_map(|r| 1u64 << r),
                    (0..EDGE_RULES.len(), 0..EDGE_RULES.len()).prop_map(|(a, b)| (1u64 << a) | (1 << b)),
                ],
            ) {
                let config = escaped_config(EDGE_RULES);
                let open = open & (u64::MAX >> (64 - EDGE_RULES.len()));
                let pieces = edge_pieces();
                let lines: Vec<String> = lines.iter().map(|l| l.iter().map(|i| i.get(&pieces).as_str()).collect()).collect();
                let matcher = config.rule_matcher();
                let candidates = matcher.candidates(open, lines.iter().map(String::as_str));
                prop_assert_eq!(candidates.len(), lines.len());
                for (i, (line, candidates)) in lines.iter().zip(candidates).enumerate() {
                    let want = (0..EDGE_RULES.len())
                        .filter(|&r| open & (1 << r) != 0 && config.rules[r].pattern.is_match(line))
                        .fold(0u64, |bits, r| bits | 1 << r);
                    prop_assert_eq!(candidates & !open, 0, "line {} names rules that are not open", i);
                    prop_assert_eq!(candidates & want, want, "a matching rule was left out of line {}", i);
                    prop_assert_eq!(matcher.confirm(&config.rules, candidates, line), want, "line {}", i);
                }
            }

            #[test]
            fn no_line_is_left_out_of_a_generated_regex_it_matches(
                patterns in proptest::collection::vec(
                    proptest::collection::vec(proptest::sample::select(REGEX_ATOMS), 1..5).prop_map(|a| a.concat()),
                    1..7,
                ),
                lines in proptest::collection::vec(
                    proptest::collection::vec(proptest::sample::select(LINE_ATOMS), 0..8).prop_map(|a| a.concat()),
                    1..12,
                ),
            ) {
                let named: Vec<(String, &str)> = patterns.iter().enumerate().map(|(i, p)| (format!("R{i}"), p.as_str())).collect();
                let named: Vec<(&str, &str)> = named.iter().map(|(m, p)| (m.as_str(), *p)).collect();
                let config = escaped_config(&named);
                let matcher = config.rule_matcher();
                let open = u64::MAX >> (64 - named.len());
                let candidates = matcher.candidates(open, lines.iter().map(String::as_str));
                for (line, candidates) in lines.iter().zip(candidates) {
                    let want = (0..named.len())
                        .filter(|&r| config.rules[r].pattern.is_match(line))
                        .fold(0u64, |bits, r| bits | 1 << r);
                    prop_assert_eq!(candidates & want, want, "a matching rule was left out of {:?}: {:?}", line, patterns);
                    prop_assert_eq!(matcher.confirm(&config.rules, candidates, line), want, "{:?}: {:?}", line, patterns);
                }
            }

            #[test]
            fn one_pass_finds_exactly_the_open_rules_whose_own_pattern_matches(
                pieces in proptest::collection::vec(0..PIECES.len(), 0..12),
                open in 0u64..(1 << RULES.len()),
            ) {
                let config = super::config(RULES);
                let line: String = pieces.iter().map(|&i| PIECES[i]).collect();
                let want = (0..RULES.len())
                    .filter(|&r| open & (1 << r) != 0 && config.rules[r].pattern.is_match(&line))
                    .fold(0u64, |bits, r| bits | 1 << r);
                prop_assert_eq!(config.rule_matcher().matching(&config.rules, open, &line), want, "{:?}", line);
            }
        }
    }
}
