//! Rate limits: which data categories the server has asked us not to send, and until when.
//!
//! The server limits a client in two ways (Sentry developer documentation, "Rate Limiting"):
//!
//! - `X-Sentry-Rate-Limits`, which may come on **any** response (a 200 included), limits single categories or all
//!   of them. When it is present it overrides `Retry-After`.
//! - A `429 Too Many Requests` without it limits everything for `Retry-After` seconds, or for
//!   [`DEFAULT_RETRY_AFTER`] when that header is missing, is an HTTP date or does not parse.
//!
//! [`RateLimiter`] is pure: it never reads the clock (the caller passes `now`) and does no I/O, so the worker decides
//! when to look and the tests decide what time it is.

use std::time::{Duration, Instant};

use crate::protocol::data_category::DataCategory;
use crate::protocol::envelope::Envelope;

/// How long a 429 limits everything when it carries no usable `Retry-After` (missing, an HTTP date, or not a
/// number). 60 s is what the Sentry SDKs use.
pub(crate) const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The longest limit taken from the server: one day. A longer value is cut to this, so a nonsensical header (or a
/// huge number) cannot silence the SDK for good or overflow an `Instant`; a server that really means longer answers
/// the one request a day with the limit again, which costs nothing.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// Which categories one entry of `X-Sentry-Rate-Limits` applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Scope {
    /// The categories field was empty.
    All,
    /// The known categories listed; possibly none, when every name was unknown.
    Only(Vec<DataCategory>),
}

/// One well-formed entry of `X-Sentry-Rate-Limits`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Limit {
    retry_after: Duration,
    scope: Scope,
}

// Grammar of `X-Sentry-Rate-Limits` (Sentry developer documentation, "Rate Limiting"):
//
//   rate_limits = limit *( "," limit )
//   limit       = retry_after ":" categories [ ":" scope [ ":" reason_code [ ":" namespaces ] ] ]
//   retry_after = 1*DIGIT [ "." *DIGIT ]          ; seconds
//   categories  = [ category *( ";" category ) ]  ; empty: every category
//   category    = a data category name, e.g. "error", "transaction", "session", "attachment"
//
// Only `retry_after` and `categories` matter to a client; `scope`, `reason_code` and `namespaces` (which narrows
// `metric_bucket` limits) are for the server's bookkeeping, so a limit with just the first two fields is accepted, as
// the JavaScript SDK does. Whitespace around any field is ignored. A limit whose `retry_after` is not a non-negative
// decimal number is skipped; the others still count. Unknown category names are ignored; a limit naming only
// unknown categories is well formed but limits nothing. Fractions round up to the next second, and values are cut
// to `MAX_RETRY_AFTER`.
fn parse_rate_limits(header: &str) -> Vec<Limit> {
    header
        .split(',')
        .filter_map(|entry| {
            let mut fields = entry.split(':');
            let retry_after = parse_seconds(fields.next()?)?;
            let categories = fields.next()?.trim();
            let scope = if categories.is_empty() {
                Scope::All
            } else {
                Scope::Only(
                    categories
                        .split(';')
                        .filter_map(|name| DataCategory::from_header_name(name.trim()))
                        .collect(),
                )
            };
            Some(Limit { retry_after, scope })
        })
        .collect()
}

/// Parses delta-seconds (`1*DIGIT [ "." *DIGIT ]`, surrounding whitespace allowed), rounding a fraction up and
/// cutting at [`MAX_RETRY_AFTER`]. Signs, exponents, `inf` and `NaN` are rejected, unlike `f64::from_str`.
pub(crate) fn parse_seconds(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (text, ""),
    };
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // Only digits are left, so the one way to fail is overflow: such a number is over the cap anyway.
    let whole: u64 = whole.parse().unwrap_or(u64::MAX);
    let round_up = u64::from(fraction.bytes().any(|b| b != b'0'));
    let seconds = whole.saturating_add(round_up);
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

/// Until when each category may not be sent, as the server last said.
///
/// Limits only grow: per category the longest limit wins, across one header and across responses, so a short limit
/// arriving after a long one does not lift it early.
#[derive(Clone, Debug, Default)]
pub(crate) struct RateLimiter {
    /// A limit on every category.
    all: Option<Instant>,
    /// Limits on single categories, indexed by `DataCategory as usize`.
    by_category: [Option<Instant>; DataCategory::ALL.len()],
}

