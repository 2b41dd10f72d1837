//! Which instance a cached function, a lock or a pool uses: the global one, looked up
//! when used, or a given one.

use std::borrow::Borrow;

use super::{global, Cachify, Layout};
use crate::error::Error;

/// The global instance, or a given one: owned (`Selector<Cachify>`, what a [`Lock`] or a
/// [`Pool`] keeps) or borrowed (`Selector<&Cachify>`, what generated code passes on each
/// call).
///
/// The global is looked up on use, never when the selector is made, so a selector made
/// before `init_cachify()` works once it has run.
///
/// [`Lock`]: crate::Lock
/// [`Pool`]: crate::Pool
#[derive(Debug, Clone, Copy)]
pub enum Selector<C> {
    /// The global instance (`cachify::init_cachify()`).
    Global,
    /// This instance (`cachify = PATH`, `instance.lock(..)`).
    Instance(C),
}

/// The selector generated code passes on each call: `Source::Global` or
/// `Source::Instance(&PATH)`.
pub type Source<'a> = Selector<&'a Cachify>;

impl<C: Borrow<Cachify>> Selector<C> {
    /// The instance, cloned (one `Arc` count).
    pub(crate) fn resolve(&self) -> Result<Cachify, Error> {
        match self {
            Selector::Global => global::load(),
            Selector::Instance(cachify) => Ok(cachify.borrow().clone()),
        }
    }

    /// Runs `f` on the instance; the global is borrowed from this thread's copy, not
    /// cloned.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&Cachify) -> R) -> Result<R, Error> {
        global::with_per_thread(self.given(), |cachify, _, _| f(cachify))
    }

    /// Runs `f` on the instance and the hit path's per-thread key (empty) and value
    /// buffers.
    pub(crate) fn with_buffers<R>(
        &self,
        f: impl FnOnce(&Cachify, &mut String, &mut Vec<u8>) -> R,
    ) -> Result<R, Error> {
        global::with_per_thread(self.given(), f)
    }

    /// The instance's layout; the default one when the global is not set yet (using it
    /// then fails anyway, saying so).
    pub(crate) fn layout(&self) -> Layout {
        self.with(Cachify::layout).unwrap_or_default()
    }

    fn given(&self) -> Option<&Cachify> {
        match self {
            Selector::Global => None,
            Selector::Instance(cachify) => Some(cachify.borrow()),
        }
    }
}
