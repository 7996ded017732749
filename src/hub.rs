//! The process-wide client slot and the per-thread scope stacks.
//!
//! There is one client per process, replaced by each `init`. Scopes are per thread: the thread named `main` uses
//! the main hub, and every other thread starts from a copy of the main hub's current scope the first time it touches
//! its own. So tags set on the main thread at start-up apply everywhere, while a worker thread's `configure_scope`
//! stays on that thread.

use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, RwLock};

use crate::client::{CaptureScope, Client};
use crate::options::BeforeBreadcrumb;
use crate::performance::records::{FinishedTransaction, TransactionSink};
use crate::protocol::event::EventId;
use crate::scope::Scope;
use crate::sync::{lock, read, write};

static CLIENT: RwLock<Option<Arc<Client>>> = RwLock::new(None);
/// A lock-free fast path for "disabled": every API call checks it first, so a disabled SDK costs one atomic load.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The current client's `max_breadcrumbs`, with [`HAS_BEFORE_BREADCRUMB`] set when it has a `before_breadcrumb`:
/// `add_breadcrumb` reads this instead of taking the client lock, unless there is a callback to clone. Written with
/// `CLIENT`, under its write lock.
static BREADCRUMB_SETTINGS: AtomicUsize = AtomicUsize::new(0);
const HAS_BEFORE_BREADCRUMB: usize = 1 << (usize::BITS - 1);

/// The current client, if the SDK is enabled.
pub(crate) fn client() -> Option<Arc<Client>> {
    #[cfg(feature = "test")]
    if let Some(own) = thread_client::get() {
        return Some(own);
    }
    if !ACTIVE.load(Ordering::Acquire) {
        return None;
    }
    read(&CLIENT).clone()
}

/// A client of the current thread's own, which `faultline::test` uses so that tests running in parallel in one
/// binary each capture only their own events.
#[cfg(feature = "test")]
pub(crate) mod thread_client {
    use std::cell::RefCell;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::client::Client;

    /// How many threads have a client of their own; while it is zero, no thread-local is read.
    static OVERRIDES: AtomicUsize = AtomicUsize::new(0);

    thread_local! {
        static THREAD_CLIENT: RefCell<Option<Arc<Client>>> = const { RefCell::new(None) };
    }

    pub(crate) fn get() -> Option<Arc<Client>> {
        if OVERRIDES.load(Ordering::Acquire) == 0 {
            return None;
        }
        THREAD_CLIENT
            .try_with(|c| c.borrow().clone())
            .ok()
            .flatten()
    }

    /// Makes `client` this thread's own client until the returned guard is dropped.
    pub(crate) fn set(client: Arc<Client>) -> ThreadClientGuard {
        let previous = THREAD_CLIENT.with(|c| c.borrow_mut().replace(client));
        OVERRIDES.fetch_add(1, Ordering::AcqRel);
        ThreadClientGuard { previous }
    }

    /// Restores the thread's previous client on drop.
    pub(crate) struct ThreadClientGuard {
        previous: Option<Arc<Client>>,
    }

