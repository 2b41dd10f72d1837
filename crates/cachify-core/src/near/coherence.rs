//! What keeps a near cache coherent with the server: whether tracking is up, and the
//! counters that tell a fill whether an invalidation overtook the read it fills from.
//!
//! The race it closes: a read's reply can carry a value that a write replaced while the
//! reply was on its way, and the write's invalidation can arrive (on the tracking
//! connection) before the reply does (on a data connection). So a read takes a
//! [`Ticket`] before it is sent: the epoch (bumped by every flush, loss and
//! re-establishment of tracking) and the counter of its key's stripe (bumped by every
//! invalidation of a key hashing there). The fill is kept only if neither moved from
//! before the read was sent until after the value is in the store; an invalidation that
//! lands after that check removes the value itself.
//
// ordering: SeqCst on every counter and on the tracking flag. The argument is a
// store-buffering one (the filler writes the store then reads a counter; the
// invalidator writes a counter then removes from the store), which needs a single total
// order over both sides' operations; these are off the hit path.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};

/// How many stripes invalidations are counted in: enough that a fill is rarely dropped
/// for another key's write during its round trip.
const STRIPES: usize = 256;

/// The coherence state of one near cache.
pub(super) struct Coherence {
    tracking: AtomicBool,
    epoch: AtomicU64,
    stripes: Box<[AtomicU64]>,
}

/// What a fill checks: taken before its read was sent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket {
    epoch: u64,
    stripe: usize,
    count: u64,
}

impl Coherence {
    /// Not tracking yet: nothing is served or filled until tracking is ready.
    pub(super) fn new() -> Self {
        Self {
            tracking: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            stripes: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Whether every tracking connection is up, so that near copies may be served.
    #[inline]
    pub(super) fn is_tracking(&self) -> bool {
        self.tracking.load(SeqCst)
    }

    /// A ticket for a read of `key` about to be sent; `None` while not tracking (the
    /// read's value must not be kept).
    pub(super) fn ticket(&self, key: &[u8]) -> Option<Ticket> {
        let epoch = self.epoch.load(SeqCst);
        if !self.is_tracking() {
            return None;
        }
        let stripe = stripe_of(key);
        Some(Ticket {
            epoch,
            stripe,
            count: self.stripes[stripe].load(SeqCst),
        })
    }

    /// Whether nothing that could make the ticket's read stale happened since it was
    /// taken.
    pub(super) fn holds(&self, ticket: &Ticket) -> bool {
        self.is_tracking()
            && self.epoch.load(SeqCst) == ticket.epoch
            && self.stripes[ticket.stripe].load(SeqCst) == ticket.count
    }

    /// Counts an invalidation of `key`; the caller then removes its near copy.
    pub(super) fn invalidated(&self, key: &[u8]) {
        self.stripes[stripe_of(key)].fetch_add(1, SeqCst);
    }

    /// Counts a flush of everything; the caller then empties the store.
    pub(super) fn flushed(&self) {
        self.epoch.fetch_add(1, SeqCst);
    }

    /// Tracking went down: stop serving and filling (the caller then empties the store).
    pub(super) fn lost(&self) {
        self.tracking.store(false, SeqCst);
        self.flushed();
    }

    /// Tracking is up again: serve and fill, with tickets taken from now on only (a read
    /// sent while tracking was down may carry a value whose invalidation was lost).
    pub(super) fn ready(&self) {
        self.flushed();
        self.tracking.store(true, SeqCst);
    }
}

/// The stripe of `key` (FNV-1a: keys are short, and any spread will do).
fn stripe_of(key: &[u8]) -> usize {
    let hash = key.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % STRIPES as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracking() -> Coherence {
        let coherence = Coherence::new();
        coherence.ready();
        coherence
    }

    #[test]
    fn nothing_is_filled_before_tracking_is_ready() {
        assert!(Coherence::new().ticket(b"k").is_none());
    }

    #[test]
    fn an_untouched_ticket_holds() {
        let coherence = tracking();
        let ticket = coherence.ticket(b"k").unwrap();
        assert!(coherence.holds(&ticket));
    }

    #[test]
    fn an_invalidation_of_the_key_overtakes_its_read() {
        let coherence = tracking();
        let ticket = coherence.ticket(b"k").unwrap();
        coherence.invalidated(b"k");
        assert!(!coherence.holds(&ticket));
    }

    #[test]
    fn a_flush_a_loss_and_a_reconnection_each_overtake_every_read() {
        let coherence = tracking();
        let ticket = coherence.ticket(b"k").unwrap();
        coherence.flushed();
        assert!(!coherence.holds(&ticket));

        let ticket = coherence.ticket(b"k").unwrap();
        coherence.lost();
        assert!(coherence.ticket(b"k").is_none());
        coherence.ready();
        assert!(!coherence.holds(&ticket), "read across a disconnect");
    }
}
