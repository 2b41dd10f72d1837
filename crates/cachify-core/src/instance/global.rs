//! The process-wide global instance, and each thread's copy of it.
//!
//! `init` registers a global (replacing any previous one, logged); `try_init` registers
//! one only if none is set. Readers that only need the instance for a moment (the
//! `#[cached]` hit path) go through [`with_per_thread`]: each thread keeps a copy of the
//! global next to the hit path's buffers in one `const`-initialised thread-local, checked
//! with one load of a generation counter that only `init` writes. A hit therefore writes
//! no memory shared with other threads, so threads hitting the cache do not contend.
//!
//! A copy must not outlive its global: a thread that used the global once and then sits
//! idle would keep a replaced instance (and its clients' connections) alive. So each copy
//! sits in a slot registered here, and `init` empties every slot when it replaces the
//! global. A slot is locked by its own thread for the length of one use (uncontended: the
//! only other party is `init`); a slot busy at that moment keeps its copy until its
//! thread's next use, which sees the new generation and replaces it.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use arc_swap::ArcSwapOption;
use parking_lot::Mutex;

use super::Cachify;
use crate::error::Error;

static GLOBAL: ArcSwapOption<Cachify> = ArcSwapOption::const_empty();
/// Bumped (after the store) every time the global is replaced, so a per-thread copy is
/// checked with one load of a line nobody writes on the hit path.
static GENERATION: AtomicU64 = AtomicU64::new(0);
/// Every thread's slot, so `init` can empty them.
static SLOTS: Mutex<Vec<Weak<Slot>>> = Mutex::new(Vec::new());

/// A thread's copy of the global, with the generation it was loaded at. Aligned to a
/// line pair of its own: slots of threads started together are allocated side by side,
/// and two threads locking their own slots must not bounce one cache line between them.
#[repr(align(128))]
#[derive(Default)]
struct Slot(Mutex<Option<(u64, Cachify)>>);

/// Capacity the hit path's buffers keep between calls; a rare huge value does not pin
/// its buffer forever.
const KEEP: usize = 64 * 1024;

struct PerThread {
    key: String,
    value: Vec<u8>,
    /// Registered on the thread's first use of the global.
    global: Option<Arc<Slot>>,
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
        forget_copies();
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

/// Empties every thread's copy of the global (those not in use right now).
fn forget_copies() {
    let mut forgotten = Vec::new();
    {
        let mut slots = SLOTS.lock();
        slots.retain(|slot| slot.strong_count() > 0);
        for slot in slots.iter().filter_map(Weak::upgrade) {
            if let Some(mut copy) = slot.0.try_lock() {
                forgotten.extend(copy.take());
            }
        }
    }
    // Dropped outside the registry's lock: dropping an instance may close connections.
    drop(forgotten);
}

/// Runs `f` with `given` or, when it is `None`, the global instance, and the hit path's
/// per-thread key and value buffers (the key buffer empty). Fails only when the global
/// is needed and none is set.
///
/// A nested use on the same thread (a key's `Display` impl that itself calls a cached
/// function) and a thread being torn down get a plain load and fresh buffers.
pub(crate) fn with_per_thread<R>(
    given: Option<&Cachify>,
    f: impl FnOnce(&Cachify, &mut String, &mut Vec<u8>) -> R,
) -> Result<R, Error> {
    let mut f = Some(f);
    let reused = PER_THREAD.try_with(|cell| {
        let mut per_thread = cell.try_borrow_mut().ok()?;
        let PerThread { key, value, global } = &mut *per_thread;
        let f = f.take()?;
        key.clear();
        let result = match given {
            Some(cachify) => Ok(f(cachify, key, value)),
            None => with_copy(global, |cachify| f(cachify, key, value)),
        };
        if key.capacity() > KEEP || value.capacity() > KEEP {
            *key = String::new();
            *value = Vec::new();
        }
        Some(result)
    });
    match (reused, f) {
        (Ok(Some(result)), _) => result,
        (_, Some(f)) => match given {
            Some(cachify) => Ok(f(cachify, &mut String::new(), &mut Vec::new())),
            None => load().map(|cachify| f(&cachify, &mut String::new(), &mut Vec::new())),
        },
        // `f` was taken inside `try_with`, which then returned `Some`.
        (_, None) => Err(Error::NotInitialized),
    }
}

/// Runs `f` on the thread's copy of the global, reloading it when `init` replaced it.
fn with_copy<R>(slot: &mut Option<Arc<Slot>>, f: impl FnOnce(&Cachify) -> R) -> Result<R, Error> {
    let slot = slot.get_or_insert_with(register_slot);
    let generation = GENERATION.load(Ordering::Acquire);
    let mut copy = slot.0.lock();
    match &*copy {
        Some((loaded, cachify)) if *loaded == generation => Ok(f(cachify)),
        _ => {
            let cachify = load()?;
            let result = f(&cachify);
            *copy = Some((generation, cachify));
            Ok(result)
        }
    }
}

fn register_slot() -> Arc<Slot> {
    let slot = Arc::new(Slot::default());
    let mut slots = SLOTS.lock();
    // Exited threads leave dead entries; drop them once per doubling, so the registry
    // stays as large as the set of live threads.
    if slots.len() >= 64 && slots.len().is_power_of_two() {
        slots.retain(|slot| slot.strong_count() > 0);
    }
    slots.push(Arc::downgrade(&slot));
    slot
}
