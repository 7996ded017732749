//! The W3C `baggage` header: key-value pairs that travel with a request, among them Sentry's dynamic sampling
//! context as the `sentry-` entries.
//!
//! Specified in W3C Baggage (<https://www.w3.org/TR/baggage/>), section "Header Content":
//!
//! ```text
//! baggage-string = list-member 0*179( OWS "," OWS list-member )
//! list-member    = key OWS "=" OWS value *( OWS ";" OWS property )
//! property       = key OWS "=" OWS value
//! property       =/ key OWS
//! key            = token                 ; RFC 7230 section 3.2.6
//! value          = *baggage-octet        ; percent-encoded UTF-8
//! baggage-octet  = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
//! OWS            = *( SP / HTAB )
//! ```
//!
//! Section "Limits" (`#limits`): a platform must pass on all list-members while there are at most 64 of them
//! and they come to at most 8192 bytes; past that it may drop list-members, but never pass on part of one. Several
//! `baggage` headers count as one, joined by commas.
//!
//! The `sentry-` entries are specified in Sentry's developer documentation, "Dynamic Sampling Context", section
//! "Baggage Header".

use std::fmt;

use super::dynamic_sampling_context::DynamicSamplingContext;
use super::percent;

/// The prefix of the entries that make up the dynamic sampling context.
const SENTRY_PREFIX: &str = "sentry-";

/// The value of the `baggage` headers of a request, split into Sentry's dynamic sampling context and the list-members
/// of everyone else.
///
/// [`Baggage::parse`] and [`Baggage::parse_all`] read headers; [`Display`](fmt::Display) writes the header to send:
/// the `sentry-` entries first, percent-encoded, then the other members as they came, the whole bounded by
/// [`Baggage::MAX_MEMBERS`] and [`Baggage::MAX_BYTES`]. Members that do not fit are left out whole, never cut, and
/// as the Sentry entries come first, they are the last to go.
///
/// # The frozen DSC
///
/// When an incoming `baggage` has `sentry-` entries, the request comes from a trace that a Sentry SDK started, and
/// its dynamic sampling context is *frozen*: take [`sentry`](Baggage::sentry) as it is, send it on unchanged with
/// every outgoing request and in the envelope's `trace` header, and do not fill in values of this SDK's own. An SDK
/// builds a DSC of its own only as the head of a trace, when the request carries no trace at all: a `sentry-trace`
/// header without `sentry-` entries in `baggage` comes from an SDK older than the DSC, and Sentry's "Unified
/// Propagation Mechanism" gives that trace no DSC.
///
/// # Other vendors' members
///
/// W3C Baggage asks that a received `baggage` be passed on. Sentry's DSC specification asks Sentry SDKs not to copy
/// other vendors' members from an incoming request to outgoing ones, and only to append their `sentry-` entries to
/// a `baggage` an outgoing request already has. [`foreign`](Baggage::foreign) serves that: read the outgoing
/// request's own `baggage`, set the DSC, and write it back; its members go out exactly as they were.
///
/// ```
/// use faultline::protocol::propagation::Baggage;
///
/// // An incoming request, from a service that a Sentry SDK traced.
/// let incoming = Baggage::parse(
///     "vendor=1, sentry-trace_id=771a43a4192642f0b136d5159a501700, sentry-release=myapp%401.0",
/// );
/// let dsc = incoming.sentry.expect("frozen: passed on as it is");
/// assert_eq!(dsc.release.as_deref(), Some("myapp@1.0"));
///
/// // An outgoing request that already carries a `baggage` of the application's own.
/// let mut outgoing = Baggage::parse("userId=alice;private");
/// outgoing.sentry = Some(dsc);
/// assert_eq!(
///     outgoing.to_string(),
///     "sentry-trace_id=771a43a4192642f0b136d5159a501700,sentry-release=myapp%401.0,userId=alice;private",
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Baggage {
    /// The dynamic sampling context that the `sentry-` entries make up; `None` when there was no valid one.
    ///
    /// When a name comes more than once, the last valid value wins. Properties of `sentry-` entries are ignored.
    pub sentry: Option<DynamicSamplingContext>,
    /// The other list-members, verbatim and in order, duplicates included. Members whose key starts with `sentry-`
    /// are not written from here: those are the DSC's.
    pub foreign: Vec<BaggageMember>,
}

