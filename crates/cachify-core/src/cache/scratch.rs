//! Per-thread buffers for the sync hit path: the rendered key and the loaded bytes.
//!
//! Reusing them is what makes a memory hit allocation-free. A nested use on the same
//! thread (a key's `Display` impl that itself calls a cached function) gets fresh
//! buffers instead of a `RefCell` panic.

use std::cell::RefCell;

/// Capacity kept between calls; a rare huge value does not pin its buffer forever.
const KEEP: usize = 64 * 1024;

#[derive(Default)]
struct Buffers {
    key: String,
    value: Vec<u8>,
}

thread_local! {
    static BUFFERS: RefCell<Buffers> = RefCell::default();
}

/// Runs `f` with an empty key buffer and a value buffer.
pub(super) fn with<R>(f: impl FnOnce(&mut String, &mut Vec<u8>) -> R) -> R {
    let mut f = Some(f);
    let reused = BUFFERS.try_with(|cell| {
        let mut buffers = cell.try_borrow_mut().ok()?;
        let Buffers { key, value } = &mut *buffers;
        key.clear();
        let f = f.take()?;
        let result = f(key, value);
        if key.capacity() > KEEP || value.capacity() > KEEP {
            *buffers = Buffers::default();
        }
        Some(result)
    });
    match (reused, f) {
        (Ok(Some(result)), _) => result,
        (_, Some(f)) => f(&mut String::new(), &mut Vec::new()),
        // `f` ran and returned inside `try_with`; unreachable in practice.
        (_, None) => unreachable!("the scratch closure ran without returning"),
    }
}
