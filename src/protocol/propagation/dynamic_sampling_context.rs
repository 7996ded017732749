//! The dynamic sampling context (DSC): what the head of a trace decided about it, which every later service passes on
//! unchanged, in `baggage` as `sentry-` entries and to Sentry as the envelope's `trace` header.
//!
//! Specified in Sentry's developer documentation, "Dynamic Sampling Context" (spec version 1.3.0), sections "DSC
//! Specification", "Baggage Header", "Envelope Header" and "Freezing DSC".

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::super::trace::TraceId;

/// The dynamic sampling context of a trace: the values Sentry's server samples whole traces by.
///
/// Each field is one `sentry-{name}` entry of a `baggage` header (see [`Baggage`](super::Baggage)), and one field of
/// the `trace` envelope header, where it serialises under the same name, every value as a string as Sentry's
/// specification types them (`"sample_rate": "0.25"`, `"sampled": "true"`).
///
/// # Frozen
///
/// The head of a trace (the first service, which made the sampling decision) fills this in; from the moment it first
/// leaves that SDK, in a request's `baggage` or an envelope, it is *frozen*: nobody changes, adds or removes a value.
/// A service that receives a `baggage` with `sentry-` entries takes the DSC as it is and passes it on the same,
/// even where its own release or environment differ, and whatever its scope says later.
///
/// Entries this code does not know (`replay_id`, the deprecated `user_segment`, names yet to come) are kept in
/// [`other`](DynamicSamplingContext::other) and passed on too.
///
/// ```
/// use faultline::protocol::propagation::DynamicSamplingContext;
///
/// let mut dsc = DynamicSamplingContext::default();
/// dsc.public_key = Some("49d0f7386ad645858ae85020e393bef3".into());
/// dsc.sample_rate = Some(0.25);
/// dsc.sampled = Some(true);
/// assert_eq!(
///     serde_json::to_string(&dsc).unwrap(),
///     r#"{"public_key":"49d0f7386ad645858ae85020e393bef3","sample_rate":"0.25","sampled":"true"}"#
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DynamicSamplingContext {
    /// The trace (`trace_id`).
    pub trace_id: Option<TraceId>,
    /// The public key of the head SDK's DSN (`public_key`).
    pub public_key: Option<String>,
    /// The sample rate the head SDK sampled the trace at, from 0 to 1 (`sample_rate`).
    pub sample_rate: Option<f64>,
    /// The random number, from 0 up to but not including 1, that the head SDK compared with the sample rate
    /// (`sample_rand`). Sampled exactly when `sample_rand < sample_rate`.
    pub sample_rand: Option<f64>,
    /// The head SDK's sampling decision (`sampled`); `None` while it is deferred.
    pub sampled: Option<bool>,
    /// The head SDK's release (`release`).
    pub release: Option<String>,
    /// The head SDK's environment (`environment`).
    pub environment: Option<String>,
    /// The name of the trace's first transaction (`transaction`), included only when it is of low cardinality (a
    /// route, not a URL with ids in it).
    pub transaction: Option<String>,
    /// The Sentry organisation the head SDK's DSN belongs to (`org_id`).
    pub org_id: Option<String>,
    /// Entries of other names, by name without the `sentry-` prefix, passed on as they came.
    pub other: BTreeMap<String, String>,
}