    impl Drop for ThreadClientGuard {
        fn drop(&mut self) {
            let previous = self.previous.take();
            let _ = THREAD_CLIENT.try_with(|c| *c.borrow_mut() = previous);
            OVERRIDES.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Runs `f` with the current client, if the SDK is enabled, without taking a reference of its own (the hot paths
/// that need the client only for the length of a call).
pub(crate) fn with_client<R>(f: impl FnOnce(&Client) -> R) -> Option<R> {
    #[cfg(feature = "test")]
    if let Some(own) = thread_client::get() {
        return Some(f(&own));
    }
    if !ACTIVE.load(Ordering::Acquire) {
        return None;
    }
    read(&CLIENT).as_deref().map(f)
}

/// What `add_breadcrumb` needs of the current client: its `max_breadcrumbs` and `before_breadcrumb`, or `None`
/// while the SDK is disabled. Without a callback this is two atomic loads and no lock.
pub(crate) fn breadcrumb_settings() -> Option<(usize, Option<BeforeBreadcrumb>)> {
    #[cfg(feature = "test")]
    if let Some(own) = thread_client::get() {
        return Some((
            own.options.max_breadcrumbs,
            own.options.before_breadcrumb.clone(),
        ));
    }
    if !ACTIVE.load(Ordering::Acquire) {
        return None;
    }
    let settings = BREADCRUMB_SETTINGS.load(Ordering::Acquire);
    if settings & HAS_BEFORE_BREADCRUMB == 0 {
        return Some((settings, None));
    }
    with_client(|client| {
        let options = &client.options;
        (options.max_breadcrumbs, options.before_breadcrumb.clone())
    })
}

fn store_breadcrumb_settings(client: Option<&Client>) {
    let settings = client.map_or(0, |client| {
        let options = &client.options;
        let max = options.max_breadcrumbs.min(!HAS_BEFORE_BREADCRUMB);
        if options.before_breadcrumb.is_some() {
            max | HAS_BEFORE_BREADCRUMB
        } else {
            max
        }
    });
    BREADCRUMB_SETTINGS.store(settings, Ordering::Release);
}

/// Installs `client` (or disables the SDK with `None`) and returns the one it replaces.
pub(crate) fn swap_client(client: Option<Arc<Client>>) -> Option<Arc<Client>> {
    let mut slot = write(&CLIENT);
    store_breadcrumb_settings(client.as_deref());
    ACTIVE.store(client.is_some(), Ordering::Release);
    std::mem::replace(&mut *slot, client)
}

/// Removes `client` if it is still the current one (the guard of a replaced client must not disable its successor).
pub(crate) fn remove_client(client: &Arc<Client>) {
    let mut slot = write(&CLIENT);
    if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, client)) {
        *slot = None;
        store_breadcrumb_settings(None);
        ACTIVE.store(false, Ordering::Release);
    }
}

/// One thread's (or the main thread's) stack of scopes and its last event id.
pub(crate) struct Hub {
    stack: RwLock<Vec<Arc<Scope>>>,
    last_event_id: Mutex<Option<EventId>>,
    /// The signature of the last error captured through this hub, for dropping an immediate repeat.
    last_error: Mutex<Option<u64>>,
}

static MAIN_HUB: LazyLock<Arc<Hub>> = LazyLock::new(|| {
    let hub = Arc::new(Hub::new(Arc::new(Scope::default())));
    MAIN_HUB_AT.store(Arc::as_ptr(&hub).cast_mut(), Ordering::Release);
    hub
});

/// The main hub, once it exists, for the native crash handler, which must not run `LazyLock`'s initialiser. The
/// hub lives as long as the process.
static MAIN_HUB_AT: AtomicPtr<Hub> = AtomicPtr::new(std::ptr::null_mut());

thread_local! {
    /// The hub of the bound future being polled on this thread, if any (see `future.rs`): it stands in for the
    /// thread's own while the future runs.
    static TASK_HUB: RefCell<Option<Arc<Hub>>> = const { RefCell::new(None) };
    static THREAD_HUB: ThreadHub = ThreadHub::new(if std::thread::current().name() == Some("main") {
        MAIN_HUB.clone()
    } else {
        Arc::new(Hub::new(MAIN_HUB.top()))
    });
    /// This thread's own hub while it lives, for the native crash handler: a plain pointer, which a signal handler
    /// can read without registering a destructor (which allocates) or running an initialiser.
    static THREAD_HUB_AT: Cell<*const Hub> = const { Cell::new(std::ptr::null()) };
}

/// A thread's own hub; it keeps [`THREAD_HUB_AT`] pointing at it while it lives.
struct ThreadHub(Arc<Hub>);

impl ThreadHub {
    fn new(hub: Arc<Hub>) -> Self {
        let _ = THREAD_HUB_AT.try_with(|at| at.set(Arc::as_ptr(&hub)));
        ThreadHub(hub)
    }
}

impl Drop for ThreadHub {
    fn drop(&mut self) {
        let _ = THREAD_HUB_AT.try_with(|at| at.set(std::ptr::null()));
    }
}

/// Creates the main hub, if it does not exist yet, so that the native crash handler can fall back on it.
#[cfg(faultline_native_crash)]
pub(crate) fn prepare_crash_handler_hub() {
    LazyLock::force(&MAIN_HUB);
}

/// The current scope of this thread's own hub, else of the main hub, for the native crash handler: read without
/// waiting, allocating or initialising anything. `None` while that scope is being changed (the crash may have
/// come in the middle of the change) or when no hub exists yet.
///
/// The snapshot is a reference-count bump: while it is held, a change to the scope copies it instead of changing
/// it in place, so the handler reads data that nothing writes. A bound future's scope is not looked at: which
/// future a thread was polling is kept in a `RefCell` that a signal handler must not touch.
#[cfg(faultline_native_crash)]
#[allow(
    unsafe_code,
    reason = "a signal handler cannot use the thread-local `Arc`: its first use registers a destructor"
)]
pub(crate) fn scope_for_crash_handler() -> Option<Arc<Scope>> {
    // (The main hub's pointer is set by `prepare_crash_handler_hub`, which `init` calls before it installs the
    // handler.)
    let own = THREAD_HUB_AT
        .try_with(Cell::get)
        .unwrap_or(std::ptr::null());
    let hub = if own.is_null() {
        MAIN_HUB_AT.load(Ordering::Acquire).cast_const()
    } else {
        own
    };
    // SAFETY: a non-null pointer is either the main hub, which is never freed, or this thread's own hub, which
    // clears its pointer before it is dropped.
    let hub = unsafe { hub.as_ref() }?;
    match hub.stack.try_read() {
        Ok(stack) => stack.last().cloned(),
        Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner().last().cloned(),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}

impl Hub {
    /// A hub whose only scope is `top`: a thread's, or a bound future's.
    pub(crate) fn new(top: Arc<Scope>) -> Self {
        Hub {
            stack: RwLock::new(vec![top]),
            last_event_id: Mutex::new(None),
            last_error: Mutex::new(None),
        }
    }

    /// Runs `f` with the current hub: that of the bound future being polled on this thread, else the thread's own.
    /// While thread-locals are being torn down (a panic in a TLS destructor), the main hub stands in.
    pub(crate) fn with_current<R>(f: impl FnOnce(&Arc<Hub>) -> R) -> R {
        let mut f = Some(f);
        let task = TASK_HUB.try_with(|task| match task.try_borrow().as_deref() {
            Ok(Some(hub)) => Some((f.take().expect("called once"))(hub)),
            _ => None,
        });
        if let Ok(Some(r)) = task {
            return r;
        }
        let result = THREAD_HUB.try_with(|hub| (f.take().expect("called once"))(&hub.0));
        match result {
            Ok(r) => r,
            Err(_) => (f.take().expect("not called yet"))(&MAIN_HUB),
        }
    }

    /// A snapshot of the current scope (a reference-count bump, no copy).
    pub(crate) fn top(&self) -> Arc<Scope> {
        read(&self.stack).last().cloned().unwrap_or_default()
    }

    /// A snapshot of the current scope if the stack can be read without waiting: `None` while it is being changed,
    /// which includes a change on this very thread (code run from a scope callback, or a value the change drops).
    pub(crate) fn try_top(&self) -> Option<Arc<Scope>> {
        match self.stack.try_read() {
            Ok(stack) => Some(stack.last().cloned().unwrap_or_default()),
            Err(std::sync::TryLockError::Poisoned(e)) => {
                Some(e.into_inner().last().cloned().unwrap_or_default())
            }
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// Changes the current scope in place (copying it first if an event still holds the old snapshot).
    pub(crate) fn configure<R>(&self, f: impl FnOnce(&mut Scope) -> R) -> R {
        let mut stack = write(&self.stack);
        if stack.is_empty() {
            stack.push(Arc::default());
        }
        let top = stack.last_mut().expect("pushed above");
        f(Arc::make_mut(top))
    }

    /// Pushes a copy of the current scope; returns the depth to pop back to.
    pub(crate) fn push(&self) -> usize {
        let mut stack = write(&self.stack);
        let depth = stack.len();
        let top = stack.last().cloned().unwrap_or_default();
        stack.push(top);
        depth
    }

    /// Pops back to `depth` (never below the root scope).
    pub(crate) fn pop_to(&self, depth: usize) {
        let mut stack = write(&self.stack);
        stack.truncate(depth.max(1));
    }

    /// Whether an error with this signature is the same as the one captured just before on this hub (an error
    /// logged and then returned to a caller that reports it again). Records it either way.
    pub(crate) fn is_repeat(&self, signature: u64) -> bool {
        let mut last = lock(&self.last_error);
        last.replace(signature) == Some(signature)
    }

    /// Pushes `scope` as the current scope; returns the depth to pop back to.
    pub(crate) fn push_scope(&self, scope: Arc<Scope>) -> usize {
        let mut stack = write(&self.stack);
        let depth = stack.len();
        stack.push(scope);
        depth
    }

    pub(crate) fn set_last_event_id(&self, id: EventId) {
        *lock(&self.last_event_id) = Some(id);
    }

    pub(crate) fn last_event_id(&self) -> Option<EventId> {
        *lock(&self.last_event_id)
    }
}

impl CaptureScope for Hub {
    fn scope(&self) -> Arc<Scope> {
        self.top()
    }

    fn is_repeat(&self, signature: u64) -> bool {
        Hub::is_repeat(self, signature)
    }

    fn set_last_event_id(&self, id: EventId) {
        Hub::set_last_event_id(self, id);
    }
}

/// Restores the scope stack when dropped; returned by [`crate::push_scope`].
///
/// The guard pops the scope it pushed on the thread that pushed it, so it cannot be sent to another thread:
///
/// ```compile_fail
/// let guard = faultline::push_scope();
/// std::thread::spawn(move || drop(guard));
/// ```
#[must_use = "the pushed scope is popped as soon as the guard is dropped"]
pub struct ScopeGuard {
    hub: Arc<Hub>,
    depth: usize,
    // Raw pointers are neither Send nor Sync, which keeps the guard on its thread.
    _not_send: PhantomData<*const ()>,
}

impl ScopeGuard {
    pub(crate) fn push() -> Self {
        Hub::with_current(|hub| ScopeGuard {
            hub: hub.clone(),
            depth: hub.push(),
            _not_send: PhantomData,
        })
    }

    pub(crate) fn push_snapshot(scope: Arc<Scope>) -> Self {
        Hub::with_current(|hub| ScopeGuard {
            hub: hub.clone(),
            depth: hub.push_scope(scope),
            _not_send: PhantomData,
        })
    }
}

/// A snapshot of a thread's current scope that can be moved to another thread, so work handed to a thread
/// reports with the scope (tags, user, breadcrumbs, …) of the code that started it. From [`crate::current_scope`].
///
/// ```
/// # use std::time::Duration;
/// # let transport = faultline::test::TestTransport::new();
/// # let _guard = faultline::init(faultline::ClientOptions::new().transport(transport.clone()));
/// faultline::configure_scope(|scope| scope.set_tag("request_id", "r-17"));
/// let scope = faultline::current_scope();
/// std::thread::spawn(move || {
///     scope.run(|| faultline::capture_message("failed in the background", faultline::Level::Error));
/// })
/// .join()
/// .unwrap();
/// # assert!(faultline::flush(Duration::from_secs(5)));
/// # assert_eq!(transport.take_events()[0].tags["request_id"], "r-17");
/// ```
#[derive(Clone, Debug)]
pub struct ScopeSnapshot(pub(crate) Arc<Scope>);

impl ScopeSnapshot {
    /// Makes the snapshot this thread's current scope until the guard is dropped.
    pub fn bind(&self) -> ScopeGuard {
        ScopeGuard::push_snapshot(self.0.clone())
    }

    /// Runs `f` with the snapshot as this thread's current scope.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let _guard = self.bind();
        f()
    }
}

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        self.hub.pop_to(self.depth);
    }
}

