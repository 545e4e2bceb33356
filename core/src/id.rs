//! Host ids: the strings that name members, sales, refunds, batches and
//! payouts. Valid ids are 1–128 bytes of UTF-8 with no control characters.

use crate::error::{Error, ErrorKind, Result};
use crate::limits::MAX_ID_BYTES;

/// Checks a host id and names `field` in the error.
///
/// ```
/// assert!(upline::check_id("m-1", "member").is_ok());
/// assert_eq!(upline::check_id("", "member").unwrap_err().code(), "invalid_id");
/// assert_eq!(upline::check_id("a\tb", "member").unwrap_err().code(), "invalid_id");
/// ```
pub fn check_id(id: &str, field: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidId,
            field,
            format!("{field} is empty"),
        ));
    }
    if id.len() > MAX_ID_BYTES {
        return Err(Error::new(
            ErrorKind::InvalidId,
            field,
            format!(
                "{field} is {} bytes long; the limit is {MAX_ID_BYTES}",
                id.len()
            ),
        ));
    }
    if let Some(c) = id.chars().find(|c| c.is_control()) {
        return Err(Error::new(
            ErrorKind::InvalidId,
            field,
            format!("{field} {id:?} contains the control character {:?}", c),
        ));
    }
    Ok(())
}

/// Checks free text (reasons, references): at most
/// [`MAX_TEXT_BYTES`](crate::limits::MAX_TEXT_BYTES) bytes.
pub(crate) fn check_text(text: &str, field: &str) -> Result<()> {
    if text.len() > crate::limits::MAX_TEXT_BYTES {
        return Err(Error::new(
            ErrorKind::LimitExceeded,
            field,
            format!(
                "{field} is {} bytes long; the limit is {}",
                text.len(),
                crate::limits::MAX_TEXT_BYTES
            ),
        ));
    }
    Ok(())
}

/// The hash map for ids and dense indexes: foldhash, seeded per process
/// (so hosts cannot precompute colliding ids), several times faster than
/// SipHash on short keys. Iteration order is never relied on.
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Host id → dense index, storing only the `u32` index: a lookup hashes
/// the id and compares it with the id the index stands for (`key`). About
/// 5 bytes a slot where a map keyed by `Arc<str>` costs 24, and no
/// reference count to touch on insert.
#[derive(Clone, Default)]
pub(crate) struct DenseIndex {
    table: hashbrown::HashTable<u32>,
    hasher: foldhash::fast::RandomState,
}

impl std::fmt::Debug for DenseIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DenseIndex({} ids)", self.table.len())
    }
}

impl DenseIndex {
    /// The index whose id (`key(index)`) is `id`.
    pub(crate) fn get<'k>(&self, id: &str, key: impl Fn(u32) -> &'k str) -> Option<u32> {
        use std::hash::BuildHasher;
        let hash = self.hasher.hash_one(id);
        self.table.find(hash, |&i| key(i) == id).copied()
    }

    /// Adds `index`, whose id `key(index)` must not be present yet.
    pub(crate) fn insert<'k>(&mut self, index: u32, key: impl Fn(u32) -> &'k str) {
        use std::hash::BuildHasher;
        let hasher = &self.hasher;
        let hash = hasher.hash_one(key(index));
        self.table
            .insert_unique(hash, index, |&i| hasher.hash_one(key(i)));
    }

    /// An index of `0..len`.
    pub(crate) fn build<'k>(len: usize, key: impl Fn(u32) -> &'k str) -> DenseIndex {
        let mut index = DenseIndex {
            table: hashbrown::HashTable::with_capacity(len),
            hasher: Default::default(),
        };
        for i in 0..len {
            index.insert(i as u32, &key);
        }
        index
    }
}
