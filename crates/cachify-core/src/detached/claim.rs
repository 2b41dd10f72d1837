//! What lock guards and pool slots share: a [`Claim`] on the backend, [`Armed`] from
//! before the backend is asked until it is given back, and given back on drop.
//!
//! A claim is pending from the moment its acquisition starts: if the call is cancelled
//! or its reply is lost, the backend may have stored the token anyway, and nobody else
//! could ever free it. Dropping a pending claim therefore gives it back too, carefully
//! (see [`give_back_unconfirmed`]); a refused claim is disarmed instead.
//!
//! Where a dropped claim is given back:
//! - async guards: at once when the backend needs no I/O (memory), otherwise on the
//!   releaser; a caller outside any runtime waits for it;
//! - sync guards: inline on a plain thread; on the releaser when dropped inside a tokio
//!   runtime, so that no runtime worker waits for a round trip;
//! - pending claims, whose caller has its answer already: always on the releaser.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::time::Duration;

use tokio::runtime::Handle;

use super::in_flight::InFlight;
use super::releaser;
use crate::error::Error;
use crate::instance::Cachify;

/// Work to finish before a claim is given back (a lock's lease to stop).
pub(crate) type Settle = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Something held on the backend under a token of its own, given back at most once.
pub(crate) trait Claim: Clone + Send + Sync + 'static {
    /// The storage key the claim is held under.
    fn storage_key(&self) -> &str;

    /// The instance whose client holds the claim.
    fn cachify(&self) -> &Cachify;

    /// What must end before the give-back (a lease renewing the claim), if anything.
    fn settle(&self) -> Option<Settle> {
        None
    }

    /// Frees the claim if the backend still holds this token; whether it did.
    fn give_back_blocking(&self) -> Result<bool, Error>;

    /// The async [`give_back_blocking`](Self::give_back_blocking).
    fn give_back_async(&self) -> impl Future<Output = Result<bool, Error>> + Send;

    /// Logs the outcome of a give-back nobody can be told about (from `Drop`).
    fn log_release(&self, outcome: Result<bool, Error>);

    /// The claim was already gone (expired, force-released) when given back.
    fn log_gone(&self);
}

/// Which client a claim was taken with, hence how it is given back.
pub(crate) trait Side: Send + Sync + 'static {
    /// One give-back, awaited on the releaser.
    fn give_back<C: Claim>(claim: &C) -> impl Future<Output = Result<bool, Error>> + Send;

    /// Gives back a claim its guard dropped; `confirmed`: the backend admitted it.
    fn dropped<C: Claim>(claim: &C, confirmed: bool);
}

/// Claims taken with the sync client.
pub(crate) enum Blocking {}

/// Claims taken with the async client.
pub(crate) enum Async {}

impl Side for Blocking {
    async fn give_back<C: Claim>(claim: &C) -> Result<bool, Error> {
        let claim = claim.clone();
        releaser::run_blocking(move || claim.give_back_blocking()).await
    }

    fn dropped<C: Claim>(claim: &C, confirmed: bool) {
        let context = Handle::try_current();
        if confirmed
            && context
                .as_ref()
                .is_err_and(|error| error.is_thread_local_destroyed())
        {
            // The thread's locals are being destroyed (a guard in a `thread_local!`): a
            // client that parks this thread or enters a runtime would panic, and a panic
            // here aborts. The releaser does it while this thread waits.
            releaser::wait(give_back_on_releaser::<C, Self>(claim.clone(), confirmed));
            return;
        }
        if confirmed && context.is_err() {
            settle_blocking(claim);
            match claim.give_back_blocking() {
                // A refused call (an open circuit breaker, a lost connection) is
                // retried on the releaser rather than left to expire.
                Err(_) => {}
                outcome => return claim.log_release(outcome),
            }
        }
        let release = give_back_on_releaser::<C, Self>(claim.clone(), confirmed);
        if let Err(error) = releaser::spawn(release) {
            tracing::warn!(target: crate::events::TARGET, %error, "cannot hand a release over; it will expire instead");
        }
    }
}

