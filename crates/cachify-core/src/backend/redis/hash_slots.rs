//! Which cluster node serves each hash slot, so the circuit breaker can skip a hung node
//! as a whole: one timeout and one probe per node, not per slot.
//!
//! The map comes from `CLUSTER SLOTS`, asked in the background when the client is built,
//! when a route trips and when its probe is answered (a failover or a resharding moves
//! slots then). Until it is known, or for a slot it does not list, the breaker falls back
//! to the slot itself. Commands are still routed by redis-rs, which follows `MOVED` and
//! `ASK`; a map that lags behind a resharding only makes a trip cover the slots of the
//! node that served them before.

use std::sync::Arc;

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use redis::{RedisResult, Value};

/// The number of hash slots of a cluster.
const SLOTS: u16 = 16384;

/// The hash slot of `key`: CRC16 (XMODEM) of its hash tag, or of the whole key.
pub(crate) fn slot_of(key: &[u8]) -> u16 {
    crc16(hash_tag(key).unwrap_or(key)) % SLOTS
}

/// The part between the first `{` and the next `}`, when not empty.
fn hash_tag(key: &[u8]) -> Option<&[u8]> {
    let open = key.iter().position(|byte| *byte == b'{')?;
    let rest = &key[open + 1..];
    let close = rest.iter().position(|byte| *byte == b'}')?;
    (close > 0).then(|| &rest[..close])
}

fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0, |crc, byte| {
        (0..8).fold(crc ^ (u16::from(*byte) << 8), |crc, _| {
            if crc & 0x8000 == 0 {
                crc << 1
            } else {
                (crc << 1) ^ 0x1021
            }
        })
    })
}

/// The node serving each slot, as far as the last `CLUSTER SLOTS` said.
#[derive(Default)]
pub(crate) struct SlotOwners {
    /// Sorted ranges of slots, each with the index of its node in `nodes`.
    ranges: ArcSwap<Vec<SlotRange>>,
    /// Every node address seen (`host:port`): an index names a node for good, so a
    /// breaker route stays valid across refreshes.
    nodes: Mutex<Vec<Arc<str>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SlotRange {
    first: u16,
    last: u16,
    node: u32,
}

impl SlotOwners {
    /// The index of the node serving `slot`, if known.
    pub(crate) fn node_of(&self, slot: u16) -> Option<u32> {
        let ranges = self.ranges.load();
        let after = ranges.partition_point(|range| range.first <= slot);
        let range = ranges.get(after.checked_sub(1)?)?;
        (slot <= range.last).then_some(range.node)
    }

    /// Each node serving slots (its index and `host:port`), once; `None` when the last
    /// answer leaves some slot without a node.
    pub(crate) fn masters(&self) -> Option<Vec<(u32, Arc<str>)>> {
        let ranges = self.ranges.load();
        let mut next = 0;
        for range in ranges.iter() {
            if range.first > next {
                return None;
            }
            next = next.max(range.last.saturating_add(1));
        }
        if next < SLOTS {
            return None;
        }
        let mut masters: Vec<u32> = ranges.iter().map(|range| range.node).collect();
        masters.sort_unstable();
        masters.dedup();
        let nodes = self.nodes.lock();
        masters
            .into_iter()
            .map(|node| Some((node, Arc::clone(nodes.get(usize::try_from(node).ok()?)?))))
            .collect()
    }

    /// Asks `CLUSTER SLOTS` over `connection` and keeps the answer.
    pub(crate) async fn refresh<C>(&self, connection: &mut C) -> RedisResult<()>
    where
        C: redis::aio::ConnectionLike + Send,
    {
        let reply: Value = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query_async(connection)
            .await?;
        self.keep(&reply);
        Ok(())
    }

    /// Keeps the ranges of a `CLUSTER SLOTS` reply; entries it cannot read are left out.
    fn keep(&self, reply: &Value) {
        let Value::Array(entries) = reply else {
            return;
        };
        let mut ranges: Vec<SlotRange> = entries
            .iter()
            .filter_map(|entry| {
                let (first, last, address) = range_of(entry)?;
                Some(SlotRange {
                    first,
                    last,
                    node: self.index_of(&address),
                })
            })
            .collect();
        ranges.sort_by_key(|range| range.first);
        self.ranges.store(Arc::new(ranges));
    }

    fn index_of(&self, address: &str) -> u32 {
        let mut nodes = self.nodes.lock();
        let known = nodes.iter().position(|node| &**node == address);
        let index = known.unwrap_or_else(|| {
            nodes.push(address.into());
            nodes.len() - 1
        });
        // A cluster has at most a few thousand nodes.
        u32::try_from(index).unwrap_or(u32::MAX)
    }
}

/// `[first, last, [host, port, ...], replicas...]`: the range and its primary's address.
fn range_of(entry: &Value) -> Option<(u16, u16, String)> {
    let Value::Array(fields) = entry else {
        return None;
    };
    let [first, last, primary, ..] = fields.as_slice() else {
        return None;
    };
    let Value::Array(primary) = primary else {
        return None;
    };
    let [host, port, ..] = primary.as_slice() else {
        return None;
    };
    let first: u16 = redis::from_redis_value_ref(first).ok()?;
    let last: u16 = redis::from_redis_value_ref(last).ok()?;
    let host: String = redis::from_redis_value_ref(host).ok()?;
    let port: u16 = redis::from_redis_value_ref(port).ok()?;
    Some((first, last, format!("{host}:{port}")))
}

#[cfg(test)]
mod tests {
    use redis::cluster_routing::Slot;

    use super::*;

    #[test]
    fn slots_are_those_redis_computes() {
        for key in [
            "",
            "a",
            "k-0",
            "cachify:lock:job",
            "{user1}:x",
            "a{}b",
            "{}{x}",
            "x{y",
        ] {
            assert_eq!(
                Slot::new(slot_of(key.as_bytes())),
                Some(Slot::for_key(key)),
                "{key}"
            );
        }
        assert_eq!(slot_of(b"{user1}:a"), slot_of(b"{user1}:b"));
    }

    fn entry(first: i64, last: i64, port: i64) -> Value {
        Value::Array(vec![
            Value::Int(first),
            Value::Int(last),
            Value::Array(vec![
                Value::BulkString(b"127.0.0.1".to_vec()),
                Value::Int(port),
                Value::BulkString(b"id".to_vec()),
            ]),
        ])
    }

    #[test]
    fn each_slot_maps_to_the_node_of_its_range_and_indexes_survive_refreshes() {
        let owners = SlotOwners::default();
        assert_eq!(owners.node_of(0), None, "unknown before the first answer");
        owners.keep(&Value::Array(vec![
            entry(8192, 16383, 7001),
            entry(0, 8191, 7000),
        ]));
        let (low, high) = (owners.node_of(0), owners.node_of(16383));
        assert!(low.is_some() && high.is_some() && low != high);
        assert_eq!(owners.node_of(8191), low);
        assert_eq!(owners.node_of(8192), high);
        let masters = owners.masters().expect("every slot is served");
        assert_eq!(masters.len(), 2);
        assert!(masters
            .iter()
            .any(|(_, address)| &**address == "127.0.0.1:7001"));
        owners.keep(&Value::Array(vec![entry(0, 100, 7001)]));
        assert_eq!(owners.masters(), None, "slots 101.. have no node");
        assert_eq!(owners.node_of(0), high, "the same node keeps its index");
        assert_eq!(owners.node_of(101), None);
    }
}