impl Baggage {
    /// The most list-members written (W3C Baggage, "Limits", condition 1).
    pub const MAX_MEMBERS: usize = 64;

    /// The most bytes read and written, commas and whitespace included (W3C Baggage, "Limits", condition 2).
    pub const MAX_BYTES: usize = 8192;

    /// Reads a `baggage` header value. Never fails: malformed members are skipped.
    ///
    /// A member is skipped when it is not `key=value` by the grammar: no `=`, an empty key or one that is not a
    /// token, a value or property with a character outside `baggage-octet` (whitespace, a control character, a
    /// quote, non-ASCII text), or a `%` that does not start a `%XX` escape. Empty properties (`a=b;;`) are let
    /// through: Sentry's own documentation shows one.
    ///
    /// Only the first [`Baggage::MAX_BYTES`] bytes are read; a member that runs past them is not read, nor anything
    /// after it. The Sentry entries among those bytes are all read wherever they are, so that members ahead of
    /// them cannot push the DSC out; [`Baggage::MAX_MEMBERS`] applies to what is written.
    ///
    /// The values of `sentry-` entries are percent-decoded, escapes that are not UTF-8 becoming U+FFFD; an entry
    /// whose value is not valid for its field (see [`DynamicSamplingContext::set`]) is skipped.
    pub fn parse(header: &str) -> Baggage {
        Baggage::parse_all([header])
    }

    /// Reads the values of all the `baggage` headers of a request, in order, as one list: joined by commas, as RFC
    /// 9110 section 5.3 combines them and W3C Baggage counts its limits. As [`Baggage::parse`] otherwise.
    pub fn parse_all<'a, I: IntoIterator<Item = &'a str>>(headers: I) -> Baggage {
        let mut baggage = Baggage::default();
        let mut dsc = DynamicSamplingContext::default();
        let mut any_sentry = false;
        // Bytes of the joined headers taken so far, the commas that would join them included.
        let mut used = 0;
        'headers: for (i, header) in headers.into_iter().enumerate() {
            if i > 0 {
                used += 1;
            }
            let budget = Self::MAX_BYTES.saturating_sub(used);
            // One byte past the budget is enough to see whether the last member ends in time; the rest of a huge
            // header is never looked at.
            let bytes = header.as_bytes();
            let window = &bytes[..bytes.len().min(budget + 1)];
            let mut start = 0;
            for piece in window.split(|&c| c == b',') {
                let end = start + piece.len();
                if end > budget {
                    break 'headers;
                }
                start = end + 1;
                // Whole members, cut at ASCII commas of a `str`, are UTF-8.
                let Ok(text) = std::str::from_utf8(piece) else {
                    continue;
                };
                let Some(member) = BaggageMember::parse(text) else {
                    continue;
                };
                match member.key().strip_prefix(SENTRY_PREFIX) {
                    Some(name) => {
                        if let Some(value) = percent::decode(member.raw_value()) {
                            any_sentry |= dsc.set(name, &value);
                        }
                    }
                    None => baggage.foreign.push(member),
                }
            }
            used += bytes.len();
        }
        if any_sentry {
            baggage.sentry = Some(dsc);
        }
        baggage
    }

    /// Whether there is nothing to write: no DSC field set and no other member.
    pub fn is_empty(&self) -> bool {
        self.members().next().is_none()
    }

    /// Every member to write, in order, before the limits: the DSC's entries, then the foreign members.
    fn members(&self) -> impl Iterator<Item = std::borrow::Cow<'_, str>> {
        let sentry = self.sentry.iter().flat_map(|dsc| dsc.entries());
        let sentry = sentry.filter_map(|(name, value)| {
            let mut member =
                String::with_capacity(SENTRY_PREFIX.len() + name.len() + 1 + value.len());
            member.push_str(SENTRY_PREFIX);
            member.push_str(name);
            // A name in `other` that is not a token cannot be written.
            if !is_token(&member) {
                return None;
            }
            member.push('=');
            percent::encode(&value, &mut member);
            Some(std::borrow::Cow::Owned(member))
        });
        let foreign = self
            .foreign
            .iter()
            .filter(|member| !member.key().starts_with(SENTRY_PREFIX))
            .map(|member| std::borrow::Cow::Borrowed(member.as_str()));
        sentry.chain(foreign)
    }
}

