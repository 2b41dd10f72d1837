//! A walk over a pickle's opcodes that bounds what decoding it would build, before the
//! decoder builds it.
//!
//! The decoder copies a memoized object at every reference to it (`GET`), and recurses
//! into nested values: 200 bytes of pickle can ask for 2^30 copies of a list, and deep
//! nesting for more stack than a thread has. The walk replays the pickle machine's stack
//! with one node per object (a reference pushes the node it refers to, not a copy),
//! then sizes each node once, children first, without recursion: what the decoder
//! would build, in bytes and depth, without building it.

use std::collections::HashMap;

use super::PickleError;

/// The deepest nesting decoded.
const MAX_DEPTH: u32 = 128;
/// The most a decoded value may weigh whatever the pickle's size (a node counts one, a
/// string or bytes its length).
const MIN_WEIGHT_LIMIT: u64 = 64 << 20;
/// The most a decoded value may weigh per byte of pickle, for large pickles.
const WEIGHT_PER_BYTE: u64 = 8;

/// Refuses a pickle that would decode into more than the limits allow.
pub(super) fn check(bytes: &[u8]) -> Result<(), PickleError> {
    let limit = (bytes.len() as u64)
        .saturating_mul(WEIGHT_PER_BYTE)
        .max(MIN_WEIGHT_LIMIT);
    Machine::default().run(bytes)?.check(limit)
}

/// One object the pickle builds: its own weight and the objects it holds.
#[derive(Debug)]
struct Node {
    weight: u64,
    children: Vec<usize>,
}

#[derive(Debug, Clone, Copy)]
enum Item {
    Mark,
    Object(usize),
}

#[derive(Debug, Default)]
struct Machine {
    nodes: Vec<Node>,
    stack: Vec<Item>,
    memo: HashMap<u64, usize>,
}

fn malformed(what: &str) -> PickleError {
    PickleError::new(format!("refused before decoding: {what}"))
}

/// Reads the opcodes' arguments.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: u64) -> Result<&'a [u8], PickleError> {
        let n = usize::try_from(n).map_err(|_| malformed("a length beyond memory"))?;
        if n > self.bytes.len() {
            return Err(malformed("truncated"));
        }
        let (taken, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(taken)
    }

    fn uint(&mut self, width: u64) -> Result<u64, PickleError> {
        let taken = self.take(width)?;
        Ok(taken
            .iter()
            .rev()
            .fold(0, |acc, byte| (acc << 8) | u64::from(*byte)))
    }

    fn line(&mut self) -> Result<&'a [u8], PickleError> {
        let end = self.bytes.iter().position(|b| *b == b'\n');
        let line = self.take(end.ok_or_else(|| malformed("truncated"))? as u64)?;
        self.take(1)?;
        Ok(line)
    }

    /// A length-prefixed payload (`width` bytes of little-endian length).
    fn counted(&mut self, width: u64) -> Result<&'a [u8], PickleError> {
        let len = self.uint(width)?;
        self.take(len)
    }
}

