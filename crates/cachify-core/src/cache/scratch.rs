//! Per-thread state of the sync hit path: the rendered key, the loaded bytes, and a copy
//! of the global instance.
//!
//! Reusing the buffers is what makes a memory hit allocation-free. Keeping them and the
//! global's copy in one `const`-initialised thread-local makes a hit one thread-local
//! access, and checking the copy is one load of the global's generation counter (written
//! only by `init`): no shared write, so threads hitting the cache do not contend. A
//! nested use on the same thread (a key's `Display` impl that itself calls a cached
//! function) gets fresh buffers instead of a `RefCell` panic.

use std::cell::RefCell;

use super::Source;
use crate::error::Error;
use crate::instance::Cachify;

/// Capacity kept between calls; a rare huge value does not pin its buffer forever.
const KEEP: usize = 64 * 1024;

struct Local {
    key: String,
    value: Vec<u8>,
    /// The global instance as of the generation it was loaded at.
    global: Option<(u64, Cachify)>,
}

thread_local! {
    static LOCAL: RefCell<Local> = const {
        RefCell::new(Local {
            key: String::new(),
            value: Vec::new(),
            global: None,
        })
    };
}

/// Runs `f` with the instance of `source`, an empty key buffer and a value buffer.
/// Fails only when `source` is the global and none is initialised.
pub(super) fn with<R>(
    source: Source<'_>,
    f: impl FnOnce(&Cachify, &mut String, &mut Vec<u8>) -> R,
) -> Result<R, Error> {
    let mut f = Some(f);
    let reused = LOCAL.try_with(|cell| {
        let mut local = cell.try_borrow_mut().ok()?;
        let Local { key, value, global } = &mut *local;
        let cachify = match source {
            Source::Instance(cachify) => cachify,
            Source::Global => match current_global(global) {
                Ok(cachify) => cachify,
                Err(error) => return Some(Err(error)),
            },
        };
        key.clear();
        let result = (f.take()?)(cachify, key, value);
        if key.capacity() > KEEP || value.capacity() > KEEP {
            *key = String::new();
            *value = Vec::new();
        }
        Some(Ok(result))
    });
    match (reused, f) {
        (Ok(Some(result)), _) => result,
        (_, Some(f)) => source.with(|cachify| f(cachify, &mut String::new(), &mut Vec::new())),
        // `f` ran and returned inside `try_with`; unreachable in practice.
        (_, None) => unreachable!("the scratch closure ran without returning"),
    }
}

/// The thread's copy of the global, reloaded when `init` replaced it since.
fn current_global(copy: &mut Option<(u64, Cachify)>) -> Result<&Cachify, Error> {
    let generation = Cachify::global_generation();
    if !matches!(copy, Some((loaded, _)) if *loaded == generation) {
        *copy = Some((generation, Cachify::global()?));
    }
    match copy {
        Some((_, cachify)) => Ok(cachify),
        None => Err(Error::NotInitialized),
    }
}