impl Side for Async {
    async fn give_back<C: Claim>(claim: &C) -> Result<bool, Error> {
        claim.give_back_async().await
    }

    fn dropped<C: Claim>(claim: &C, confirmed: bool) {
        releaser::finish(give_back_on_releaser::<C, Self>(claim.clone(), confirmed));
    }
}

/// Ends what keeps `claim` alive, blocking the thread until it has.
fn settle_blocking<C: Claim>(claim: &C) {
    if let Some(settle) = claim.settle() {
        releaser::wait(settle);
    }
}

/// Gives back a dropped claim, registered [`InFlight`] until done so that a flush waits
/// for it. Later calls on its key wait for a confirmed one only (an unconfirmed one's
/// caller already failed, and its retries can take seconds).
fn give_back_on_releaser<C: Claim, S: Side>(
    claim: C,
    confirmed: bool,
) -> impl Future<Output = ()> + Send + 'static {
    let mut in_flight = if confirmed {
        InFlight::begin(claim.cachify(), claim.storage_key())
    } else {
        InFlight::begin_unkeyed()
    };
    async move {
        if let Some(settle) = claim.settle() {
            settle.await;
        }
        if confirmed {
            give_back_confirmed::<C, S>(&claim, &mut in_flight).await;
        } else {
            give_back_unconfirmed::<C, S>(&claim).await;
        }
        drop(in_flight);
    }
}

