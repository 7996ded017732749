//! Payment card numbers in text, found by a scan of its bytes rather than by the rules' regex: digits are common
//! in log text (ids, timestamps), and a regex that may start at any digit costs a second engine's pass over every
//! text that has one.
//!
//! A run is ASCII digits with at most one space or dash between two of them (`4111 1111 1111 1111`,
//! `4111-1111-1111-1111`, `4111111111111111`). The separators split it into groups; a group glued to a word
//! (`ab12`, `12ab`) is part of an identifier and left out. A card number is a sequence of whole groups with:
//!
//! - 13 to 19 digits (ISO/IEC 7812),
//! - an issuer prefix of a card network: a first digit of 3 (American Express, JCB, Diners Club), 4 (Visa),
//!   5 (Mastercard, Maestro) or 6 (Discover, UnionPay, Maestro), or the first four digits 2221 to 2720
//!   (Mastercard's 2-series). This keeps millisecond and nanosecond Unix timestamps (`17…`) and dates written
//!   as digits (`2024…`) out, which pass the checksum one time in ten like any number;
//! - a valid Luhn checksum (ISO/IEC 7812-1 annex B): doubling every second digit from the right, the digit sums
//!   add up to a multiple of 10.
//!
//! Groups are never split, so a long number (an id of 20 digits or more without separators) contains no card
//! number. A run may hold a card number next to another number (`4111111111111111 2`): each starting group is
//! tried with the longest sequence first.

use std::ops::Range;

/// The fewest digits of a card number.
const MIN_DIGITS: usize = 13;
/// The most digits of a card number.
const MAX_DIGITS: usize = 19;

/// Appends the byte ranges of the card numbers in `text` to `out`, in order.
pub(crate) fn find_card_numbers(text: &str, out: &mut Vec<Range<usize>>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let mut digits = 0;
        while i < bytes.len() {
            if bytes[i].is_ascii_digit() {
                digits += 1;
                i += 1;
            } else if matches!(bytes[i], b' ' | b'-')
                && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
            {
                i += 1;
            } else {
                break;
            }
        }
        if digits < MIN_DIGITS {
            continue;
        }
        let glued_before = start > 0 && is_word_byte(bytes[start - 1]);
        let glued_after = bytes.get(i).is_some_and(|&b| is_word_byte(b));
        let run = &text[start..i];
        out.extend(
            card_numbers(run, glued_before, glued_after)
                .into_iter()
                .map(|r| start + r.start..start + r.end),
        );
    }
}

/// Whether `b` continues a word: an ASCII letter, digit or `_`.
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The byte ranges within `run` that are card numbers, in order. `run` holds ASCII digits with single spaces or
/// dashes between groups; its first or last group is left out when it is glued to a word.
fn card_numbers(run: &str, glued_before: bool, glued_after: bool) -> Vec<Range<usize>> {
    let mut groups = groups(run);
    if glued_after {
        groups.pop();
    }
    if glued_before && !groups.is_empty() {
        groups.remove(0);
    }
    let mut found = Vec::new();
    let mut first = 0;
    'starts: while first < groups.len() {
        // The sequences of whole groups that start at `first` and are short enough, longest first.
        let mut ends = Vec::new();
        let mut digits = 0;
        for (last, group) in groups.iter().enumerate().skip(first) {
            digits += group.len();
            if digits > MAX_DIGITS {
                break;
            }
            ends.push((last, digits));
        }
        for &(last, digits) in ends.iter().rev() {
            let span = groups[first].start..groups[last].end;
            if digits >= MIN_DIGITS && is_card_number(&run[span.clone()]) {
                found.push(span);
                first = last + 1;
                continue 'starts;
            }
        }
        first += 1;
    }
    found
}

