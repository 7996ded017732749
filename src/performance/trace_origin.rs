//! [`TraceOrigin`]: what the dynamic sampling context of a trace that starts here names, worked out once per client.

use std::collections::BTreeMap;

use crate::options::ClientOptions;
use crate::protocol::TraceId;
use crate::protocol::propagation::DynamicSamplingContext;

/// The DSN's public key, the Sentry organisation (the `org_id` option, else the DSN's `oNNN.` host), the release
/// and the environment: the fields of a head-of-trace dynamic sampling context that come from the client.
#[derive(Clone, Debug, Default)]
pub(crate) struct TraceOrigin {
    public_key: Option<String>,
    pub(crate) org_id: Option<u64>,
    release: Option<String>,
    environment: Option<String>,
}

impl TraceOrigin {
    pub(crate) fn new(options: &ClientOptions) -> Self {
        let dsn = options
            .dsn
            .as_deref()
            .and_then(|dsn| dsn.parse::<crate::dsn::Dsn>().ok());
        TraceOrigin {
            public_key: dsn.as_ref().map(|dsn| dsn.public_key().to_owned()),
            org_id: options
                .org_id
                .or_else(|| dsn.as_ref().and_then(crate::dsn::Dsn::org_id)),
            release: options.release.as_deref().map(str::to_owned),
            environment: options.environment.as_deref().map(str::to_owned),
        }
    }

    /// The dynamic sampling context of trace `trace_id`, started here with random number `sample_rand`, before any
    /// transaction decided it.
    pub(crate) fn context(&self, trace_id: TraceId, sample_rand: f64) -> DynamicSamplingContext {
        DynamicSamplingContext {
            trace_id: Some(trace_id),
            public_key: self.public_key.clone(),
            sample_rate: None,
            sample_rand: Some(sample_rand),
            sampled: None,
            release: self.release.clone(),
            environment: self.environment.clone(),
            transaction: None,
            org_id: self.org_id.map(|id| id.to_string()),
            other: BTreeMap::new(),
        }
    }

    /// The dynamic sampling context of a transaction at the head of its trace: [`TraceOrigin::context`] with the
    /// decision and the rate it was made at, when one was made, and its name unless that is a raw URL (which may
    /// hold identifiers and is of no use for sampling; Sentry leaves it out).
    pub(crate) fn transaction_context(
        &self,
        trace_id: TraceId,
        sample_rand: f64,
        decision: Option<(bool, f64)>,
        name: &str,
        source: &str,
    ) -> DynamicSamplingContext {
        let mut dsc = self.context(trace_id, sample_rand);
        if let Some((sampled, rate)) = decision {
            dsc.sampled = Some(sampled);
            dsc.sample_rate = Some(rate);
        }
        if source != "url" {
            dsc.transaction = Some(name.to_owned());
        }
        dsc
    }
}