impl std::fmt::Debug for ScopeGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopeGuard")
            .field("depth", &self.depth)
            .finish()
    }
}

/// Makes `hub` the current hub of this thread (the bound future being polled) and returns the one it replaces; the
/// caller puts that back when the poll returns. `None` when the slot is in use (a poll from inside a scope
/// callback), in which case nothing changed.
pub(crate) fn swap_task_hub(hub: Option<Arc<Hub>>) -> Result<Option<Arc<Hub>>, Option<Arc<Hub>>> {
    let mut hub = Some(hub);
    let swapped = TASK_HUB.try_with(|task| match task.try_borrow_mut() {
        Ok(mut slot) => Some(std::mem::replace(&mut *slot, hub.take().flatten())),
        Err(_) => None,
    });
    match swapped {
        Ok(Some(previous)) => Ok(previous),
        _ => Err(hub.flatten()),
    }
}

/// A client as the place where its finished transactions go: queued with the scope of the thread that finished
/// them. Here rather than in `client.rs`, which never sees the hub.
impl TransactionSink for Client {
    fn send(&self, transaction: FinishedTransaction) {
        // A transaction can end while this thread changes its scope (its last handle dropped by `set_span`, a
        // popped scope, or `finish` called from a scope callback): never wait for that change, which would wait for
        // us. It then goes without the scope's tags and user.
        let scope = Hub::with_current(|hub| hub.try_top()).unwrap_or_default();
        self.capture_transaction(scope, transaction);
    }
}
