//! Decoded values kept beside the bytes they were decoded from.
//!
//! A store entry of a cached value (in the memory backend, and in a near cache) has a
//! slot that the first typed read fills with the decoded value; later reads of the same
//! type clone it instead of decoding the bytes again. The slot belongs to the entry, and
//! entries are replaced, never changed, on every write: a decoded value can never
//! outlive the bytes it came from.

use std::any::Any;
use std::sync::OnceLock;

/// A decoded value, of whatever type the function that read it returns.
pub(crate) type Decoded = Box<dyn Any + Send + Sync>;

/// The decoded value of one entry, filled by its first typed read.
pub(crate) type DecodedSlot = OnceLock<Decoded>;