/// Pauses before each retry of an unconfirmed give-back: about 8 s in all, to outlast a
/// server that stalls for a few seconds (or a client that stops calling it for a while).
const RETRY_PAUSES: [Duration; 5] = [
    Duration::from_millis(100),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

/// Gives back an admitted claim, retrying a failed give-back (a server that hung for a
/// moment, a circuit breaker still open) for a few seconds: a release given up at once
/// would leave the lock or slot held by nobody until its expiry, or forever.
/// Once it has failed, later calls on its key no longer wait for it.
async fn give_back_confirmed<C: Claim, S: Side>(claim: &C, in_flight: &mut InFlight) {
    let mut outcome = S::give_back(claim).await;
    for pause in RETRY_PAUSES {
        if outcome.is_ok() {
            break;
        }
        in_flight.unkey();
        tokio::time::sleep(pause).await;
        outcome = S::give_back(claim).await;
    }
    claim.log_release(outcome);
}

/// Gives back a claim whose admission was never confirmed (a cancelled call, a lost
/// reply). Its request may still be on its way to the server, and a give-back sent on
/// another connection can overtake it; so a give-back that found nothing is sent once
/// more after the first one answered, and one that failed is retried a few times.
async fn give_back_unconfirmed<C: Claim, S: Side>(claim: &C) {
    let mut outcome = S::give_back(claim).await;
    let mut found_nothing = false;
    for pause in RETRY_PAUSES {
        match outcome {
            Ok(true) => return,
            Ok(false) if found_nothing => return,
            Ok(false) => found_nothing = true,
            Err(_) => {}
        }
        tokio::time::sleep(pause).await;
        outcome = S::give_back(claim).await;
    }
    match outcome {
        // Never admitted: there was nothing to free.
        Ok(_) => {}
        Err(error) => claim.log_release(Err(error)),
    }
}

/// A [`Claim`] its guard gives back exactly once: explicitly, or on drop.
pub(crate) struct Armed<C: Claim, S: Side> {
    claim: C,
    state: State,
    side: PhantomData<S>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Asked for, not yet admitted: dropping gives it back in case the backend stored it.
    Pending,
    /// Admitted: dropping gives it back.
    Held,
    /// Refused or given back: nothing left to do.
    Done,
}

impl<C: Claim, S: Side> Armed<C, S> {
    /// Arms `claim` before the backend is asked to admit it.
    pub(crate) fn pending(claim: C) -> Self {
        Self {
            claim,
            state: State::Pending,
            side: PhantomData,
        }
    }

    pub(crate) fn claim(&self) -> &C {
        &self.claim
    }

    pub(crate) fn claim_mut(&mut self) -> &mut C {
        &mut self.claim
    }

    /// The backend admitted the claim.
    pub(crate) fn confirm(&mut self) {
        self.state = State::Held;
    }

    /// The backend refused the claim: there is nothing to give back.
    pub(crate) fn disarm(mut self) {
        self.state = State::Done;
    }

    /// The acquisition failed with `error`, in one request to the backend. When that
    /// request never ran on the server (a refused connection or credentials) nothing
    /// was stored and nothing is given back; any other failure (a timeout, a connection
    /// lost after sending) may have stored it, so the claim stays pending for its drop.
    pub(crate) fn failed(self, error: Error) -> Error {
        if error.is_unsent() {
            self.disarm();
        }
        error
    }

    /// Whether the claim is still to be given back.
    pub(crate) fn is_held(&self) -> bool {
        self.state != State::Done
    }
}

impl<C: Claim> Armed<C, Blocking> {
    /// Gives the claim back now, reporting a failure (which `Drop` then retries).
    pub(crate) fn release(&mut self) -> Result<(), Error> {
        self.release_with(C::give_back_blocking)
    }

    /// [`release`](Self::release) through `give_back`, a call that frees the claim
    /// along with more work (a cached value's lease, freed as its value is stored).
    pub(crate) fn release_with(
        &mut self,
        give_back: impl FnOnce(&C) -> Result<bool, Error>,
    ) -> Result<(), Error> {
        if !self.is_held() {
            return Ok(());
        }
        settle_blocking(&self.claim);
        // A failed give-back stays armed: the consumed guard's drop retries it.
        let given_back = give_back(&self.claim)?;
        self.given_back(given_back);
        Ok(())
    }
}

impl<C: Claim> Armed<C, Async> {
    /// Gives the claim back now, reporting a failure. Cancel-safe: the claim stays armed
    /// until the backend has answered, so a cancelled release is finished by `Drop`.
    pub(crate) async fn release(&mut self) -> Result<(), Error> {
        if !self.settle_for_release().await {
            return Ok(());
        }
        // A failed give-back stays armed: the consumed guard's drop retries it.
        let given_back = self.claim.give_back_async().await?;
        self.given_back(given_back);
        Ok(())
    }

    /// [`release`](Self::release) through `give_back`, a call that frees the claim
    /// along with more work; it runs once what keeps the claim alive has ended.
    pub(crate) async fn release_with(
        &mut self,
        give_back: impl Future<Output = Result<bool, Error>>,
    ) -> Result<(), Error> {
        if !self.settle_for_release().await {
            return Ok(());
        }
        let given_back = give_back.await?;
        self.given_back(given_back);
        Ok(())
    }

    /// Ends what keeps the claim alive; whether there is a claim left to give back.
    async fn settle_for_release(&self) -> bool {
        if !self.is_held() {
            return false;
        }
        if let Some(settle) = self.claim.settle() {
            settle.await;
        }
        true
    }
}

impl<C: Claim, S: Side> Armed<C, S> {
    /// The backend answered a give-back: nothing is left to do, whatever it found.
    fn given_back(&mut self, given_back: bool) {
        self.state = State::Done;
        if !given_back {
            self.claim.log_gone();
        }
    }
}

impl<C: Claim, S: Side> Drop for Armed<C, S> {
    fn drop(&mut self) {
        if self.is_held() {
            S::dropped(&self.claim, self.state == State::Held);
        }
    }
}

impl<C: Claim + std::fmt::Debug, S: Side> std::fmt::Debug for Armed<C, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Armed")
            .field("claim", &self.claim)
            .field("state", &self.state)
            .finish()
    }
}
