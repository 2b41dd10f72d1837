//! Where an instance keeps the decoded values of its `#[cached]` functions: in its
//! memory backend's entries, or in a near cache in front of its Redis backend.

use crate::backend::MemoryClient;
#[cfg(feature = "redis")]
use crate::near::Near;

/// Where an instance's `#[cached]` reads find decoded values.
#[derive(Debug)]
pub(crate) enum DecodedStore {
    /// The memory backend serving both sides: its entries keep their decoded values, and
    /// a value it lacks is a miss.
    Memory(MemoryClient),
    /// A near cache: a value it lacks is read through from Redis.
    #[cfg(feature = "redis")]
    Near(Near),
}

impl DecodedStore {
    /// The memory store of an instance whose both sides are `sync` and `async` (the
    /// memory clients among them): only when they are one and the same store, else a
    /// value written through one side could hide behind the other's decoded copy.
    pub(crate) fn of_memory(
        sync: Option<&MemoryClient>,
        async_: Option<&MemoryClient>,
    ) -> Option<Self> {
        match (sync, async_) {
            (Some(sync), Some(async_)) if sync.same_store(async_) => {
                Some(Self::Memory(sync.clone()))
            }
            _ => None,
        }
    }

    /// The near cache, if that is what this is.
    #[cfg(feature = "redis")]
    pub(crate) fn near(&self) -> Option<&Near> {
        match self {
            Self::Near(near) => Some(near),
            Self::Memory(_) => None,
        }
    }
}