impl Machine {
    fn run(mut self, bytes: &[u8]) -> Result<Self, PickleError> {
        let mut reader = Reader { bytes };
        loop {
            let opcode = reader.take(1)?[0];
            match opcode {
                b'.' => return Ok(self),
                // PROTO, FRAME: no object.
                0x80 => drop(reader.take(1)?),
                0x95 => drop(reader.take(8)?),
                b'(' => self.stack.push(Item::Mark),
                b'0' => drop(self.pop()?),
                b'1' => drop(self.pop_mark()?),
                b'2' => {
                    let top = self.top()?;
                    self.stack.push(Item::Object(top));
                }
                // Scalars and strings, by how their argument is written.
                b'N' | 0x88 | 0x89 | b')' | b']' | b'}' | 0x8f | 0x97 => self.leaf(1),
                b'K' | 0x82 => drop(self.leaf_of(reader.take(1)?)),
                b'M' | 0x83 => drop(self.leaf_of(reader.take(2)?)),
                b'J' | 0x84 => drop(self.leaf_of(reader.take(4)?)),
                b'G' => drop(self.leaf_of(reader.take(8)?)),
                b'F' | b'I' | b'L' | b'S' | b'V' | b'P' => drop(self.leaf_of(reader.line()?)),
                b'U' | b'C' | 0x8c | 0x8a => drop(self.leaf_of(reader.counted(1)?)),
                b'T' | b'X' | b'B' | 0x8b => drop(self.leaf_of(reader.counted(4)?)),
                0x8d | 0x8e | 0x96 => drop(self.leaf_of(reader.counted(8)?)),
                b'c' => {
                    let (module, name) = (reader.line()?, reader.line()?);
                    self.leaf((module.len() + name.len()) as u64);
                }
                0x98 => drop(self.top()?),
                // Containers and calls: a new object holding what they consume.
                b'l' | b't' | b'd' | 0x91 | b'o' => {
                    let items = self.pop_mark()?;
                    self.branch(items);
                }
                b'i' => {
                    let (module, name) = (reader.line()?, reader.line()?);
                    let mut items = self.pop_mark()?;
                    items.push(self.node((module.len() + name.len()) as u64, Vec::new()));
                    self.branch(items);
                }
                0x85 => self.pop_into_new(1)?,
                0x86 | b'R' | 0x81 | 0x93 => self.pop_into_new(2)?,
                0x87 | 0x92 => self.pop_into_new(3)?,
                b'Q' => self.pop_into_new(1)?,
                // Additions to the object below.
                b'a' | b'b' => {
                    let item = self.pop()?;
                    self.add_to_top(vec![item])?;
                }
                b's' => {
                    let (value, key) = (self.pop()?, self.pop()?);
                    self.add_to_top(vec![key, value])?;
                }
                b'e' | b'u' | 0x90 => {
                    let items = self.pop_mark()?;
                    self.add_to_top(items)?;
                }
                // The memo: a reference pushes the object itself, not a copy.
                b'p' => {
                    let index = parse_line_index(reader.line()?)?;
                    self.memoize(index)?;
                }
                b'q' => self.memoize(reader.uint(1)?)?,
                b'r' => self.memoize(reader.uint(4)?)?,
                0x94 => self.memoize(self.memo.len() as u64)?,
                b'g' => {
                    let index = parse_line_index(reader.line()?)?;
                    self.recall(index)?;
                }
                b'h' => self.recall(reader.uint(1)?)?,
                b'j' => self.recall(reader.uint(4)?)?,
                _ => return Err(malformed("an unknown opcode")),
            }
        }
    }

    /// A new object, not on the stack.
    fn node(&mut self, weight: u64, children: Vec<usize>) -> usize {
        self.nodes.push(Node { weight, children });
        self.nodes.len() - 1
    }

    fn leaf(&mut self, weight: u64) {
        let node = self.node(weight, Vec::new());
        self.stack.push(Item::Object(node));
    }

    /// A leaf for a payload; its node.
    fn leaf_of(&mut self, payload: &[u8]) -> usize {
        self.leaf(payload.len() as u64 + 1);
        self.nodes.len() - 1
    }

    fn branch(&mut self, children: Vec<usize>) {
        let node = self.node(1, children);
        self.stack.push(Item::Object(node));
    }

    fn pop(&mut self) -> Result<usize, PickleError> {
        match self.stack.pop() {
            Some(Item::Object(node)) => Ok(node),
            _ => Err(malformed("a stack underflow")),
        }
    }

    fn top(&self) -> Result<usize, PickleError> {
        match self.stack.last() {
            Some(Item::Object(node)) => Ok(*node),
            _ => Err(malformed("a stack underflow")),
        }
    }

    fn pop_mark(&mut self) -> Result<Vec<usize>, PickleError> {
        let mark = self
            .stack
            .iter()
            .rposition(|item| matches!(item, Item::Mark))
            .ok_or_else(|| malformed("a missing mark"))?;
        let items = self.stack.split_off(mark + 1);
        self.stack.pop();
        Ok(items
            .into_iter()
            .filter_map(|item| match item {
                Item::Object(node) => Some(node),
                Item::Mark => None,
            })
            .collect())
    }

    fn pop_into_new(&mut self, n: usize) -> Result<(), PickleError> {
        let items = (0..n).map(|_| self.pop()).collect::<Result<_, _>>()?;
        self.branch(items);
        Ok(())
    }