impl DynamicSamplingContext {
    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        self.entries().next().is_none()
    }

    /// Sets the field named `name` (its name in the `trace` header, without `sentry-`) from its text; an unknown
    /// name goes to [`other`](DynamicSamplingContext::other). Returns `false`, changing nothing, when the text is
    /// not a valid value for the field.
    ///
    /// Valid values: for `trace_id`, 32 hex digits, not all zeros; for `sample_rate`, a number from 0 to 1; for
    /// `sample_rand`, a number from 0 up to but not including 1; for `sampled`, `true` or `false`; for the others,
    /// any text, empty included.
    pub fn set(&mut self, name: &str, value: &str) -> bool {
        fn set<T>(field: &mut Option<T>, value: Option<T>) -> bool {
            let valid = value.is_some();
            if valid {
                *field = value;
            }
            valid
        }
        match name {
            "trace_id" => set(&mut self.trace_id, value.parse().ok()),
            "public_key" => set(&mut self.public_key, Some(value.to_owned())),
            "sample_rate" => set(&mut self.sample_rate, parse_rate(value, true)),
            "sample_rand" => set(&mut self.sample_rand, parse_rate(value, false)),
            "sampled" => set(&mut self.sampled, value.parse().ok()),
            "release" => set(&mut self.release, Some(value.to_owned())),
            "environment" => set(&mut self.environment, Some(value.to_owned())),
            "transaction" => set(&mut self.transaction, Some(value.to_owned())),
            "org_id" => set(&mut self.org_id, Some(value.to_owned())),
            _ => {
                self.other.insert(name.to_owned(), value.to_owned());
                true
            }
        }
    }

    /// The fields that are set, as (name, text) pairs, in the order they are written: the known fields first, then
    /// [`other`](DynamicSamplingContext::other) by name.
    ///
    /// A rate that [`set`](DynamicSamplingContext::set) would refuse (out of range, not a number) is left out, so
    /// that what is written always reads back.
    pub fn entries(&self) -> impl Iterator<Item = (&str, Cow<'_, str>)> {
        fn text<'a>(name: &'a str, value: &'a Option<String>) -> Option<(&'a str, Cow<'a, str>)> {
            value.as_deref().map(|v| (name, Cow::Borrowed(v)))
        }
        let rate = |name, value: Option<f64>, one: bool| {
            value
                .filter(|v| valid_rate(*v, one))
                .map(|v| (name, Cow::Owned(v.to_string())))
        };
        [
            self.trace_id
                .map(|id| ("trace_id", Cow::Owned(id.to_string()))),
            text("public_key", &self.public_key),
            rate("sample_rate", self.sample_rate, true),
            rate("sample_rand", self.sample_rand, false),
            self.sampled
                .map(|s| ("sampled", Cow::Borrowed(if s { "true" } else { "false" }))),
            text("release", &self.release),
            text("environment", &self.environment),
            text("transaction", &self.transaction),
            text("org_id", &self.org_id),
        ]
        .into_iter()
        .flatten()
        .chain(
            self.other
                .iter()
                .map(|(name, value)| (name.as_str(), Cow::Borrowed(value.as_str()))),
        )
    }
}

/// Whether `value` is a valid rate: from 0 to 1, 1 included when `one` is.
fn valid_rate(value: f64, one: bool) -> bool {
    (0.0..=1.0).contains(&value) && (one || value < 1.0)
}

/// A rate from its text, if it is a number in range (see [`valid_rate`]).
fn parse_rate(text: &str, one: bool) -> Option<f64> {
    text.parse().ok().filter(|v| valid_rate(*v, one))
}

impl Serialize for DynamicSamplingContext {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.entries())
    }
}

impl<'de> Deserialize<'de> for DynamicSamplingContext {
    /// Reads a `trace` header. Values may be strings, as the SDK writes them, or JSON numbers and booleans, as some
    /// SDKs write `sample_rate` and `sampled`; a value that is not valid for its field is skipped, as in `baggage`.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let fields = BTreeMap::<String, serde_json::Value>::deserialize(d)?;
        let mut dsc = DynamicSamplingContext::default();
        for (name, value) in fields {
            let text = match value {
                serde_json::Value::String(text) => text,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => continue,
            };
            dsc.set(&name, &text);
        }
        Ok(dsc)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    const TRACE: &str = "771a43a4192642f0b136d5159a501700";

    fn full() -> DynamicSamplingContext {
        DynamicSamplingContext {
            trace_id: Some(TRACE.parse().unwrap()),
            public_key: Some("49d0f7386ad645858ae85020e393bef3".into()),
            sample_rate: Some(0.5),
            sample_rand: Some(0.123456),
            sampled: Some(true),
            release: Some("myapp@1.2.3".into()),
            environment: Some("production".into()),
            transaction: Some("/login".into()),
            org_id: Some("1".into()),
            other: [("replay_id".to_owned(), "abc".to_owned())].into(),
        }
    }

