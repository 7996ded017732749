//! Patterns the program adds with [`crate::ClientOptions::scrub_pattern`]: compiled, matched, and the error for one
//! that does not compile.

use std::fmt;
use std::ops::Range;

use regex::Regex;

/// A pattern added by the program, compiled.
#[derive(Clone, Debug)]
pub(crate) struct UserPattern {
    regex: Regex,
    /// Whether the pattern has capture groups; then only what they capture is filtered, not the whole match.
    has_groups: bool,
}

impl UserPattern {
    /// Compiles `pattern` (the regex crate's syntax).
    pub(crate) fn new(pattern: &str) -> Result<UserPattern, ScrubPatternError> {
        let regex = Regex::new(pattern).map_err(|source| ScrubPatternError {
            inner: Box::new((pattern.to_owned(), source)),
        })?;
        Ok(UserPattern {
            has_groups: regex.captures_len() > 1,
            regex,
        })
    }

    /// Appends the byte ranges of `text` to filter to `out`: each match, or each group that took part in one; empty
    /// ones are left out, as there is nothing to filter in them.
    pub(crate) fn find(&self, text: &str, out: &mut Vec<Range<usize>>) {
        if self.has_groups {
            for caps in self.regex.captures_iter(text) {
                out.extend(
                    caps.iter()
                        .skip(1)
                        .flatten()
                        .map(|m| m.range())
                        .filter(|r| !r.is_empty()),
                );
            }
        } else {
            out.extend(
                self.regex
                    .find_iter(text)
                    .map(|m| m.range())
                    .filter(|r| !r.is_empty()),
            );
        }
    }
}

/// A pattern given to [`ClientOptions::scrub_pattern`](crate::ClientOptions::scrub_pattern) that is not a valid
/// regular expression; [`crate::try_init`] refuses it with [`InitErrorKind::InvalidScrubPattern`].
///
/// Its `Display` is one line (`` invalid pattern `(`: unclosed group ``); its [`source`](std::error::Error::source)
/// is the regex crate's error, with the position of the problem.
///
/// [`InitErrorKind::InvalidScrubPattern`]: crate::InitErrorKind::InvalidScrubPattern
pub struct ScrubPatternError {
    // Boxed, so the error stays one pointer wide inside `InitError`.
    inner: Box<(String, regex::Error)>,
}

impl ScrubPatternError {
    /// The pattern as it was given.
    pub fn pattern(&self) -> &str {
        &self.inner.0
    }

    /// What is wrong with the pattern, in one line: the last line of the regex crate's message (`unclosed group`).
    pub(crate) fn reason(&self) -> String {
        let message = self.inner.1.to_string();
        let last = message
            .lines()
            .rev()
            .find(|line| !line.trim().is_empty())
            .unwrap_or_default();
        last.trim().trim_start_matches("error: ").to_owned()
    }
}

impl fmt::Display for ScrubPatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid pattern `{}`: {}", self.pattern(), self.reason())
    }
}

impl fmt::Debug for ScrubPatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScrubPatternError")
            .field("pattern", &self.pattern())
            .field("reason", &self.reason())
            .finish()
    }
}

impl std::error::Error for ScrubPatternError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.inner.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(pattern: &str, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        UserPattern::new(pattern).unwrap().find(text, &mut out);
        out.into_iter().map(|r| text[r].to_owned()).collect()
    }

    #[test]
    fn a_pattern_without_groups_filters_its_matches() {
        assert_eq!(
            found(
                r"sk_live_[0-9a-zA-Z]{8,}",
                "key sk_live_abcdef123 and sk_live_zz"
            ),
            ["sk_live_abcdef123"]
        );
        assert!(found(r"sk_live_[0-9a-zA-Z]{8,}", "no key here").is_empty());
    }

    #[test]
    fn a_pattern_with_groups_filters_only_the_groups() {
        assert_eq!(
            found(r"(?i)ssn (\d{3})-(\d{2})-\d{4}", "SSN 078-05-1120 on file"),
            ["078", "05"]
        );
        // A group that does not take part filters nothing.
        assert_eq!(found(r"pin=(\d+)|pin=(x)", "pin=1234"), ["1234"]);
        assert!(found(r"pin=(\d*)", "pin= none").is_empty());
    }

    #[test]
    fn perl_classes_case_folding_and_unicode_properties_work() {
        assert_eq!(
            found(r"(?i)straße=\w+", "STRASSE=x Straße=Ü42"),
            ["Straße=Ü42"]
        );
        assert_eq!(found(r"pin \d{4}\s", "pin 1234 ok"), ["pin 1234 "]);
        assert_eq!(found(r"\p{Greek}+", "id αβγ ok"), ["αβγ"]);
    }

    #[test]
    fn an_invalid_pattern_says_what_is_wrong_in_one_line() {
        let err = UserPattern::new("(unclosed").unwrap_err();
        assert_eq!(err.pattern(), "(unclosed");
        assert_eq!(
            err.to_string(),
            "invalid pattern `(unclosed`: unclosed group"
        );
        assert!(std::error::Error::source(&err).is_some());
        let err = UserPattern::new(r"\q").unwrap_err();
        assert!(!err.reason().contains('\n'), "{}", err.reason());
        assert!(err.reason().contains("escape"), "{}", err.reason());
        assert_eq!(
            std::mem::size_of::<ScrubPatternError>(),
            std::mem::size_of::<usize>()
        );
    }
}
