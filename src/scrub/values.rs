//! Value scrubbing: secrets inside free text (a message, an exception's value, a breadcrumb's message) replaced by
//! `[Filtered]`, wherever they stand in it.
//!
//! [`ValueScrubber::scrub`] is the one entry point for any text: the built-in rules ([`super::secrets`]) and the
//! program's own patterns ([`super::patterns`]) each say which byte ranges hold secrets; overlapping and touching
//! ranges are merged, and the text is rebuilt once. Text with nothing to filter is neither copied nor changed.

use std::ops::Range;

use super::FILTERED;
use super::patterns::UserPattern;
use super::secrets::find_secrets;

/// Finds secrets in text and filters them.
#[derive(Clone, Debug)]
pub(crate) struct ValueScrubber {
    /// Whether the built-in rules apply ([`crate::ClientOptions::scrub_values`]).
    built_in: bool,
    patterns: Vec<UserPattern>,
}

impl ValueScrubber {
    /// A scrubber with the built-in rules (when `built_in`) and `patterns`.
    pub(crate) fn new(built_in: bool, patterns: Vec<UserPattern>) -> Self {
        ValueScrubber { built_in, patterns }
    }

    /// Compiles the built-in rules now if they apply, so the first event does not wait for it.
    pub(crate) fn warm_up(&self) {
        if self.built_in {
            super::secrets::warm_up();
        }
    }

    /// Whether this scrubber can filter anything at all.
    pub(crate) fn is_active(&self) -> bool {
        self.built_in || !self.patterns.is_empty()
    }

    /// Replaces every secret in `text` with `[Filtered]`, in place; text without one is left untouched.
    ///
    /// This is the entry point for any free text the SDK sends: event messages, exception values and breadcrumb
    /// messages today, log bodies when they are sent.
    pub(crate) fn scrub(&self, text: &mut String) {
        let mut ranges = Vec::new();
        if self.built_in {
            find_secrets(text, &mut ranges);
        }
        for pattern in &self.patterns {
            pattern.find(text, &mut ranges);
        }
        if ranges.is_empty() {
            return;
        }
        *text = replace_ranges(text, ranges);
    }
}

/// `text` with each of `ranges` (any order, possibly overlapping) replaced by [`FILTERED`]; ranges that overlap or
/// touch become one.
fn replace_ranges(text: &str, mut ranges: Vec<Range<usize>>) -> String {
    ranges.sort_unstable_by_key(|r| (r.start, r.end));
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut iter = ranges.into_iter().peekable();
    while let Some(first) = iter.next() {
        let mut range = first;
        while let Some(next) = iter.next_if(|next| next.start <= range.end) {
            range.end = range.end.max(next.end);
        }
        out.push_str(&text[copied..range.start]);
        out.push_str(FILTERED);
        copied = range.end;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrubbed(scrubber: &ValueScrubber, text: &str) -> String {
        let mut text = text.to_owned();
        scrubber.scrub(&mut text);
        text
    }

    #[test]
    fn ranges_are_merged_and_replaced_once() {
        assert_eq!(replace_ranges("abcdef", vec![]), "abcdef");
        assert_eq!(
            replace_ranges("abcdef", vec![1..2, 2..2]),
            "a[Filtered]cdef"
        );
        assert_eq!(
            replace_ranges("abcdef", vec![3..5, 1..2]),
            "a[Filtered]c[Filtered]f"
        );
        // Overlapping, nested and touching ranges.
        assert_eq!(replace_ranges("abcdef", vec![1..3, 2..4]), "a[Filtered]ef");
        assert_eq!(replace_ranges("abcdef", vec![1..5, 2..3]), "a[Filtered]f");
        assert_eq!(replace_ranges("abcdef", vec![1..2, 2..3]), "a[Filtered]def");
        assert_eq!(replace_ranges("abcdef", vec![0..6, 0..6]), "[Filtered]");
    }

    #[test]
    fn built_in_rules_and_patterns_together() {
        let both = ValueScrubber::new(true, vec![UserPattern::new(r"order-[0-9]+").unwrap()]);
        assert_eq!(
            scrubbed(&both, "order-77 failed: password=hunter4"),
            "[Filtered] failed: password=[Filtered]"
        );
        let patterns_only =
            ValueScrubber::new(false, vec![UserPattern::new(r"order-[0-9]+").unwrap()]);
        assert!(patterns_only.is_active());
        assert_eq!(
            scrubbed(&patterns_only, "order-77 failed: password=hunter4"),
            "[Filtered] failed: password=hunter4"
        );
        let off = ValueScrubber::new(false, Vec::new());
        assert!(!off.is_active());
        assert_eq!(scrubbed(&off, "password=hunter4"), "password=hunter4");
    }

    #[test]
    fn a_pattern_overlapping_a_rule_filters_once() {
        let scrubber = ValueScrubber::new(true, vec![UserPattern::new(r"hunter\d").unwrap()]);
        assert_eq!(
            scrubbed(&scrubber, "password=hunter4 then hunter5"),
            "password=[Filtered] then [Filtered]"
        );
    }

    #[test]
    fn text_without_secrets_is_not_reallocated() {
        let scrubber = ValueScrubber::new(true, Vec::new());
        let mut text = String::with_capacity(64);
        text.push_str("connected to db in 12 ms");
        let before = text.as_ptr();
        scrubber.scrub(&mut text);
        assert_eq!(text, "connected to db in 12 ms");
        assert_eq!(text.as_ptr(), before);
    }
}
