//! How an instance lays out its keys and values in the store: cachify's own layout, or
//! py-cachify 3.1's, so that Python and Rust processes on one Redis share them.

use crate::codec::Format;

/// py-cachify's default prefix, which `Layout::PyCachify` takes when no prefix is given.
#[cfg(feature = "py-cachify")]
pub(crate) const PY_CACHIFY_PREFIX: &str = "PYC-";

/// How an instance names its keys and encodes its values.
///
/// [`Layout::Cachify`] (the default) keeps locks and pools in namespaces of their own
/// (`{prefix}lock:{key}`, `{prefix}pool:{key}`) and stores versioned MessagePack.
/// `Layout::PyCachify` (cargo feature `py-cachify`) writes what py-cachify 3.1 writes, so
/// that a Python fleet and a Rust one share one Redis while a service is ported: keys
/// `{prefix}{key}-{cached|lock|once|pool}` from the attributes, `{prefix}{key}` from the
/// [`Lock`](crate::Lock) and [`Pool`](crate::Pool) handles (py-cachify's `lock(key)` and
/// `pool(key)`), values as pickle, pools as py-cachify's `PoolState` under its meta-lock.
///
/// # Examples
///
/// ```
/// # use cachify_core as cachify;
/// use cachify::instance::Layout;
///
/// let rust_only = cachify::Cachify::builder().prefix("APP-").build();
/// assert_eq!(rust_only.layout(), Layout::Cachify);
/// assert_eq!(rust_only.lock_key("job"), "APP-lock:job");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Layout {
    /// cachify's own keys and versioned MessagePack values.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// let cachify = cachify::Cachify::builder().build();
    /// assert_eq!(cachify.layout(), cachify::instance::Layout::Cachify);
    /// ```
    #[default]
    Cachify,
    /// py-cachify 3.1's keys, pickled values, lock values and pool state.
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use cachify::instance::Layout;
    ///
    /// // Without a prefix, py-cachify's default one: `PYC-`.
    /// let shared = cachify::Cachify::builder().layout(Layout::PyCachify).build();
    /// assert_eq!(shared.cache_key("sum-1-2"), "PYC-sum-1-2-cached");
    /// assert_eq!(shared.lock_key("job"), "PYC-job", "py-cachify's `lock('job')`");
    /// ```
    #[cfg(feature = "py-cachify")]
    PyCachify,
}

/// Which attribute a key is rendered for: py-cachify appends its name to the key
/// (`-cached`, `-lock`, `-once`, `-pool`).
///
/// ```
/// # use cachify_core as cachify;
/// use cachify::instance::{Layout, Operation};
/// assert_eq!(Layout::Cachify.attribute_key(Operation::Once, "job".into()), "job");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `#[cached]`.
    Cached,
    /// `#[lock]`.
    Lock,
    /// `#[once]`.
    Once,
    /// `#[pooled]`.
    Pool,
}

impl Operation {
    /// py-cachify's `OperationPostfix`.
    #[cfg(feature = "py-cachify")]
    pub(super) fn postfix(self) -> &'static str {
        match self {
            Operation::Cached => "-cached",
            Operation::Lock => "-lock",
            Operation::Once => "-once",
            Operation::Pool => "-pool",
        }
    }
}

impl Layout {
    /// The key an attribute uses for the key its template rendered (before the prefix).
    ///
    /// ```
    /// # use cachify_core as cachify;
    /// use cachify::instance::{Layout, Operation};
    /// assert_eq!(Layout::Cachify.attribute_key(Operation::Lock, "job".into()), "job");
    /// ```
    pub fn attribute_key(self, operation: Operation, mut key: String) -> String {
        self.push_postfix(operation, &mut key);
        key
    }

    /// Appends what [`attribute_key`](Self::attribute_key) appends, in place.
    pub(crate) fn push_postfix(self, operation: Operation, key: &mut String) {
        match self {
            Layout::Cachify => {
                let _ = (operation, key);
            }
            #[cfg(feature = "py-cachify")]
            Layout::PyCachify => key.push_str(operation.postfix()),
        }
    }

    /// What comes between the prefix and the key of a lock or a pool handle.
    pub(crate) fn namespace(self, operation: Operation) -> &'static str {
        match (self, operation) {
            (Layout::Cachify, Operation::Pool) => "pool:",
            (Layout::Cachify, Operation::Lock | Operation::Once) => "lock:",
            (Layout::Cachify, Operation::Cached) => "",
            #[cfg(feature = "py-cachify")]
            (Layout::PyCachify, _) => "",
        }
    }

    /// How cached values are encoded.
    pub(crate) fn format(self) -> Format {
        match self {
            Layout::Cachify => Format::MessagePack,
            #[cfg(feature = "py-cachify")]
            Layout::PyCachify => Format::Pickle,
        }
    }

    /// A fresh lock value, unique to one acquisition (releases compare against it).
    ///
    /// py-cachify reads a lock's value to answer `is_locked`, and unpickles it: so under
    /// its layout the token is a pickle too, of a string, in protocol 0, which is ASCII
    /// (`V{uuid}\n.`), so it stays a valid `str` token for every backend.
    pub(crate) fn lock_token(self) -> String {
        let uuid = uuid::Uuid::new_v4().simple();
        match self {
            Layout::Cachify => uuid.to_string(),
            #[cfg(feature = "py-cachify")]
            Layout::PyCachify => format!("V{uuid}\n."),
        }
    }
}

#[cfg(all(test, feature = "py-cachify"))]
mod tests {
    use super::*;

    #[test]
    fn the_py_layout_defaults_to_py_cachify_s_prefix_and_keeps_a_given_one() {
        let build = |builder: crate::instance::CachifyBuilder| {
            builder
                .layout(Layout::PyCachify)
                .build()
                .prefix()
                .to_owned()
        };
        assert_eq!(build(crate::Cachify::builder()), PY_CACHIFY_PREFIX);
        assert_eq!(build(crate::Cachify::builder().prefix("APP-")), "APP-");
        assert_eq!(
            build(crate::Cachify::builder().prefix("CACHIFY-")),
            "CACHIFY-"
        );
        let rust_only = crate::Cachify::builder().build();
        assert_eq!(rust_only.prefix(), crate::instance::DEFAULT_PREFIX);
    }
}