    #[test]
    fn set_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("trace_id", TRACE, true),
            ("trace_id", "771A43A4192642F0B136D5159A501700", true),
            ("trace_id", "", false),
            ("trace_id", "00000000000000000000000000000000", false),
            ("trace_id", "771a43a4-1926-42f0-b136-d5159a501700", false),
            ("sample_rate", "0", true),
            ("sample_rate", "1", true),
            ("sample_rate", "0.01337", true),
            ("sample_rate", "1e-3", true),
            ("sample_rate", "1.0000001", false),
            ("sample_rate", "-0.5", false),
            ("sample_rate", "NaN", false),
            ("sample_rate", "inf", false),
            ("sample_rate", "", false),
            ("sample_rate", "50%", false),
            ("sample_rand", "0", true),
            ("sample_rand", "0.999999", true),
            ("sample_rand", "1", false),
            ("sampled", "true", true),
            ("sampled", "false", true),
            ("sampled", "1", false),
            ("sampled", "True", false),
            ("release", "", true),
            ("release", "any text at all, é", true),
            ("replay_id", "abc", true),
        ];
        for &(name, value, valid) in cases {
            let mut dsc = DynamicSamplingContext::default();
            assert_eq!(dsc.set(name, value), valid, "{name}={value:?}");
            assert_eq!(dsc.is_empty(), !valid, "{name}={value:?}");
        }
    }

    #[test]
    fn an_invalid_value_leaves_the_field_as_it_was() {
        let mut dsc = full();
        assert!(!dsc.set("sample_rate", "2"));
        assert!(!dsc.set("trace_id", "zero"));
        assert_eq!(dsc, full());
    }

    #[test]
    fn serialises_every_value_as_a_string_under_its_name() {
        let json = serde_json::to_value(full()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "trace_id": TRACE,
                "public_key": "49d0f7386ad645858ae85020e393bef3",
                "sample_rate": "0.5",
                "sample_rand": "0.123456",
                "sampled": "true",
                "release": "myapp@1.2.3",
                "environment": "production",
                "transaction": "/login",
                "org_id": "1",
                "replay_id": "abc",
            })
        );
        assert_eq!(
            serde_json::to_string(&DynamicSamplingContext::default()).unwrap(),
            "{}"
        );
    }

    #[test]
    fn deserialises_strings_numbers_and_booleans() {
        let json = serde_json::json!({
            "trace_id": TRACE,
            "sample_rate": 0.25,
            "sample_rand": "0.5",
            "sampled": false,
            "org_id": 17,
            "release": null,
            "environment": ["not", "text"],
            "transaction": "bad rate next",
            "user_segment": "vip",
        });
        let dsc: DynamicSamplingContext = serde_json::from_value(json).unwrap();
        let want = DynamicSamplingContext {
            trace_id: Some(TRACE.parse().unwrap()),
            sample_rate: Some(0.25),
            sample_rand: Some(0.5),
            sampled: Some(false),
            org_id: Some("17".into()),
            transaction: Some("bad rate next".into()),
            other: [("user_segment".to_owned(), "vip".to_owned())].into(),
            ..Default::default()
        };
        assert_eq!(dsc, want);
        let invalid: DynamicSamplingContext =
            serde_json::from_value(serde_json::json!({"sample_rate": 7, "trace_id": "0"})).unwrap();
        assert!(invalid.is_empty());
        assert!(serde_json::from_str::<DynamicSamplingContext>("[1]").is_err());
    }

    #[test]
    fn rates_out_of_range_are_not_written() {
        let dsc = DynamicSamplingContext {
            sample_rate: Some(f64::NAN),
            sample_rand: Some(1.0),
            ..Default::default()
        };
        assert!(dsc.is_empty());
        assert_eq!(serde_json::to_string(&dsc).unwrap(), "{}");
    }

    pub(in super::super) mod properties {
        use proptest::collection::btree_map;
        use proptest::option;
        use proptest::prelude::*;

        use super::*;

        /// A DSC with any fields set, each to any valid value.
        pub(in super::super::super) fn any_dsc() -> impl Strategy<Value = DynamicSamplingContext> {
            let text = || option::of(any::<String>());
            (
                (
                    option::of(any::<u128>()),
                    text(),
                    option::of(0.0..=1.0f64),
                    option::of(0.0..1.0f64),
                    any::<Option<bool>>(),
                ),
                (text(), text(), text(), text()),
                btree_map("[a-z_]{1,12}", any::<String>(), 0..3),
            )
                .prop_map(
                    |((trace, public_key, sample_rate, sample_rand, sampled), strings, other)| {
                        let (release, environment, transaction, org_id) = strings;
                        let mut dsc = DynamicSamplingContext {
                            trace_id: trace.and_then(|t| TraceId::from_bytes(t.to_be_bytes())),
                            public_key,
                            sample_rate,
                            sample_rand,
                            sampled,
                            release,
                            environment,
                            transaction,
                            org_id,
                            other: BTreeMap::new(),
                        };
                        // Known names in `other` would set the field instead.
                        for (name, value) in other {
                            if !KNOWN.contains(&name.as_str()) {
                                dsc.other.insert(name, value);
                            }
                        }
                        dsc
                    },
                )
        }

        const KNOWN: [&str; 9] = [
            "trace_id",
            "public_key",
            "sample_rate",
            "sample_rand",
            "sampled",
            "release",
            "environment",
            "transaction",
            "org_id",
        ];

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// What is serialised deserialises to the same value.
            #[test]
            fn serde_round_trips(dsc in any_dsc()) {
                let json = serde_json::to_string(&dsc).unwrap();
                prop_assert_eq!(serde_json::from_str::<DynamicSamplingContext>(&json).unwrap(), dsc);
            }

            /// Setting each entry's text on an empty DSC rebuilds the same value.
            #[test]
            fn entries_set_back_to_the_same_value(dsc in any_dsc()) {
                let mut rebuilt = DynamicSamplingContext::default();
                for (name, value) in dsc.entries() {
                    prop_assert!(rebuilt.set(name, &value), "{}={:?}", name, value);
                }
                prop_assert_eq!(rebuilt, dsc);
            }
        }
    }
}