/// The byte ranges of the digit groups of `run`.
fn groups(run: &str) -> Vec<Range<usize>> {
    let mut groups = Vec::new();
    let mut start = None;
    for (i, b) in run.bytes().enumerate() {
        match (b.is_ascii_digit(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                groups.push(s..i);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        groups.push(s..run.len());
    }
    groups
}

/// Whether `text` (digits, maybe with separators) has a card network's issuer prefix and a valid Luhn checksum.
fn is_card_number(text: &str) -> bool {
    let digits: Vec<u8> = text
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect();
    has_issuer_prefix(&digits) && luhn_valid(&digits)
}

/// Whether `digits` start like a number issued by a card network (see the module documentation).
fn has_issuer_prefix(digits: &[u8]) -> bool {
    match digits.first() {
        Some(3..=6) => true,
        Some(2) => {
            let four = digits
                .iter()
                .take(4)
                .fold(0u32, |n, &d| n * 10 + u32::from(d));
            digits.len() >= 4 && (2221..=2720).contains(&four)
        }
        _ => false,
    }
}

/// The Luhn check: from the rightmost digit, every second digit is doubled (9 subtracted when that exceeds 9) and
/// the sum of all digits must be a multiple of 10.
fn luhn_valid(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The card numbers in `text` as the text they cover.
    fn cards(text: &str) -> Vec<&str> {
        let mut found = Vec::new();
        find_card_numbers(text, &mut found);
        found.into_iter().map(|r| &text[r]).collect()
    }

    fn digits(text: &str) -> Vec<u8> {
        text.bytes().map(|b| b - b'0').collect()
    }

    #[test]
    fn luhn_accepts_test_numbers_and_rejects_a_changed_digit() {
        for number in [
            "4111111111111111",    // Visa
            "5555555555554444",    // Mastercard
            "378282246310005",     // American Express, 15 digits
            "6011111111111117",    // Discover
            "2223003122003222",    // Mastercard 2-series
            "4222222222222",       // Visa, 13 digits
            "6250941006528599",    // UnionPay
            "3530111333300000",    // JCB
            "4000000000000000006", // 19 digits
        ] {
            assert!(luhn_valid(&digits(number)), "{number}");
            assert!(is_card_number(number), "{number}");
        }
        assert!(!luhn_valid(&digits("4111111111111112")));
        assert!(!luhn_valid(&digits("4111111111111121")));
    }

    #[test]
    fn issuer_prefixes() {
        assert!(has_issuer_prefix(&digits("2221000000000009")));
        assert!(has_issuer_prefix(&digits("2720990000000007")));
        for number in [
            "2220990000000000", // below the 2-series
            "2721000000000000", // above it
            "1718031234567",    // a Unix time in milliseconds
            "0000000000000000",
            "7000000000000000",
            "8000000000000000",
            "9000000000000000",
        ] {
            assert!(!has_issuer_prefix(&digits(number)), "{number}");
        }
        // A millisecond timestamp that passes the checksum is still not a card number.
        assert!(luhn_valid(&digits("1718031234566")));
        assert!(!is_card_number("1718031234566"));
    }

    #[test]
    fn runs_with_separators() {
        assert_eq!(cards("4111 1111 1111 1111"), ["4111 1111 1111 1111"]);
        assert_eq!(cards("4111-1111-1111-1111"), ["4111-1111-1111-1111"]);
        assert_eq!(cards("4111 1111-1111 1111"), ["4111 1111-1111 1111"]);
        assert_eq!(cards("3782 822463 10005"), ["3782 822463 10005"]);
    }

    #[test]
    fn a_card_number_next_to_another_number_is_found() {
        assert_eq!(cards("4111111111111111 2"), ["4111111111111111"]);
        assert_eq!(cards("12 4111111111111111"), ["4111111111111111"]);
        assert_eq!(
            cards("4111111111111111 5555555555554444"),
            ["4111111111111111", "5555555555554444"]
        );
    }

    #[test]
    fn in_text() {
        assert_eq!(
            cards("charged 4111 1111 1111 1111, then 5555-5555-5555-4444."),
            ["4111 1111 1111 1111", "5555-5555-5555-4444"]
        );
        assert_eq!(cards("card=4111111111111111"), ["4111111111111111"]);
        // A trailing separator is not part of the run.
        assert_eq!(cards("4111111111111111- and"), ["4111111111111111"]);
        // Groups glued to a word are left out, the others still count.
        assert_eq!(cards("id ab12 4111111111111111"), ["4111111111111111"]);
        assert_eq!(cards("4111111111111111 12ab"), ["4111111111111111"]);
        assert!(cards("ref abc4111111111111111").is_empty());
        assert!(cards("ref 4111111111111111abc").is_empty());
        assert!(cards("ref 4111111111111111_x").is_empty());
        assert!(cards("no digits here").is_empty());
        assert!(cards("12 digits: 411111111111").is_empty());
    }

    #[test]
    fn numbers_that_are_not_card_numbers() {
        // An order number of 16 digits that fails the checksum.
        assert!(cards("4111111111111112").is_empty());
        // Too short and too long.
        assert!(cards("411111111111").is_empty());
        assert!(cards("41111111111111111111").is_empty());
        // A valid card number inside a longer group is part of another number.
        assert!(cards("41111111111111110").is_empty());
        assert!(cards("94111111111111111").is_empty());
        // A nanosecond timestamp.
        assert!(cards("1718031234567890123").is_empty());
    }
}