    fn add_to_top(&mut self, items: Vec<usize>) -> Result<(), PickleError> {
        let top = self.top()?;
        self.nodes[top].children.extend(items);
        Ok(())
    }

    fn memoize(&mut self, index: u64) -> Result<(), PickleError> {
        let top = self.top()?;
        self.memo.insert(index, top);
        Ok(())
    }

    fn recall(&mut self, index: u64) -> Result<(), PickleError> {
        let node = *self
            .memo
            .get(&index)
            .ok_or_else(|| malformed("a reference to nothing"))?;
        self.stack.push(Item::Object(node));
        Ok(())
    }

    /// Sizes every node, children first, iteratively; refuses a cycle (which the
    /// decoder cannot build either), a node deeper than [`MAX_DEPTH`] or heavier than
    /// `limit`.
    fn check(&self, limit: u64) -> Result<(), PickleError> {
        // Per node: `None` while unvisited or in progress, then its (weight, depth).
        let mut sized: Vec<Option<(u64, u32)>> = vec![None; self.nodes.len()];
        let mut entered = vec![false; self.nodes.len()];
        for root in 0..self.nodes.len() {
            let mut pending = vec![root];
            while let Some(&node) = pending.last() {
                if sized[node].is_some() {
                    pending.pop();
                    continue;
                }
                let children = &self.nodes[node].children;
                if !entered[node] {
                    entered[node] = true;
                    pending.extend(children.iter().filter(|child| sized[**child].is_none()));
                    continue;
                }
                let mut weight = self.nodes[node].weight;
                let mut depth = 0;
                for child in children {
                    let (child_weight, child_depth) =
                        sized[*child].ok_or_else(|| malformed("an object that holds itself"))?;
                    weight = weight.saturating_add(child_weight);
                    depth = depth.max(child_depth);
                }
                let depth = depth + 1;
                if depth > MAX_DEPTH {
                    return Err(malformed("nesting deeper than 128"));
                }
                if weight > limit {
                    return Err(malformed("a value far larger than its pickle"));
                }
                sized[node] = Some((weight, depth));
                pending.pop();
            }
        }
        Ok(())
    }
}

fn parse_line_index(line: &[u8]) -> Result<u64, PickleError> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|line| line.trim().parse().ok())
        .ok_or_else(|| malformed("a memo index that is not a number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `a = [1]`, then `n` times `a = [a, a]`, pickled: 2^n copies of `[1]` decoded.
    fn doubling(n: usize) -> Vec<u8> {
        let mut pickle = b"\x80\x04]\x94K\x01a".to_vec();
        for level in 0..n as u8 {
            // Memo `level` is `a`: pop it, push `[a, a]` as memo `level + 1`.
            pickle.extend(b"0]\x94(h");
            pickle.extend([level, b'h', level, b'e']);
        }
        pickle.push(b'.');
        pickle
    }

    #[test]
    fn shared_references_that_multiply_are_refused() {
        assert!(check(&doubling(4)).is_ok(), "16 copies are fine");
        let bomb = doubling(30);
        assert!(bomb.len() < 300, "{} bytes", bomb.len());
        assert!(check(&bomb).is_err());
        assert!(super::super::decode::<serde_pickle::Value>(&bomb).is_err());
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_refused() {
        let nested = |depth: usize| {
            [
                &b"\x80\x03"[..],
                &b"]".repeat(depth),
                &b"a".repeat(depth - 1),
                b".",
            ]
            .concat()
        };
        assert!(check(&nested(100)).is_ok());
        assert!(check(&nested(100_000)).is_err());
        assert!(super::super::decode::<serde_pickle::Value>(&nested(100_000)).is_err());
    }

    #[test]
    fn what_python_writes_passes() {
        // `pickle.dumps({'a': [1, 2.5, 'x', b'y', None, True], 'b': ('t', 1 << 40)})`.
        let from_python = b"\x80\x04\x954\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01a\x94]\x94(K\x01G@\x04\x00\x00\x00\x00\x00\x00\x8c\x01x\x94C\x01y\x94N\x88e\x8c\x01b\x94\x8c\x01t\x94\x8a\x06\x00\x00\x00\x00\x00\x01\x86\x94u.";
        check(from_python).unwrap();
        assert!(check(b"\x80\x04K\x01").is_err(), "truncated");
    }
}
