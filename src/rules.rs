//! The config's `[[rule]]` patterns, compiled together once when the config is loaded and
//! shared by every function (a function's rules are a bit mask over them), so that matching a
//! line costs no compile, no lookup and no allocation.
//!
//! A line is checked against all of a function's open rules in one pass per kind of pattern:
//! - plain phrases (no regex syntax) in one Aho-Corasick automaton whose overlapping search
//!   reports every phrase in the line, also phrases inside or overlapping others, in one pass
//!   (up to four open phrases use their own memchr searchers instead);
//! - every other pattern through a prefilter first: the literals every match of it must begin
//!   with (regex-syntax's prefix extraction), lower-cased, in one Aho-Corasick search of the
//!   line lower-cased (up to four literals of open rules: each with its own memchr searcher).
//!   ASCII lower-casing keeps byte offsets, so a match that begins with a literal in any case leaves that literal, lower-cased, in the lowered line: the prefilter
//!   never rules a matching line out, and it turns a case-insensitive pattern's hundreds of case
//!   variants into one literal. The patterns that pass it (and those with no finite prefixes,
//!   such as `\d+ failed`) then run: at most two on their own, more in one `RegexSet` whose
//!   answers are kept only for them.
//!
//! The set holds all regex rules of the config, also those of other functions: a set per
//! function could not be compiled at load (function names are known only from the logs), and
//! one set costs a function with few rules little, since a line is scanned once either way.

use aho_corasick::AhoCorasick;
use memchr::memmem::Finder;
use regex::{RegexSet, RegexSetBuilder};

use crate::config::Rule;

/// Most bytes one compiled regex (or the set of all regex rules) may take: regex's own default.
pub const REGEX_SIZE_LIMIT: usize = 10 << 20;

/// The rules' patterns, compiled together. Cloning the config shares it (it sits in an `Arc`).
#[derive(Debug, Default)]
pub struct RuleMatcher {
    /// Bit `i`: rule `i` is a plain phrase.
    phrase_bits: u64,
    /// All plain phrases, searched for all at once; pattern `j` is rule `phrase_rules[j]`.
    phrases: Option<AhoCorasick>,
    phrase_rules: Vec<usize>,
    /// Bit `i`: rule `i` is a regex.
    regex_bits: u64,
    /// All regex rules; pattern `j` of the set is rule `regex_rules[j]`.
    regexes: Option<RegexSet>,
    regex_rules: Vec<usize>,
    /// Bit `i`: regex rule `i` has no finite set of prefixes and runs on every line.
    unfiltered: u64,
    /// The regex rules' prefixes, lower-cased; pattern `j` is a prefix of rule `prefix_rules[j]`.
    prefixes: Option<AhoCorasick>,
    prefix_rules: Vec<usize>,
    /// The same prefixes each with a searcher of its own, and for each rule the range of its
    /// own among them: a line with few open rules is searched for theirs alone.
    prefix_finders: Vec<Finder<'static>>,
    prefix_ranges: Vec<std::ops::Range<usize>>,
}

/// Up to this many open phrases or prefixes, each is looked for with its own SIMD substring
/// search: quicker on a short line than one automaton over all of them, whose search stops at
/// every byte that can begin one (`d` and `w` for `deadlock` and `with`, in most words).
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

impl RuleMatcher {
    /// Compiles `rules` (at most 64) together.
    pub fn new(rules: &[Rule]) -> Result<RuleMatcher, RuleSetError> {
        let mut matcher = RuleMatcher::default();
        let mut phrases: Vec<&[u8]> = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            match &rule.literal {
                Some(finder) => {
                    matcher.phrase_bits |= 1 << i;
                    matcher.phrase_rules.push(i);
                    phrases.push(finder.needle());
                }
                None => {
                    matcher.regex_bits |= 1 << i;
                    matcher.regex_rules.push(i);
                }
            }
        }
        if !phrases.is_empty() {
            // Standard semantics: the only kind with an overlapping search.
            matcher.phrases = Some(
                AhoCorasick::builder()
                    .match_kind(aho_corasick::MatchKind::Standard)
                    .build(&phrases)?,
            );
        }
        let mut prefixes: Vec<Vec<u8>> = Vec::new();
        matcher.prefix_ranges = vec![0..0; rules.len()];
        for &i in &matcher.regex_rules {
            match lowered_prefixes(rules[i].pattern.as_str()) {
                Some(found) => {
                    let start = prefixes.len();
                    for prefix in found {
                        matcher.prefix_finders.push(Finder::new(&prefix).into_owned());
                        prefixes.push(prefix);
                        matcher.prefix_rules.push(i);
                    }
                    matcher.prefix_ranges[i] = start..prefixes.len();
                }
                None => matcher.unfiltered |= 1 << i,
            }
        }
        if !prefixes.is_empty() {
            matcher.prefixes = Some(
                AhoCorasick::builder()
                    .match_kind(aho_corasick::MatchKind::Standard)
                    .build(&prefixes)?,
            );
        }
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
    /// built from) match `line`, as bits.
    pub fn matching(&self, rules: &[Rule], open: u64, line: &str) -> u64 {
        let mut found = 0;
        let phrases = open & self.phrase_bits;
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
        let open_regexes = open & self.regex_bits;
        let mut regexes = open_regexes & self.unfiltered;
        let filtered = open_regexes & !self.unfiltered;
        if filtered != 0 {
            let literals: usize = bits(filtered).map(|r| self.prefix_ranges[r].len()).sum();
            crate::signals::with_lowered(line, |lowered| {
                if literals <= OWN_SEARCHES as usize {
                    for r in bits(filtered) {
                        if self.prefix_finders[self.prefix_ranges[r].clone()]
                            .iter()
                            .any(|f| f.find(lowered).is_some())
                        {
                            regexes |= 1 << r;
                        }
                    }
                } else if let Some(ac) = &self.prefixes {
                    regexes |= overlapping(ac, lowered, &self.prefix_rules, filtered);
                }
            });
        }
        if regexes == 0 {
            return found;
        }
        if regexes.count_ones() <= 2 {
            // Few open: their own regexes, so a rule already matched (or another function's)
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
                found |= open & (1 << self.regex_rules[j]);
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