impl fmt::Display for Baggage {
    /// Writes the header value to send: every member that fits within [`Baggage::MAX_MEMBERS`] and
    /// [`Baggage::MAX_BYTES`], in order, joined by commas. Empty when there is nothing to send.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (mut members, mut bytes) = (0, 0);
        for member in self.members() {
            if members == Self::MAX_MEMBERS {
                break;
            }
            let separator = usize::from(members > 0);
            // A member that does not fit is left out whole; a shorter one after it may still fit.
            if bytes + separator + member.len() > Self::MAX_BYTES {
                continue;
            }
            if separator == 1 {
                f.write_str(",")?;
            }
            f.write_str(&member)?;
            members += 1;
            bytes += separator + member.len();
        }
        Ok(())
    }
}

/// One list-member of a `baggage` header, kept as the text it came as: key, value and properties, still
/// percent-encoded, without the whitespace around it.
///
/// ```
/// use faultline::protocol::propagation::BaggageMember;
///
/// let member = BaggageMember::parse(" serverNode = DF%2028 ;region=eu ").unwrap();
/// assert_eq!(member.key(), "serverNode");
/// assert_eq!(member.value(), "DF 28");
/// assert_eq!(member.as_str(), "serverNode = DF%2028 ;region=eu");
/// assert_eq!(BaggageMember::new("user", "Amélie").unwrap().as_str(), "user=Am%C3%A9lie");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BaggageMember {
    /// The member's text.
    text: String,
    /// Where the key ends in `text`.
    key_len: usize,
    /// Where the value, still encoded, is in `text`.
    value: std::ops::Range<usize>,
}

impl BaggageMember {
    /// Reads one list-member; `None` unless it is one by the grammar (see [`Baggage::parse`] for what is refused).
    /// Whitespace around it is dropped.
    pub fn parse(member: &str) -> Option<BaggageMember> {
        let text = trim_ows(member);
        let (key, rest) = text.split_once('=')?;
        let key = trim_ows(key);
        if !is_token(key) {
            return None;
        }
        let (value, properties) = match rest.split_once(';') {
            Some((value, properties)) => (value, Some(properties)),
            None => (rest, None),
        };
        // Where the value starts in `text`: after the key, the `=` and any whitespace.
        let value_start =
            text.len() - rest.len() + (value.len() - value.trim_start_matches([' ', '\t']).len());
        let value = trim_ows(value);
        if !is_value(value) || !properties.is_none_or(|p| p.split(';').all(is_property)) {
            return None;
        }
        Some(BaggageMember {
            text: text.to_owned(),
            key_len: key.len(),
            value: value_start..value_start + value.len(),
        })
    }

    /// The member `key=value`, its value percent-encoded; `None` when `key` is not a token.
    pub fn new(key: &str, value: &str) -> Option<BaggageMember> {
        if !is_token(key) {
            return None;
        }
        let mut text = String::with_capacity(key.len() + 1 + value.len());
        text.push_str(key);
        text.push('=');
        percent::encode(value, &mut text);
        Some(BaggageMember {
            key_len: key.len(),
            value: key.len() + 1..text.len(),
            text,
        })
    }

    /// The key.
    pub fn key(&self) -> &str {
        &self.text[..self.key_len]
    }

