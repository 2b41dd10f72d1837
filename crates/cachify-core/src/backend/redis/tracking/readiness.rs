//! Whether every tracking connection of one near cache is up, reported to its sink as
//! transitions: `tracking_ready` once all nodes track, `tracking_lost` as soon as one
//! stops (or the set of nodes changes).
//!
//! Each connection attempt of a node is a *session* with a generation of its own, so a
//! report from a session that ended (a late disconnection push of a dropped connection)
//! never marks the node's current session down.

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::near::Invalidations;

/// The tracking state of one near cache's nodes.
pub(super) struct Readiness {
    sink: Weak<dyn Invalidations>,
    /// The next session's generation.
    sessions: AtomicU64,
    /// The sink is called under this lock, so ready and lost reach it in the order
    /// they happened.
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    nodes: HashMap<Arc<str>, Node>,
    /// `tracking_ready` was the last transition reported.
    ready: bool,
    /// A refusal was logged as a warning: later ones are logged at debug level.
    refusal_warned: bool,
    /// A refused check was logged as a warning: later ones are logged at debug level.
    check_refusal_warned: bool,
}

#[derive(Default)]
struct Node {
    /// The session that is up, if any.
    up: Option<u64>,
    /// The latest session reported down: it cannot come up any more (its connection
    /// closed between tracking's reply and the report of it).
    ended: Option<u64>,
    /// This outage was reported: a node that keeps failing reports once.
    loss_reported: bool,
}

