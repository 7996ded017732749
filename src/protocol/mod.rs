//! The wire types of the Sentry protocol, as plain serde structs with no logic beyond (de)serialisation.
//!
//! These types depend on nothing else in the crate, so they could move to a crate of their own.

pub mod attachment;
pub mod breadcrumb;
pub mod check_in;
pub(crate) mod data_category;
pub mod debug_meta;
pub mod envelope;
pub mod event;
pub mod exception;
pub mod feedback;
pub(crate) mod item_kind;
pub mod level;
pub mod log;
pub mod metric;
pub mod otlp;
pub mod propagation;
pub mod request;
pub mod session;
pub mod stacktrace;
pub mod time;
pub mod trace;
pub mod transaction;

pub use attachment::{Attachment, AttachmentType};
pub use breadcrumb::Breadcrumb;
pub use check_in::{CheckIn, CheckInStatus, MonitorConfig, MonitorIntervalUnit, MonitorSchedule};
pub use debug_meta::{DebugImage, DebugMeta};
pub use envelope::{ClientReport, DiscardedEvent, Envelope, EnvelopeItem, ParseEnvelopeError};
pub use event::{ClientSdkInfo, Event, EventId, Thread, User};
pub use exception::{Exception, Mechanism, MechanismMeta, SignalMeta};
pub use feedback::Feedback;
pub use level::Level;
pub use log::{Log, LogContainer, LogLevel, LogValue};
pub use metric::{Metric, MetricContainer, MetricType};
pub use propagation::{
    Baggage, BaggageMember, DynamicSamplingContext, SentryTrace, TraceParent, TraceState,
};
pub use request::Request;
pub use session::{
    SessionAggregate, SessionAggregates, SessionAttributes, SessionStatus, SessionUpdate,
};
pub use stacktrace::{Addr, Frame, Stacktrace};
pub use time::Timestamp;
pub use trace::{ParseIdError, SpanId, SpanStatus, TraceContext, TraceId};
pub use transaction::{SpanEvent, TransactionEvent, TransactionInfo};

/// The protocol version sent in `X-Sentry-Auth` (`sentry_version=7`).
pub const PROTOCOL_VERSION: u32 = 7;