impl RateLimiter {
    /// A limiter with no limits.
    pub(crate) fn new() -> Self {
        RateLimiter::default()
    }

    /// Takes in a response: its status and its `Retry-After` and `X-Sentry-Rate-Limits` header values, if present.
    ///
    /// `X-Sentry-Rate-Limits` counts on any status when it holds at least one well-formed limit, and then
    /// `Retry-After` is ignored. Otherwise a 429 limits every category for `Retry-After` delta-seconds, or for
    /// [`DEFAULT_RETRY_AFTER`] when that is missing, an HTTP date or garbage. A `Retry-After` on any other status
    /// (a 503, say) is left to the retry policy: it is about that one request, not a rate limit. Never panics.
    pub(crate) fn update(
        &mut self,
        status: u16,
        retry_after: Option<&str>,
        rate_limits: Option<&str>,
        now: Instant,
    ) {
        let limits = rate_limits.map(parse_rate_limits).unwrap_or_default();
        if !limits.is_empty() {
            for limit in limits {
                let until = deadline(now, limit.retry_after);
                match limit.scope {
                    Scope::All => extend(&mut self.all, until),
                    Scope::Only(categories) => {
                        for category in categories {
                            extend(&mut self.by_category[category as usize], until);
                        }
                    }
                }
            }
        } else if status == 429 {
            let delay = retry_after
                .and_then(parse_seconds)
                .unwrap_or(DEFAULT_RETRY_AFTER);
            extend(&mut self.all, deadline(now, delay));
        }
    }

    /// Until when `category` may not be sent: the later of its own limit and the limit on every category. The
    /// instant may be in the past (limits are not pruned); [`RateLimiter::is_limited`] compares it with `now`.
    /// Always `None` for [`DataCategory::ClientReport`].
    pub(crate) fn limited_until(&self, category: DataCategory) -> Option<Instant> {
        if category == DataCategory::ClientReport {
            return None;
        }
        self.all.max(self.by_category[category as usize])
    }

    /// Whether `category` may not be sent at `now`.
    #[cfg(test)]
    pub(crate) fn is_limited(&self, category: DataCategory, now: Instant) -> bool {
        self.limited_until(category)
            .is_some_and(|until| now < until)
    }

    /// Until when `envelope` must wait: the latest end of the limits on its items' categories that hold at `now`,
    /// or `None` when it may go. An envelope waits whole while any of its items is limited (a client report never
    /// is), so nothing in it is lost to a limit; when the limits end it goes as it is.
    pub(crate) fn blocked_until(&self, envelope: &Envelope, now: Instant) -> Option<Instant> {
        envelope
            .items
            .iter()
            .filter_map(|item| self.limited_until(DataCategory::from_item_type(item.ty())))
            .filter(|&until| now < until)
            .max()
    }
}

/// `now + delay`, or the cap from `now` if that overflows (it cannot with `delay <= MAX_RETRY_AFTER` on any real
/// clock, but `Instant` arithmetic panics on overflow, and this must not).
fn deadline(now: Instant, delay: Duration) -> Instant {
    now.checked_add(delay)
        .or_else(|| now.checked_add(MAX_RETRY_AFTER))
        .unwrap_or(now)
}