    /// The value, percent-decoded.
    pub fn value(&self) -> String {
        // The escapes were checked when the member was made, so decoding cannot fail.
        percent::decode(self.raw_value()).unwrap_or_default()
    }

    /// The value as it is in the text, percent-encoded.
    fn raw_value(&self) -> &str {
        &self.text[self.value.clone()]
    }

    /// The member's text, as it is written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for BaggageMember {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `text` without the optional whitespace (spaces and tabs) around it.
fn trim_ows(text: &str) -> &str {
    text.trim_matches([' ', '\t'])
}

/// Whether `text` is an RFC 7230 token: one or more of the visible ASCII characters but delimiters.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c))
}

/// Whether `text` is a value: `baggage-octet`s only, and every `%` starting an escape.
fn is_value(text: &str) -> bool {
    text.bytes()
        .all(|c| matches!(c, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e))
        && percent::is_well_formed(text)
}

/// Whether `text` is a property, `key` or `key=value`, whitespace around its parts allowed; or empty.
fn is_property(text: &str) -> bool {
    let text = trim_ows(text);
    match text.split_once('=') {
        _ if text.is_empty() => true,
        Some((key, value)) => is_token(trim_ows(key)) && is_value(trim_ows(value)),
        None => is_token(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "771a43a4192642f0b136d5159a501700";

    /// What `parse` made of a header: the DSC's entries, if it has one, and the foreign members' text.
    type Parsed = (Option<Vec<(String, String)>>, Vec<String>);

    fn parsed(baggage: &Baggage) -> Parsed {
        let sentry = baggage.sentry.as_ref().map(|dsc| {
            dsc.entries()
                .map(|(name, value)| (name.to_owned(), value.into_owned()))
                .collect()
        });
        let foreign = baggage
            .foreign
            .iter()
            .map(|m| m.as_str().to_owned())
            .collect();
        (sentry, foreign)
    }

    fn want(sentry: Option<&[(&str, &str)]>, foreign: &[&str]) -> Parsed {
        let sentry = sentry.map(|entries| {
            entries
                .iter()
                .map(|&(name, value)| (name.to_owned(), value.to_owned()))
                .collect()
        });
        (sentry, foreign.iter().map(|&m| m.to_owned()).collect())
    }

    #[test]
    fn parse_table() {
        let sentry_example = format!(
            "other-vendor-value-1=foo;bar;baz, sentry-trace_id={TRACE}, \
             sentry-public_key=49d0f7386ad645858ae85020e393bef3, sentry-sample_rate=0.01337, \
             sentry-user_id=Am%C3%A9lie, other-vendor-value-2=foo;bar;"
        );
        let cases: Vec<(&str, Parsed)> = vec![
            // Well-formed: the examples of W3C Baggage and of Sentry's DSC specification.
            (
                "key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue",
                want(
                    None,
                    &[
                        "key1=value1;property1;property2",
                        "key2 = value2",
                        "key3=value3; propertyKey=propertyValue",
                    ],
                ),
            ),
            (
                "userId=Am%C3%A9lie,serverNode=DF%2028,isProduction=false",
                want(
                    None,
                    &[
                        "userId=Am%C3%A9lie",
                        "serverNode=DF%2028",
                        "isProduction=false",
                    ],
                ),
            ),
            (
                &sentry_example,
                want(
                    Some(&[
                        ("trace_id", TRACE),
                        ("public_key", "49d0f7386ad645858ae85020e393bef3"),
                        ("sample_rate", "0.01337"),
                        ("user_id", "Amélie"),
                    ]),
                    &[
                        "other-vendor-value-1=foo;bar;baz",
                        "other-vendor-value-2=foo;bar;",
                    ],
                ),
            ),
            (
                "sentry-sampled=true,sentry-sample_rand=0.5,sentry-environment=prod,sentry-org_id=1",
                want(
                    Some(&[
                        ("sample_rand", "0.5"),
                        ("sampled", "true"),
                        ("environment", "prod"),
                        ("org_id", "1"),
                    ]),
                    &[],
                ),
            ),
            // Values: `=` in them, `+` as itself, escapes that are not UTF-8, empty.
            (
                "sentry-transaction=a=b,c==d",
                want(Some(&[("transaction", "a=b")]), &["c==d"]),
            ),
            ("sentry-release=1+2", want(Some(&[("release", "1+2")]), &[])),
            (
                "sentry-release=%FF",
                want(Some(&[("release", "\u{FFFD}")]), &[]),
            ),
            (
                "sentry-release=,a=",
                want(Some(&[("release", "")]), &["a="]),
            ),
            // Whitespace and empty members.
            ("", want(None, &[])),
            (" , ,\t,", want(None, &[])),
            (",,a=1, ,", want(None, &["a=1"])),
            ("\ta\t=\tb\t", want(None, &["a\t=\tb"])),
            ("a=b;;", want(None, &["a=b;;"])),
            // Duplicates: foreign ones kept in order; for the DSC the last valid value wins.
            ("a=1,a=2", want(None, &["a=1", "a=2"])),
            (
                "sentry-release=1,sentry-release=2",
                want(Some(&[("release", "2")]), &[]),
            ),
            (
                "sentry-sample_rate=0.5,sentry-sample_rate=2",
                want(Some(&[("sample_rate", "0.5")]), &[]),
            ),
            // The prefix is case-sensitive: these are someone else's.
            (
                "Sentry-release=1,SENTRY-release=2",
                want(None, &["Sentry-release=1", "SENTRY-release=2"]),
            ),
            // Malformed members are skipped, the others kept.
            ("novalue", want(None, &[])),
            ("novalue,a=b", want(None, &["a=b"])),
            ("=v", want(None, &[])),
            (" = v,a=b", want(None, &["a=b"])),
            ("a b=c", want(None, &[])),
            ("a=b c", want(None, &[])),
            ("a(b)=c", want(None, &[])),
            ("a=%zz,b=%2,c=%", want(None, &[])),
            ("sentry-release=%E", want(None, &[])),
            ("a=b\u{1},c\u{7f}=d", want(None, &[])),
            ("a=é,é=a,a=b;é", want(None, &[])),
            ("a=\"b\",a=b\\c", want(None, &[])),
            ("a=b\r\nX-Injected: 1", want(None, &[])),
            ("a=b;c d,a=b;=c,a=b;c=d e", want(None, &[])),
            // Valid members whose value is not valid for the DSC field are skipped too.
            ("sentry-trace_id=xyz", want(None, &[])),
            ("sentry-sample_rate=1.5,sentry-sampled=yes", want(None, &[])),
            (
                "sentry-sample_rand=1,sentry-release=r",
                want(Some(&[("release", "r")]), &[]),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parsed(&Baggage::parse(text)), want, "{text:?}");
        }
    }

    #[test]
    fn several_headers_are_one_list() {
        let baggage =
            Baggage::parse_all(["userId=alice", "", "serverNode=DF%2028,sentry-release=1"]);
        assert_eq!(
            parsed(&baggage),
            want(
                Some(&[("release", "1")]),
                &["userId=alice", "serverNode=DF%2028"]
            )
        );
        assert_eq!(Baggage::parse_all([]), Baggage::default());
    }

    #[test]
    fn reads_the_first_8192_bytes_in_whole_members() {
        // A member of exactly the limit is read; one byte more and it is not, nor what comes after it.
        let exact = format!("a={}", "v".repeat(Baggage::MAX_BYTES - 2));
        assert_eq!(parsed(&Baggage::parse(&exact)), want(None, &[&exact]));
        let over = format!("{exact}v,sentry-release=1");
        assert_eq!(parsed(&Baggage::parse(&over)), want(None, &[]));

        // The limit counts the commas that join several headers.
        let first = format!("a={}", "v".repeat(Baggage::MAX_BYTES - 6));
        let baggage = Baggage::parse_all([first.as_str(), "b=1", "c=2"]);
        assert_eq!(parsed(&baggage), want(None, &[&first, "b=1"]));

        // A huge header costs no more than its first 8 KiB.
        let huge = "a=1,".repeat(1_000_000);
        let baggage = Baggage::parse(&huge);
        assert_eq!(baggage.foreign.len(), 2048);
        assert_eq!(baggage.to_string(), vec!["a=1"; 64].join(","));
    }

    #[test]
    fn sentry_entries_are_read_behind_many_members_and_written_first() {
        let mut header: Vec<String> = (0..100).map(|i| format!("k{i}=v")).collect();
        header.push("sentry-release=myapp%401.0".into());
        let baggage = Baggage::parse(&header.join(","));
        assert_eq!(
            baggage.sentry.as_ref().unwrap().release.as_deref(),
            Some("myapp@1.0")
        );
        let written = baggage.to_string();
        let members: Vec<&str> = written.split(',').collect();
        assert_eq!(members.len(), Baggage::MAX_MEMBERS);
        assert_eq!(members[0], "sentry-release=myapp%401.0");
        assert_eq!(members[1..], header[..63]);
    }

    #[test]
    fn writing_drops_whole_members_that_do_not_fit() {
        let big = |c: char| BaggageMember::new("big", &c.to_string().repeat(3000)).unwrap();
        let baggage = Baggage {
            sentry: Some(DynamicSamplingContext {
                release: Some("r".repeat(9000)),
                environment: Some("prod".into()),
                ..Default::default()
            }),
            foreign: vec![
                big('a'),
                big('b'),
                big('c'),
                BaggageMember::new("small", "1").unwrap(),
            ],
        };
        // The release is too big on its own; two of the three big members fit, and the small one after them.
        let written = baggage.to_string();
        assert!(written.len() <= Baggage::MAX_BYTES);
        let want = format!(
            "sentry-environment=prod,{},{},small=1",
            big('a').as_str(),
            big('b').as_str()
        );
        assert_eq!(written, want);
    }

    #[test]
    fn writing_encodes_the_dsc_and_skips_foreign_sentry_members() {
        let baggage = Baggage {
            sentry: Some(DynamicSamplingContext {
                trace_id: Some(TRACE.parse().unwrap()),
                sample_rate: Some(0.25),
                sampled: Some(false),
                transaction: Some("GET /users/:id".into()),
                other: [
                    ("replay_id".to_owned(), "r1".to_owned()),
                    ("not a token".to_owned(), "x".to_owned()),
                ]
                .into(),
                ..Default::default()
            }),
            foreign: vec![
                BaggageMember::parse("sentry-release=stale").unwrap(),
                BaggageMember::parse("vendor = 1 ; p").unwrap(),
            ],
        };
        assert_eq!(
            baggage.to_string(),
            format!(
                "sentry-trace_id={TRACE},sentry-sample_rate=0.25,sentry-sampled=false,\
                 sentry-transaction=GET%20%2Fusers%2F%3Aid,sentry-replay_id=r1,vendor = 1 ; p"
            )
        );
        assert!(Baggage::default().is_empty());
        assert_eq!(Baggage::default().to_string(), "");
        let empty_dsc = Baggage {
            sentry: Some(DynamicSamplingContext::default()),
            foreign: vec![BaggageMember::parse("sentry-x=1").unwrap()],
        };
        assert!(empty_dsc.is_empty());
    }

    #[test]
    fn members_are_kept_as_they_came() {
        // Each member's key, decoded value and text; `None` for what is not a member.
        let cases: &[(&str, Option<[&str; 3]>)] = &[
            ("a=b", Some(["a", "b", "a=b"])),
            ("  a = b%2C c ; p = q  ", None),
            (
                "  a = b%2Cc ; p = q  ",
                Some(["a", "b,c", "a = b%2Cc ; p = q"]),
            ),
            ("k=", Some(["k", "", "k="])),
            ("k=v=w;x", Some(["k", "v=w", "k=v=w;x"])),
            ("k", None),
            ("", None),
            ("k=v,w", None),
        ];
        for &(text, want) in cases {
            let got = BaggageMember::parse(text)
                .map(|m| [m.key().to_owned(), m.value(), m.as_str().to_owned()]);
            assert_eq!(got, want.map(|parts| parts.map(str::to_owned)), "{text:?}");
        }
        assert_eq!(BaggageMember::new("bad key", "v"), None);
        assert_eq!(BaggageMember::new("", "v"), None);
        let member = BaggageMember::new("k", "a b,c;d=é%").unwrap();
        assert_eq!(member.as_str(), "k=a%20b%2Cc%3Bd%3D%C3%A9%25");
        assert_eq!(BaggageMember::parse(member.as_str()), Some(member.clone()));
        assert_eq!(member.value(), "a b,c;d=é%");
    }

    mod properties {
        use proptest::collection::vec;
        use proptest::option;
        use proptest::prelude::*;

        use super::super::super::dynamic_sampling_context::tests::properties::any_dsc;
        use super::*;

        /// A well-formed foreign member: a key that is not Sentry's, a value, maybe properties.
        fn any_member() -> impl Strategy<Value = BaggageMember> {
            let octets = "([!#$&'()*+./0-9:<=>?@A-Z\\[\\]^_`a-z{|}~-]|%[0-9A-Fa-f]{2}){0,12}";
            (
                "[a-zA-Z0-9!#$&'*+.^_`|~-]{1,10}",
                "[ \t]{0,1}",
                octets,
                vec(("[a-z]{1,4}", option::of(octets)), 0..3),
            )
                .prop_filter_map(
                    "keys starting with sentry- are the DSC's",
                    |(key, ows, value, props)| {
                        let mut text = format!("{key}{ows}={ows}{value}");
                        for (name, value) in props {
                            text.push(';');
                            text.push_str(&name);
                            if let Some(value) = value {
                                text.push('=');
                                text.push_str(&value);
                            }
                        }
                        (!key.starts_with(SENTRY_PREFIX)).then(|| BaggageMember::parse(&text))?
                    },
                )
        }

        fn any_baggage() -> impl Strategy<Value = Baggage> {
            (option::of(any_dsc()), vec(any_member(), 0..80)).prop_map(|(sentry, foreign)| {
                Baggage {
                    sentry: sentry.filter(|dsc| !dsc.is_empty()),
                    foreign,
                }
            })
        }

        /// Checks what is written: within the limits, and read back, written the same.
        fn check_written(written: &str) -> Result<(), TestCaseError> {
            prop_assert!(written.len() <= Baggage::MAX_BYTES);
            prop_assert!(written.is_empty() || written.split(',').count() <= Baggage::MAX_MEMBERS);
            prop_assert_eq!(Baggage::parse(written).to_string(), written);
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Any text at all: no panic, and what is written of it is within the limits.
            #[test]
            fn any_text_parses_without_panic(text in any::<String>()) {
                check_written(&Baggage::parse(&text).to_string())?;
            }

            /// Lists of members, some damaged, split over several headers: no panic, and within the limits.
            #[test]
            fn near_misses_parse_without_panic(
                members in vec("[a-z=;%, \t\"\u{e9}\u{1}-]{0,12}", 0..20),
                split in 0usize..20,
            ) {
                let (head, tail) = members.split_at(split.min(members.len()));
                let headers = [head.join(","), tail.join(",")];
                let baggage = Baggage::parse_all(headers.iter().map(String::as_str));
                check_written(&baggage.to_string())?;
            }

            /// What is written parses back to the same value when everything fits; else it is within the limits.
            #[test]
            fn written_values_parse_back(baggage in any_baggage()) {
                let written = baggage.to_string();
                check_written(&written)?;
                let members: Vec<_> = baggage.members().collect();
                let size = members.iter().map(|m| m.len() + 1).sum::<usize>().saturating_sub(1);
                if members.len() <= Baggage::MAX_MEMBERS && size <= Baggage::MAX_BYTES {
                    prop_assert_eq!(Baggage::parse(&written), baggage);
                }
            }
        }
    }
}
