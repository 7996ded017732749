//! Events as JSON lines in a rotating file, for log shippers such as Filebeat.
//!
//! [`JsonLinesSink`] is a [`Transport`](crate::transport::Transport): give it to
//! [`ClientOptions::transport`](crate::ClientOptions::transport) and every event becomes one line of JSON with
//! [Elastic Common Schema] field names in a size-rotated file (see [Rotation](JsonLinesSink#rotation)). A shipper
//! tails the file and Elasticsearch indexes the fields without a custom ingest pipeline; `docs/elk.md` in the
//! repository has a Filebeat configuration and an index template for them.
//!
//! [`EcsRecord`] is the mapping from an [`Event`](crate::protocol::Event) to those fields, and
//! [`JsonLinesSink::write_record`] writes a record that did not come from an event, such as a log line: the `log`
//! integration's `Logger::json_lines` writes every `log` record this way. To write events both here and to a
//! server, see [`Tee`](crate::transport::Tee).
//!
//! [Elastic Common Schema]: https://www.elastic.co/guide/en/ecs/current/index.html

// The files of this module:
// - json_lines.rs: `JsonLinesSink` (the transport, its builder and the documented line format);
// - ecs.rs: `EcsRecord` and `EcsError`, the mapping from an event, and the encoding of a record as one line;
// - rotate.rs: the size-rotated file the sink writes to (crate-internal), and the public `FlushPolicy`.

#![forbid(unsafe_code)]

mod ecs;
mod json_lines;
mod rotate;

pub use ecs::{EcsError, EcsRecord};
pub use json_lines::{JsonLinesSink, JsonLinesSinkBuilder};
pub use rotate::FlushPolicy;