/// Moves a limit later, never earlier.
fn extend(slot: &mut Option<Instant>, until: Instant) {
    *slot = Some(slot.map_or(until, |current| current.max(until)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::envelope::EnvelopeItem;
    use crate::protocol::{ClientReport, Event};

    const fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn only(categories: &[DataCategory]) -> Scope {
        Scope::Only(categories.to_vec())
    }

    #[test]
    fn parser_table() {
        use DataCategory::*;
        let cases: Vec<(&str, Vec<(Duration, Scope)>)> = vec![
            ("", vec![]),
            ("abc", vec![]),
            (":::", vec![]),
            ("60", vec![]),
            ("60:error", vec![(secs(60), only(&[Error]))]),
            ("60::organization", vec![(secs(60), Scope::All)]),
            (
                "60:error;transaction:key:quota_exceeded",
                vec![(secs(60), only(&[Error, Transaction]))],
            ),
            (
                "120:error:project:reason, 60:session:foo",
                vec![(secs(120), only(&[Error])), (secs(60), only(&[Session]))],
            ),
            (
                "2700:metric_bucket:organization:quota_exceeded:custom",
                vec![(secs(2700), only(&[]))],
            ),
            (
                "60:error;foo;bar;attachment:organization",
                vec![(secs(60), only(&[Error, Attachment]))],
            ),
            ("60:client_report;unknown", vec![(secs(60), only(&[]))]),
            ("60:ERROR:org", vec![(secs(60), only(&[Error]))]),
            (
                "  30 : error ; session : org , \n 10::org ",
                vec![(secs(30), only(&[Error, Session])), (secs(10), Scope::All)],
            ),
            ("1.5:error", vec![(secs(2), only(&[Error]))]),
            ("7.0:error", vec![(secs(7), only(&[Error]))]),
            ("0:error", vec![(secs(0), only(&[Error]))]),
            (
                "99999999999999999999999999:error",
                vec![(MAX_RETRY_AFTER, only(&[Error]))],
            ),
            ("18446744073709551615:", vec![(MAX_RETRY_AFTER, Scope::All)]),
            ("90000::org", vec![(MAX_RETRY_AFTER, Scope::All)]),
            ("-60:error", vec![]),
            ("+60:error", vec![]),
            ("1e3:error", vec![]),
            ("inf:error", vec![]),
            ("NaN:error", vec![]),
            (".5:error", vec![]),
            ("6 0:error", vec![]),
            (
                "abc:error, 60:transaction:org",
                vec![(secs(60), only(&[Transaction]))],
            ),
            (",,,", vec![]),
            ("60:error,,:::,-1::", vec![(secs(60), only(&[Error]))]),
            ("é:ü;ß:∞", vec![]),
        ];
        for (header, want) in cases {
            let want: Vec<Limit> = want
                .into_iter()
                .map(|(retry_after, scope)| Limit { retry_after, scope })
                .collect();
            assert_eq!(parse_rate_limits(header), want, "header {header:?}");
        }
    }

    #[test]
    fn seconds_table() {
        let cases: &[(&str, Option<Duration>)] = &[
            ("0", Some(secs(0))),
            ("60", Some(secs(60))),
            (" 60 ", Some(secs(60))),
            ("60.", Some(secs(60))),
            ("60.01", Some(secs(61))),
            ("86400", Some(MAX_RETRY_AFTER)),
            ("86401", Some(MAX_RETRY_AFTER)),
            (
                "340282366920938463463374607431768211456",
                Some(MAX_RETRY_AFTER),
            ),
            ("", None),
            (" ", None),
            ("-1", None),
            ("1.2.3", None),
            ("Wed, 21 Oct 2015 07:28:00 GMT", None),
            ("0x10", None),
        ];
        for &(text, want) in cases {
            assert_eq!(parse_seconds(text), want, "{text:?}");
        }
    }

    #[test]
    fn header_limits_single_categories_on_any_status() {
        let now = Instant::now();
        let mut limiter = RateLimiter::new();
        limiter.update(200, None, Some("60:transaction:org"), now);
        assert!(limiter.is_limited(DataCategory::Transaction, now));
        assert!(limiter.is_limited(DataCategory::Transaction, now + secs(59)));
        assert!(!limiter.is_limited(DataCategory::Transaction, now + secs(60)));
        assert!(!limiter.is_limited(DataCategory::Error, now));
        assert_eq!(
            limiter.limited_until(DataCategory::Transaction),
            Some(now + secs(60))
        );
        assert_eq!(limiter.limited_until(DataCategory::Error), None);
    }

    #[test]
    fn header_wins_over_retry_after() {
        let now = Instant::now();
        let mut limiter = RateLimiter::new();
        limiter.update(429, Some("600"), Some("10:error:org"), now);
        assert_eq!(
            limiter.limited_until(DataCategory::Error),
            Some(now + secs(10))
        );
        assert!(
            !limiter.is_limited(DataCategory::Session, now),
            "only errors"
        );
    }

    #[test]
    fn header_with_only_unknown_categories_still_wins() {
        let now = Instant::now();
        let mut limiter = RateLimiter::new();
        limiter.update(429, Some("600"), Some("60:metric_bucket:org"), now);
        assert!(!limiter.is_limited(DataCategory::Error, now));
    }

    #[test]
    fn garbage_header_on_429_falls_back_to_retry_after() {
        let now = Instant::now();
        let mut limiter = RateLimiter::new();
        limiter.update(429, Some("30"), Some("garbage"), now);
        assert_eq!(
            limiter.limited_until(DataCategory::Error),
            Some(now + secs(30))
        );
    }

    #[test]
    fn status_429_without_header_table() {
        let cases: &[(Option<&str>, Duration)] = &[
            (Some("30"), secs(30)),
            (Some(" 5 "), secs(5)),
            (Some("0"), secs(0)),
            (None, DEFAULT_RETRY_AFTER),
            (Some(""), DEFAULT_RETRY_AFTER),
            (Some("soon"), DEFAULT_RETRY_AFTER),
            (Some("-5"), DEFAULT_RETRY_AFTER),
            (Some("Wed, 21 Oct 2015 07:28:00 GMT"), DEFAULT_RETRY_AFTER),
            (Some("999999999999999999999"), MAX_RETRY_AFTER),
        ];
        for &(retry_after, want) in cases {
            let now = Instant::now();
            let mut limiter = RateLimiter::new();
            limiter.update(429, retry_after, None, now);
            for category in DataCategory::ALL {
                let expected = (category != DataCategory::ClientReport).then_some(now + want);
                assert_eq!(
                    limiter.limited_until(category),
                    expected,
                    "{retry_after:?} {category:?}"
                );
            }
        }
    }

    #[test]
    fn retry_after_without_429_is_not_a_limit() {
        let now = Instant::now();
        let mut limiter = RateLimiter::new();
        for status in [200, 500, 503, 413] {
            limiter.update(status, Some("120"), None, now);
        }
        limiter.update(200, None, Some(""), now);
        for category in DataCategory::ALL {
            assert_eq!(limiter.limited_until(category), None, "{category:?}");
        }
    }

    #[test]
    fn longest_limit_wins() {
        let now = Instant::now();
        let mut limiter = RateLimiter::new();
        limiter.update(200, None, Some("60:error:org, 10:error:key"), now);
        assert_eq!(
            limiter.limited_until(DataCategory::Error),
            Some(now + secs(60))
        );
        // A shorter limit later does not lift the longer one early.
        limiter.update(200, None, Some("5:error:org"), now + secs(1));
        assert_eq!(
            limiter.limited_until(DataCategory::Error),
            Some(now + secs(60))
        );
        // An all-categories limit that ends later covers the category too; one that ends earlier does not cut it.
        limiter.update(429, None, None, now + secs(30));
        assert_eq!(
            limiter.limited_until(DataCategory::Error),
            Some(now + secs(90))
        );
        assert_eq!(
            limiter.limited_until(DataCategory::Session),
            Some(now + secs(90))
        );
    }

    #[test]
    fn client_reports_are_never_limited() {
        let now = Instant::now();
        let mut limiter = RateLimiter::new();
        limiter.update(429, Some("60"), None, now);
        limiter.update(200, None, Some("60::org, 60:client_report:org"), now);
        assert!(!limiter.is_limited(DataCategory::ClientReport, now));
        assert_eq!(limiter.limited_until(DataCategory::ClientReport), None);
        assert!(
            limiter.is_limited(DataCategory::Unknown, now),
            "all categories"
        );
    }

    #[test]
    fn item_types_map_to_categories() {
        let cases = [
            ("event", DataCategory::Error),
            ("transaction", DataCategory::Transaction),
            ("session", DataCategory::Session),
            ("sessions", DataCategory::Session),
            ("attachment", DataCategory::Attachment),
            ("client_report", DataCategory::ClientReport),
            ("check_in", DataCategory::Monitor),
            ("profile", DataCategory::Profile),
            ("replay_recording", DataCategory::Replay),
            ("span", DataCategory::Span),
            ("log", DataCategory::LogItem),
            ("something_new", DataCategory::Unknown),
            ("", DataCategory::Unknown),
        ];
        for (ty, want) in cases {
            assert_eq!(DataCategory::from_item_type(ty), want, "{ty}");
        }
    }

    #[test]
    fn names_round_trip_and_discriminants_index_the_table() {
        for (i, category) in DataCategory::ALL.into_iter().enumerate() {
            assert_eq!(category as usize, i);
            let parsed = DataCategory::from_header_name(category.as_str());
            match category {
                DataCategory::ClientReport | DataCategory::Unknown => assert_eq!(parsed, None),
                _ => assert_eq!(parsed, Some(category)),
            }
        }
    }

    fn envelope_with(items: Vec<EnvelopeItem>) -> Envelope {
        let mut envelope = Envelope::from_event(Event::default());
        envelope.items.extend(items);
        envelope
    }

    fn report() -> EnvelopeItem {
        EnvelopeItem::ClientReport(ClientReport::default())
    }

    fn attachment(len: usize) -> EnvelopeItem {
        EnvelopeItem::Raw {
            ty: "attachment".into(),
            payload: vec![b'x'; len],
        }
    }

    #[test]
    fn nothing_blocks_without_limits() {
        let now = Instant::now();
        let envelope = envelope_with(vec![attachment(3), report()]);
        assert_eq!(RateLimiter::new().blocked_until(&envelope, now), None);
    }

    #[test]
    fn any_limited_item_blocks_the_envelope_until_its_limit_ends() {
        let now = Instant::now();
        let mut limiter = RateLimiter::new();
        limiter.update(200, None, Some("60:attachment:org, 30:error:org"), now);
        let envelope = envelope_with(vec![attachment(10), report()]);
        assert_eq!(limiter.blocked_until(&envelope, now), Some(now + secs(60)));
        assert_eq!(
            limiter.blocked_until(&Envelope::from_event(Event::default()), now),
            Some(now + secs(30))
        );
        // Past a limit's end it no longer counts; past both, the envelope goes.
        assert_eq!(
            limiter.blocked_until(&envelope, now + secs(30)),
            Some(now + secs(60))
        );
        assert_eq!(limiter.blocked_until(&envelope, now + secs(60)), None);
    }

    #[test]
    fn an_event_kept_as_raw_bytes_is_blocked_as_an_event() {
        // Envelopes replayed from the spool carry every item as raw bytes.
        let now = Instant::now();
        let envelope = envelope_with(vec![report()]);
        let raw = Envelope::from_slice_raw(&envelope.to_vec(None)).unwrap();
        assert!(raw.event().is_none());
        let mut limiter = RateLimiter::new();
        limiter.update(200, None, Some("60:error:org"), now);
        assert_eq!(limiter.blocked_until(&raw, now), Some(now + secs(60)));
    }

    #[test]
    fn a_lone_client_report_is_never_blocked() {
        let now = Instant::now();
        let mut limiter = RateLimiter::new();
        limiter.update(429, None, None, now);
        let alone = Envelope {
            items: vec![report()],
            ..Envelope::default()
        };
        assert_eq!(limiter.blocked_until(&alone, now), None);
        assert_eq!(
            limiter.blocked_until(&envelope_with(vec![report()]), now),
            Some(now + DEFAULT_RETRY_AFTER)
        );
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        /// Header category names and what a limit on them covers: known names in several cases, and names the
        /// SDK ignores.
        const NAMES: [(&str, Option<DataCategory>); 9] = [
            ("error", Some(DataCategory::Error)),
            ("ERROR", Some(DataCategory::Error)),
            ("transaction", Some(DataCategory::Transaction)),
            ("Session", Some(DataCategory::Session)),
            ("attachment", Some(DataCategory::Attachment)),
            ("metric_bucket", None),
            ("client_report", None),
            ("unknown", None),
            ("bogus", None),
        ];

        /// The seconds of `whole[.fraction]` as the grammar comment describes them: a fraction with any non-zero
        /// digit rounds up, and the total is capped at a day. Computed in `u128`, where nothing overflows.
        fn model_seconds(whole: &str, fraction: &str) -> Duration {
            let whole: u128 = whole.parse().unwrap_or(u128::MAX);
            let up = u128::from(fraction.bytes().any(|b| b != b'0'));
            let cap = u128::from(MAX_RETRY_AFTER.as_secs());
            Duration::from_secs(whole.saturating_add(up).min(cap) as u64)
        }

        /// One entry of a well-formed header, with what the parser must make of it.
        fn entry() -> impl Strategy<Value = (String, Limit)> {
            (
                "[0-9]{1,25}",
                proptest::option::of("[0-9]{0,4}"),
                proptest::collection::vec(0..NAMES.len(), 0..4),
                proptest::collection::vec("[a-z_]{0,8}", 0..3),
                " {0,2}",
            )
                .prop_map(|(whole, fraction, names, extra, pad)| {
                    let seconds = match &fraction {
                        Some(fraction) => format!("{whole}.{fraction}"),
                        None => whole.clone(),
                    };
                    let categories: Vec<&str> = names.iter().map(|&i| NAMES[i].0).collect();
                    let mut fields = vec![seconds, categories.join(";")];
                    fields.extend(extra);
                    let text = fields
                        .iter()
                        .map(|field| format!("{pad}{field}{pad}"))
                        .collect::<Vec<_>>()
                        .join(":");
                    let scope = if names.is_empty() {
                        Scope::All
                    } else {
                        Scope::Only(names.iter().filter_map(|&i| NAMES[i].1).collect())
                    };
                    let retry_after = model_seconds(&whole, fraction.as_deref().unwrap_or(""));
                    (text, Limit { retry_after, scope })
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(128))]

            /// Any text at all: no panic, at most one limit per comma-separated entry, none longer than the cap.
            #[test]
            fn any_header_parses_without_panic(header in any::<String>()) {
                let limits = parse_rate_limits(&header);
                prop_assert!(limits.len() <= header.split(',').count());
                prop_assert!(limits.iter().all(|limit| limit.retry_after <= MAX_RETRY_AFTER));
            }

            /// A header of well-formed entries, some of them broken by a bad `retry_after`, parses to the
            /// well-formed ones, in order, as the model reads each.
            #[test]
            fn well_formed_entries_agree_with_the_model(
                entries in proptest::collection::vec((entry(), any::<bool>()), 0..6),
                broken in one_of_broken(),
            ) {
                let mut texts = Vec::new();
                let mut want = Vec::new();
                for ((text, limit), keep) in entries {
                    if keep {
                        texts.push(text);
                        want.push(limit);
                    } else {
                        // The same entry with its seconds made invalid is skipped; the others still count.
                        texts.push(format!("{broken}{text}"));
                    }
                }
                prop_assert_eq!(parse_rate_limits(&texts.join(",")), want);
            }

            /// Delta-seconds agree with the model; anything with another character inside is refused.
            #[test]
            fn seconds_agree_with_the_model(
                whole in "[0-9]{1,30}",
                fraction in proptest::option::of("[0-9]{0,5}"),
                pad in "[ \t]{0,2}",
            ) {
                let text = match &fraction {
                    Some(fraction) => format!("{pad}{whole}.{fraction}{pad}"),
                    None => format!("{pad}{whole}{pad}"),
                };
                let want = model_seconds(&whole, fraction.as_deref().unwrap_or(""));
                prop_assert_eq!(parse_seconds(&text), Some(want));
            }

            /// Any text: no panic; what is accepted is whole seconds within the cap, from digits and one dot.
            #[test]
            fn any_retry_after_parses_without_panic(text in any::<String>()) {
                if let Some(delay) = parse_seconds(&text) {
                    prop_assert!(delay <= MAX_RETRY_AFTER && delay.subsec_nanos() == 0);
                    let value = text.trim();
                    prop_assert!(value.bytes().all(|b| b.is_ascii_digit() || b == b'.'), "{:?}", text);
                }
            }

            /// A limiter fed any response limits nothing past the cap and never limits client reports.
            #[test]
            fn any_response_keeps_the_limiter_in_bounds(
                status in prop_oneof![Just(429u16), Just(200), any::<u16>()],
                retry_after in proptest::option::of(any::<String>()),
                rate_limits in proptest::option::of(any::<String>()),
            ) {
                let now = Instant::now();
                let mut limiter = RateLimiter::new();
                limiter.update(status, retry_after.as_deref(), rate_limits.as_deref(), now);
                prop_assert_eq!(limiter.limited_until(DataCategory::ClientReport), None);
                for category in DataCategory::ALL {
                    if let Some(until) = limiter.limited_until(category) {
                        prop_assert!(until <= now + MAX_RETRY_AFTER);
                    }
                }
            }
        }

        /// Prefixes that make an entry's `retry_after` invalid.
        fn one_of_broken() -> impl Strategy<Value = &'static str> {
            proptest::sample::select(&["-", "+", "x", "1e", "."][..])
        }
    }
}