/// Why a session ended, or never came up.
pub(super) enum Loss<'a> {
    /// The connection failed, was closed or stopped answering.
    Failure(&'a dyn Display),
    /// The server refused tracking (no RESP3, an ACL denial): logged once as a warning.
    Refusal(&'a dyn Display),
}

impl Readiness {
    pub(super) fn new(sink: &Arc<dyn Invalidations>) -> Arc<Self> {
        Arc::new(Self {
            sink: Arc::downgrade(sink),
            sessions: AtomicU64::new(0),
            state: Mutex::default(),
        })
    }

    /// The sink, while anybody holds it.
    pub(super) fn sink(&self) -> Option<Arc<dyn Invalidations>> {
        self.sink.upgrade()
    }

    /// A generation for a new session.
    pub(super) fn session(&self) -> u64 {
        // ordering: only uniqueness matters.
        self.sessions.fetch_add(1, Ordering::Relaxed)
    }

    /// Tracks exactly `nodes` from now on; a change of the set while ready is reported
    /// as a loss (the new nodes track nothing yet).
    pub(super) fn set_nodes(&self, nodes: &[Arc<str>]) {
        let mut state = self.state.lock();
        let unchanged = state.nodes.len() == nodes.len()
            && nodes.iter().all(|node| state.nodes.contains_key(node));
        if unchanged {
            return;
        }
        state.nodes.retain(|node, _| nodes.contains(node));
        for node in nodes {
            state.nodes.entry(Arc::clone(node)).or_default();
        }
        if state.ready {
            self.report_lost(&mut state, "the cluster's masters changed");
        }
        // Only nodes left: those that remain track every key.
        self.report_ready_if_all_up(&mut state);
    }

    /// `session` of `node` tracks: reports ready once every node does. `false` when the
    /// session was reported down already, or the node is no longer one of the nodes.
    pub(super) fn up(&self, node: &Arc<str>, session: u64) -> bool {
        let mut state = self.state.lock();
        let Some(entry) = state.nodes.get_mut(node) else {
            return false;
        };
        if entry.ended.is_some_and(|ended| ended >= session) {
            return false;
        }
        entry.up = Some(session);
        entry.loss_reported = false;
        self.report_ready_if_all_up(&mut state);
        true
    }

    fn report_ready_if_all_up(&self, state: &mut State) {
        let all_up = !state.nodes.is_empty() && state.nodes.values().all(|node| node.up.is_some());
        if all_up && !state.ready {
            state.ready = true;
            if let Some(sink) = self.sink() {
                sink.tracking_ready();
            }
            tracing::info!(target: crate::events::TARGET, nodes = state.nodes.len(), "near cache tracking is up: hits are served");
        }
    }

    /// `session` of `node` ended or failed: reports the loss at once, unless a later
    /// session took over or this outage was reported already.
    pub(super) fn down(&self, node: &Arc<str>, session: u64, loss: Loss<'_>) {
        let mut state = self.state.lock();
        let State {
            nodes,
            refusal_warned,
            ..
        } = &mut *state;
        let Some(entry) = nodes.get_mut(node) else {
            return;
        };
        if entry.up.is_some_and(|up| up != session) {
            return; // a stale report of an earlier session
        }
        let first = !entry.loss_reported;
        entry.up = None;
        entry.ended = entry.ended.max(Some(session));
        entry.loss_reported = true;
        match loss {
            Loss::Refusal(why) if !std::mem::replace(refusal_warned, true) => {
                tracing::warn!(target: crate::events::TARGET, node = %node, reason = %why,
                    "redis refused near cache tracking (it needs RESP3, Redis 6 or later, and \
                     an ACL user allowed `+client|tracking +ping`): the near cache is bypassed");
            }
            Loss::Refusal(why) | Loss::Failure(why) => {
                tracing::debug!(target: crate::events::TARGET, node = %node, reason = %why, "near cache tracking failed");
            }
        }
        if first || state.ready {
            let why = format!("tracking on {node} stopped");
            self.report_lost(&mut state, &why);
        }
    }

    /// A check of `node`'s connection was refused (an ACL without `+ping`): the reply
    /// proves the connection alive (a silent one still times out), so tracking goes on;
    /// warned about once.
    pub(super) fn check_refused(&self, node: &Arc<str>, why: &dyn Display) {
        let first = !std::mem::replace(&mut self.state.lock().check_refusal_warned, true);
        if first {
            tracing::warn!(target: crate::events::TARGET, node = %node, reason = %why,
                "redis refused the near cache's liveness check: its error reply proves the \
                 connection alive, so tracking goes on (allow `+ping`, and `+role` with \
                 Sentinel, where a demoted master is otherwise noticed when reads move)");
        } else {
            tracing::debug!(target: crate::events::TARGET, node = %node, reason = %why, "near cache tracking check refused");
        }
    }

    fn report_lost(&self, state: &mut State, why: &str) {
        let was_ready = std::mem::replace(&mut state.ready, false);
        if let Some(sink) = self.sink() {
            sink.tracking_lost();
        }
        if was_ready {
            tracing::warn!(target: crate::events::TARGET, reason = why, "near cache tracking is lost: the near cache is flushed and bypassed until it is back");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Transitions(Mutex<Vec<&'static str>>);

    impl Invalidations for Transitions {
        fn tracking_ready(&self) {
            self.0.lock().push("ready");
        }
        fn tracking_lost(&self) {
            self.0.lock().push("lost");
        }
        fn invalidate(&self, _: &[&[u8]]) {}
        fn invalidate_all(&self) {}
    }

    fn fixture() -> (Arc<Transitions>, Arc<Readiness>, Arc<str>, Arc<str>) {
        let transitions = Arc::new(Transitions::default());
        let sink: Arc<dyn Invalidations> = transitions.clone();
        let readiness = Readiness::new(&sink);
        let (a, b): (Arc<str>, Arc<str>) = ("a:1".into(), "b:2".into());
        readiness.set_nodes(&[Arc::clone(&a), Arc::clone(&b)]);
        (transitions, readiness, a, b)
    }

    #[test]
    fn ready_only_once_every_node_tracks_and_lost_as_soon_as_one_stops() {
        let (transitions, readiness, a, b) = fixture();
        let (sa, sb) = (readiness.session(), readiness.session());
        readiness.up(&a, sa);
        assert!(transitions.0.lock().is_empty(), "b does not track yet");
        readiness.up(&b, sb);
        readiness.down(&b, sb, Loss::Failure(&"gone"));
        readiness.down(&a, sa, Loss::Failure(&"gone"));
        assert_eq!(*transitions.0.lock(), ["ready", "lost", "lost"]);
    }

    #[test]
    fn a_failing_node_reports_once_per_outage_and_stale_sessions_are_ignored() {
        let (transitions, readiness, a, b) = fixture();
        let first = readiness.session();
        readiness.down(&a, first, Loss::Refusal(&"NOPERM"));
        readiness.down(&a, readiness.session(), Loss::Refusal(&"NOPERM"));
        assert_eq!(*transitions.0.lock(), ["lost"], "one report per outage");
        let (sa, sb) = (readiness.session(), readiness.session());
        readiness.up(&a, sa);
        readiness.up(&b, sb);
        readiness.down(
            &a,
            first,
            Loss::Failure(&"a late push of an old connection"),
        );
        assert_eq!(*transitions.0.lock(), ["lost", "ready"]);
    }

    #[test]
    fn a_session_reported_down_before_it_came_up_never_counts_as_up() {
        let (transitions, readiness, a, b) = fixture();
        readiness.up(&b, readiness.session());
        let closed = readiness.session();
        readiness.down(
            &a,
            closed,
            Loss::Failure(&"closed right after CLIENT TRACKING"),
        );
        assert!(!readiness.up(&a, closed));
        assert_eq!(*transitions.0.lock(), ["lost"], "never ready");
        assert!(
            readiness.up(&a, readiness.session()),
            "the next session may"
        );
    }

    #[test]
    fn a_change_of_the_nodes_is_a_loss_until_the_new_set_tracks() {
        let (transitions, readiness, a, b) = fixture();
        readiness.up(&a, readiness.session());
        readiness.up(&b, readiness.session());
        let c: Arc<str> = "c:3".into();
        readiness.set_nodes(&[Arc::clone(&a), Arc::clone(&c)]);
        readiness.set_nodes(&[Arc::clone(&a), Arc::clone(&c)]);
        readiness.up(&c, readiness.session());
        assert_eq!(*transitions.0.lock(), ["ready", "lost", "ready"]);
        readiness.set_nodes(&[Arc::clone(&c)]);
        assert_eq!(
            *transitions.0.lock(),
            ["ready", "lost", "ready", "lost", "ready"],
            "a node left: those that remain track every key"
        );
    }

    #[test]
    fn a_master_removed_while_ready_comes_back_ready() {
        let (transitions, readiness, a, b) = fixture();
        readiness.up(&a, readiness.session());
        readiness.up(&b, readiness.session());
        readiness.set_nodes(std::slice::from_ref(&a));
        assert_eq!(
            *transitions.0.lock(),
            ["ready", "lost", "ready"],
            "a scale-in: the remaining masters track every key, and nobody else will come up"
        );
    }

    #[test]
    fn a_node_that_never_came_up_removed_while_not_ready_makes_tracking_ready() {
        let (transitions, readiness, a, _b) = fixture();
        readiness.up(&a, readiness.session());
        readiness.set_nodes(std::slice::from_ref(&a));
        assert_eq!(*transitions.0.lock(), ["ready"]);
    }
}
