//! Scopes that follow futures: [`FutureExt::bind_scope`] gives a future a scope of its own, current on every poll
//! whatever thread polls it, so that in an async service one request's tags, user and breadcrumbs never show up on
//! another's errors.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::hub::{self, Hub, ScopeSnapshot};
use crate::scope::Scope;

/// Binds scopes to futures. Implemented for every future.
///
/// ```
/// use faultline::FutureExt;
///
/// # let events = faultline::test::with_captured_events(|| {
/// faultline::configure_scope(|scope| scope.set_tag("service", "billing"));
/// let request = async {
///     // This future's own scope: a copy of the one it was bound in.
///     faultline::configure_scope(|scope| scope.set_tag("request_id", "r-17"));
///     faultline::capture_message("payment declined", faultline::Level::Error);
/// }
/// .bind_scope();
/// # futures_lite_block_on(request);
/// // With tokio: `tokio::spawn(request)`.
/// faultline::capture_message("outside", faultline::Level::Info);
/// # });
/// # assert_eq!(events[0].tags["request_id"], "r-17");
/// # assert_eq!(events[0].tags["service"], "billing");
/// # assert!(!events[1].tags.contains_key("request_id"), "the request's tag stayed in the request");
/// # fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let mut f = std::pin::pin!(f);
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// ```
pub trait FutureExt: Future + Sized {
    /// Gives the future a scope of its own: a copy of the current scope, taken now (so spawn the result from the
    /// task whose scope it should start from). Changes made inside the future (`configure_scope`, `push_scope`,
    /// breadcrumbs) stay in it, and changes made outside after this call do not reach it. Binding costs one
    /// reference-count increment; each poll swaps a thread-local slot twice.
    ///
    /// For a child task: `tokio::spawn(child.bind_scope())` forks the parent's scope, so the child's changes never
    /// leak into its parent or its siblings.
    fn bind_scope(self) -> BoundFuture<Self> {
        let scope = Hub::with_current(|hub| hub.top());
        BoundFuture::new(self, scope)
    }

    /// Gives the future a scope of its own starting from `scope` (see [`crate::current_scope`]).
    fn bind_snapshot(self, scope: ScopeSnapshot) -> BoundFuture<Self> {
        BoundFuture::new(self, scope.0)
    }
}

impl<F: Future> FutureExt for F {}

pin_project_lite::pin_project! {
    /// A future with a scope of its own; see [`FutureExt::bind_scope`]. `Send` when the future is.
    ///
    /// Its scope is current while it is polled and while it is dropped, so what its state does when it goes (a
    /// request cancelled mid-way drops its transaction) happens in its own scope too.
    #[must_use = "futures do nothing unless polled"]
    pub struct BoundFuture<F> {
        // `None` only once dropped.
        #[pin]
        inner: Option<F>,
        binding: Binding,
    }

    impl<F> PinnedDrop for BoundFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            let hub = this.binding.take_hub();
            run_in(hub, || this.inner.set(None));
        }
    }
}

/// The future's scope: the snapshot it was bound with until the first poll, which makes a hub of it (its own
/// scope stack), or, while a poll runs, nothing (the hub is in the thread's slot).
enum Binding {
    Snapshot(Arc<Scope>),
    Hub(Arc<Hub>),
    Polling,
}

/// Runs `f` in a scope of its own, a copy of the current one, as a bound future's first poll would; returns what
/// `f` returned and the scope stack it ran in, to bind a future to with [`BoundFuture::with_hub`] (the tower layer
/// calls a service this way, so that what the call does at once lands in the request's scope too).
#[cfg(feature = "tower")]
pub(crate) fn in_own_scope<R>(f: impl FnOnce() -> R) -> (R, Arc<Hub>) {
    let hub = Arc::new(Hub::new(Hub::with_current(|hub| hub.top())));
    let (output, _) = run_in(hub.clone(), f);
    (output, hub)
}

impl<F> BoundFuture<F> {
    /// `inner`, bound to the scope stack `hub` (see `in_own_scope`).
    #[cfg(feature = "tower")]
    pub(crate) fn with_hub(inner: F, hub: Arc<Hub>) -> Self {
        BoundFuture {
            inner: Some(inner),
            binding: Binding::Hub(hub),
        }
    }

    fn new(inner: F, scope: Arc<Scope>) -> Self {
        BoundFuture {
            inner: Some(inner),
            binding: Binding::Snapshot(scope),
        }
    }
}

impl<F: Future> Future for BoundFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let hub = this.binding.take_hub();
        let (output, hub) = run_in(hub, || poll_inner(this.inner, cx));
        if let Some(hub) = hub {
            *this.binding = Binding::Hub(hub);
        }
        output
    }
}

impl Binding {
    /// The scope stack to run in: the one made at the first poll, or made now from the snapshot. After a poll
    /// that panicked (which left `Polling`), an empty scope rather than the thread's.
    fn take_hub(&mut self) -> Arc<Hub> {
        match std::mem::replace(self, Binding::Polling) {
            Binding::Snapshot(scope) => Arc::new(Hub::new(scope)),
            Binding::Hub(hub) => hub,
            Binding::Polling => Arc::new(Hub::new(Arc::default())),
        }
    }
}

/// Runs `f` with `hub` as the thread's current hub, then puts the previous one back, also should `f` panic (the
/// thread must not keep this future's scope for whatever runs on it next); returns what `f` returned and the hub.
/// When the slot is in use (a poll from inside a scope callback, `configure_scope(|_| block_on(…))`), `f` runs
/// unbound.
fn run_in<R>(hub: Arc<Hub>, f: impl FnOnce() -> R) -> (R, Option<Arc<Hub>>) {
    match hub::swap_task_hub(Some(hub)) {
        Ok(previous) => {
            let mut restore = Restore(Some(previous));
            let output = f();
            let previous = restore.0.take().flatten();
            (output, hub::swap_task_hub(previous).ok().flatten())
        }
        Err(hub) => (f(), hub),
    }
}

/// Polls the inner future, which is there until the bound future is dropped.
fn poll_inner<F: Future>(inner: Pin<&mut Option<F>>, cx: &mut Context<'_>) -> Poll<F::Output> {
    match inner.as_pin_mut() {
        Some(inner) => inner.poll(cx),
        None => Poll::Pending,
    }
}

/// Puts the thread's previous hub back when dropped armed: on the unwinding of a poll that panicked.
struct Restore(Option<Option<Arc<Hub>>>);

impl Drop for Restore {
    fn drop(&mut self) {
        if let Some(previous) = self.0.take() {
            let _ = hub::swap_task_hub(previous);
        }
    }
}

impl<F: std::fmt::Debug> std::fmt::Debug for BoundFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundFuture")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}
