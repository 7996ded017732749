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
use crate::protocol::envelope::{Envelope, EnvelopeItem};

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
    /// instant may be in the past (limits are not pruned); a caller compares it with `now`.
    /// Always `None` for [`DataCategory::ClientReport`].
    #[cfg(any(test, feature = "fuzzing"))]
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

    /// Until when every category is limited (a 429 without `X-Sentry-Rate-Limits`, or a limit with no
    /// categories), if such a limit holds at `now`: the server takes nothing, so delivery pauses as during an outage.
    pub(crate) fn paused_until(&self, now: Instant) -> Option<Instant> {
        self.all.filter(|&until| now < until)
    }

    /// Removes the items whose category has a limit of its own at `now` (a limit on every category is
    /// [`RateLimiter::paused_until`]'s) and says what was removed, one `(category, quantity)` per category in the
    /// order first met; the caller records them as `ratelimit_backoff` in a client report. The quantity counts
    /// items, except for attachments, which client reports count in bytes (at least 1 per item); a parsed
    /// transaction's spans (its own included) count in `span` as well.
    ///
    /// Returns `None` when no item is left. A client report is never removed, so an envelope that only has one
    /// left still goes out. When the event (or transaction) item is removed, the envelope's `event_id` header goes
    /// with it.
    pub(crate) fn filter(
        &self,
        mut envelope: Envelope,
        now: Instant,
    ) -> (Option<Envelope>, Vec<(DataCategory, u64)>) {
        let mut removed: Vec<(DataCategory, u64)> = Vec::new();
        let mut count = |category: DataCategory, quantity: u64| match removed
            .iter_mut()
            .find(|(c, _)| *c == category)
        {
            Some((_, total)) => *total = total.saturating_add(quantity),
            None => removed.push((category, quantity)),
        };
        let is_limited = |category: DataCategory| {
            category != DataCategory::ClientReport
                && self.by_category[category as usize].is_some_and(|until| now < until)
        };
        // Attachments belong to their event: when it goes, they go with it (an envelope of attachments without
        // its event is refused).
        let event_limited = is_limited(DataCategory::Error)
            && envelope.items.iter().any(|item| item.ty() == "event");
        envelope.items.retain(|item| {
            let category = DataCategory::from_item_type(item.ty());
            let limited =
                is_limited(category) || (event_limited && category == DataCategory::Attachment);
            if !limited {
                return true;
            }
            match item {
                EnvelopeItem::Attachment(attachment) => {
                    count(
                        category,
                        u64::try_from(attachment.bytes.len())
                            .unwrap_or(u64::MAX)
                            .max(1),
                    );
                }
                EnvelopeItem::Raw { payload, .. } if category == DataCategory::Attachment => {
                    count(
                        category,
                        u64::try_from(payload.len()).unwrap_or(u64::MAX).max(1),
                    );
                }
                EnvelopeItem::Transaction(transaction) => {
                    count(category, 1);
                    count(DataCategory::Span, 1 + transaction.spans.len() as u64);
                }
                EnvelopeItem::Logs(logs) => {
                    count(DataCategory::LogItem, logs.items.len() as u64);
                    count(DataCategory::LogByte, logs.record_bytes());
                }
                EnvelopeItem::Metrics(metrics) => {
                    count(DataCategory::TraceMetric, metrics.items.len() as u64);
                }
                _ => count(category, 1),
            }
            false
        });
        if envelope.items.is_empty() {
            return (None, removed);
        }
        if !envelope
            .items
            .iter()
            .any(|item| matches!(item.ty(), "event" | "transaction" | "feedback"))
        {
            envelope.event_id = None;
        }
        (Some(envelope), removed)
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
    fn filter_keeps_everything_without_limits() {
        let now = Instant::now();
        let envelope = envelope_with(vec![attachment(3), report()]);
        let (kept, removed) = RateLimiter::new().filter(envelope.clone(), now);
        assert_eq!(kept, Some(envelope));
        assert!(removed.is_empty());
    }

    #[test]
    fn filter_removes_limited_items_and_counts_them() {
        let now = Instant::now();
        let mut limiter = RateLimiter::new();
        limiter.update(200, None, Some("60:attachment:org"), now);
        let envelope = envelope_with(vec![attachment(10), attachment(0), report()]);
        let event_id = envelope.event_id;
        let (kept, removed) = limiter.filter(envelope, now);
        let kept = kept.expect("the event and the report remain");
        let types: Vec<&str> = kept.items.iter().map(EnvelopeItem::ty).collect();
        assert_eq!(types, ["event", "client_report"]);
        assert_eq!(kept.event_id, event_id);
        assert_eq!(removed, vec![(DataCategory::Attachment, 11)]);
        assert_eq!(
            limiter.paused_until(now),
            None,
            "a category's limit is no pause"
        );
    }

    #[test]
    fn filter_treats_an_event_kept_as_raw_bytes_as_an_event() {
        // Envelopes replayed from the spool carry every item as raw bytes.
        let now = Instant::now();
        let envelope = envelope_with(vec![attachment(4), report()]);
        let raw = Envelope::from_slice_raw(&envelope.to_vec(None)).unwrap();
        assert!(raw.event().is_none());
        let mut limiter = RateLimiter::new();
        limiter.update(200, None, Some("60:error;attachment:org"), now);
        let (kept, removed) = limiter.filter(raw, now);
        let kept = kept.expect("the report remains");
        assert_eq!(kept.event_id, None);
        assert_eq!(
            removed,
            vec![(DataCategory::Error, 1), (DataCategory::Attachment, 4)]
        );
    }

    #[test]
    fn filter_returns_none_when_nothing_is_left_and_the_limit_ends() {
        let now = Instant::now();
        let mut limiter = RateLimiter::new();
        limiter.update(200, None, Some("60:error:org"), now);
        let (kept, removed) = limiter.filter(Envelope::from_event(Event::default()), now);
        assert_eq!(kept, None);
        assert_eq!(removed, vec![(DataCategory::Error, 1)]);
        let (kept, removed) =
            limiter.filter(Envelope::from_event(Event::default()), now + secs(60));
        assert!(kept.is_some());
        assert!(removed.is_empty());
    }

    #[test]
    fn a_limit_on_every_category_is_a_pause_not_a_filter() {
        let now = Instant::now();
        let mut limiter = RateLimiter::new();
        limiter.update(429, Some("30"), None, now);
        assert_eq!(limiter.paused_until(now), Some(now + secs(30)));
        assert_eq!(limiter.paused_until(now + secs(30)), None);
        let (kept, removed) = limiter.filter(envelope_with(vec![report()]), now);
        assert!(kept.is_some() && removed.is_empty());
        let mut header = RateLimiter::new();
        header.update(200, None, Some("10::org"), now);
        assert_eq!(header.paused_until(now), Some(now + secs(10)));
    }
}
