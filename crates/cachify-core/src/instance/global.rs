//! The process-wide global instance, and each thread's copy of it.
//!
//! `init` registers a global (replacing any previous one, logged); `try_init` registers
//! one only if none is set. Readers that only need the instance for a moment (the
//! `#[cached]` hit path) go through [`with_per_thread`]: each thread keeps a copy of the
//! global next to the hit path's buffers in one `const`-initialised thread-local, checked
//! with one load of a generation counter that only `init` writes. A hit therefore writes
//! no memory shared with other threads, so threads hitting the cache do not contend.
//!
//! A copy is replaced on its thread's next use after `init` replaced the global. Until
//! then a thread that used the global once and sits idle keeps the replaced instance
//! (and its clients' connections) alive. Taking copies back from idle threads would
//! need every hit to synchronise with `init` (a lock per hit measured 40 ns → 54 ns per
//! memory hit), for a case — replacing the global while other threads sit idle — that
//! programs meet in tests rather than in service; `init` drops its own thread's copy.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwapOption;

use super::Cachify;
use crate::error::Error;

static GLOBAL: ArcSwapOption<Cachify> = ArcSwapOption::const_empty();
/// Bumped (after the store) every time the global is replaced, so a per-thread copy is
/// checked with one load of a line nobody writes on the hit path.
static GENERATION: AtomicU64 = AtomicU64::new(0);
/// Capacity the hit path's buffers keep between calls; a rare huge value does not pin
/// its buffer forever.
const KEEP: usize = 64 * 1024;

/// The first capacity of the hit path's buffers: two cache lines.
const BUFFER_LINES: usize = 128;

struct PerThread {
    key: String,
    value: Vec<u8>,
    /// The thread's copy of the global, with the generation it was loaded at.
    global: Option<(u64, Cachify)>,
}

thread_local! {
    static PER_THREAD: RefCell<PerThread> = const {
        RefCell::new(PerThread {
            key: String::new(),
            value: Vec::new(),
            global: None,
        })
    };
}

/// The global instance, cloned.
pub(super) fn load() -> Result<Cachify, Error> {
    GLOBAL
        .load()
        .as_deref()
        .cloned()
        .ok_or(Error::NotInitialized)
}

/// Registers `cachify` as the global, replacing (and logging) any previous one.
pub(super) fn replace(cachify: &Cachify) {
    let previous = GLOBAL.swap(Some(Arc::new(cachify.clone())));
    GENERATION.fetch_add(1, Ordering::Release);
    if let Some(previous) = previous {
        tracing::warn!(
            target: crate::events::TARGET,
            previous_prefix = previous.prefix(),
            prefix = cachify.prefix(),
            "the global cachify instance was replaced: its cache, locks and pools are no \
             longer seen through the global (use try_init to keep the first one)"
        );
        forget_own_copy();
    }
}

/// Registers `cachify` as the global only if none is set.
pub(super) fn set_if_unset(cachify: &Cachify) -> Result<(), Error> {
    let previous = GLOBAL.compare_and_swap(&None::<Arc<Cachify>>, Some(Arc::new(cachify.clone())));
    if previous.is_some() {
        return Err(Error::AlreadyInitialized);
    }
    GENERATION.fetch_add(1, Ordering::Release);
    Ok(())
}

/// Drops this thread's copy of a replaced global (other threads drop theirs on their
/// next use).
fn forget_own_copy() {
    let copy = PER_THREAD
        .try_with(|cell| {
            cell.try_borrow_mut()
                .ok()
                .and_then(|mut per_thread| per_thread.global.take())
        })
        .ok()
        .flatten();
    drop(copy);
}

/// Runs `f` with `given` or, when it is `None`, the global instance, and the hit path's
/// per-thread key and value buffers (the key buffer empty). Fails only when the global
/// is needed and none is set.
///
/// A nested use on the same thread (a key's `Display` impl that itself calls a cached
/// function) and a thread being torn down get a plain load and fresh buffers.
// `#[inline]`, the rare cases out of line: this is the memory hit's entry, and inlined
// into its caller the lookup's result stays in registers instead of being moved out
// through each layer (with the boxed `Miss`: 537 → 485 instructions, 45 → 35 ns a hit).
#[inline]
pub(crate) fn with_per_thread<R>(
    given: Option<&Cachify>,
    f: impl FnOnce(&Cachify, &mut String, &mut Vec<u8>) -> R,
) -> Result<R, Error> {
    let mut f = Some(f);
    let reused = PER_THREAD.try_with(|cell| {
        let mut per_thread = cell.try_borrow_mut().ok()?;
        let f = f.take()?;
        Some(per_thread.run(given, f))
    });
    match (reused, f) {
        (Ok(Some(Some(result))), _) => Ok(result),
        (Ok(Some(None)), _) => Err(Error::NotInitialized),
        (_, Some(f)) => unbuffered(given, f),
        // `f` was taken inside `try_with`, which then returned `Some`.
        (_, None) => Err(Error::NotInitialized),
    }
}

/// [`with_per_thread`] without this thread's buffers (nested, or the thread is ending).
#[cold]
#[inline(never)]
fn unbuffered<R>(
    given: Option<&Cachify>,
    f: impl FnOnce(&Cachify, &mut String, &mut Vec<u8>) -> R,
) -> Result<R, Error> {
    match given {
        Some(cachify) => Ok(f(cachify, &mut String::new(), &mut Vec::new())),
        None => load().map(|cachify| f(&cachify, &mut String::new(), &mut Vec::new())),
    }
}

impl PerThread {
    /// Runs `f` on `given` or this thread's copy of the global; `None` when the global
    /// is needed and none is set.
    #[inline]
    fn run<R>(
        &mut self,
        given: Option<&Cachify>,
        f: impl FnOnce(&Cachify, &mut String, &mut Vec<u8>) -> R,
    ) -> Option<R> {
        if self.key.capacity() == 0 {
            self.reserve_lines();
        }
        let PerThread { key, value, global } = self;
        key.clear();
        let result = match (given, &*global) {
            (Some(cachify), _) => Some(f(cachify, key, value)),
            (None, Some((loaded, cachify))) if *loaded == GENERATION.load(Ordering::Acquire) => {
                Some(f(cachify, key, value))
            }
            (None, _) => reload_then(global, |cachify| f(cachify, key, value)),
        };
        if key.capacity() > KEEP || value.capacity() > KEEP {
            self.shrink();
        }
        result
    }

    /// Buffers of whole cache lines: threads started together allocate theirs side by
    /// side, and a buffer one thread writes on every call must not share a line with
    /// another thread's.
    #[cold]
    fn reserve_lines(&mut self) {
        self.key.reserve(BUFFER_LINES);
        self.value.reserve(BUFFER_LINES);
    }

    #[cold]
    fn shrink(&mut self) {
        self.key = String::new();
        self.value = Vec::new();
    }
}

/// Runs `f` on a fresh copy of the global, kept as this thread's copy; `None` when none
/// is set.
#[cold]
#[inline(never)]
fn reload_then<R>(copy: &mut Option<(u64, Cachify)>, f: impl FnOnce(&Cachify) -> R) -> Option<R> {
    let generation = GENERATION.load(Ordering::Acquire);
    // The stale copy goes first: it may be the last owner of a replaced global.
    *copy = None;
    let cachify = load().ok()?;
    let result = f(&cachify);
    *copy = Some((generation, cachify));
    Some(result)
}
