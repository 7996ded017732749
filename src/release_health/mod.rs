//! Release health: sessions, from which the server computes crash-free rates per release.
//!
//! - [`app_session`]: application mode, one session from `init` to the guard's drop, shared by the capturing
//!   threads (which count errors), the panic hook (which ends it `crashed`) and the worker (which sends its updates
//!   and keeps its file in the spool, so a killed process's session is reported `abnormal` at the next start).
//! - [`request_session`]: request mode, one session per request of the tower layer, counted on the request's scope.
//! - [`aggregates`]: the per-minute counts of ended request sessions that the worker sends as a `sessions` item.
//!
//! Nothing here does I/O: the worker and the panic hook pass in what writes or deletes the session's file.

pub(crate) mod aggregates;
pub(crate) mod app_session;
#[cfg_attr(
    not(feature = "tower"),
    expect(dead_code, reason = "only the tower layer starts request sessions")
)]
pub(crate) mod request_session;

use crate::protocol::User;

/// The distinct id a session gets from a user: its id, else its email, else its name.
pub(crate) fn distinct_id(user: &User) -> Option<String> {
    user.id
        .clone()
        .or_else(|| user.email.clone())
        .or_else(|| user.username.clone())
}
