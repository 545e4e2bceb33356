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

/// Writes a hash map in key order (`#[serde(serialize_with = "sorted")]`),
/// so a snapshot is the same bytes for the same state whatever the
/// process's hash seed and whatever order the map was filled in (a map
/// restored from a snapshot iterates in another order than the live one):
/// read back as any map.
pub(crate) fn sorted<K, V, H, S>(
    map: &std::collections::HashMap<K, V, H>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error>
where
    K: Ord + serde::Serialize,
    V: serde::Serialize,
    S: serde::Serializer,
{
    let mut entries: Vec<(&K, &V)> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    serializer.collect_map(entries)
}

/// Host id → dense index, storing only the `u32` index: a lookup hashes
/// the id and compares it with the id the index stands for (`key`). About
/// 5 bytes a slot where a map keyed by `Arc<str>` costs 24, and no
/// reference count to touch on insert.
///
/// The table is split in [`SHARDS`] tables by 4 bits of the hash, so a
/// growth step rehashes one 16th of the ids: a single `apply` that makes
/// the index grow no longer stops for a rehash of every id (about 11 ms at
/// 200k sales, a second at 10M members, with each id read through its
/// record or the arena). More shards cut the pause further but grow one
/// table or another so often (every shard doubles on its own) that the
/// small rehashes reach the p99 and p99.9 of `apply`: 256 shards gave
/// p99.9 47 µs against 30 µs with 16, at 1M members.
///
/// The slot type decides what a growth step reads: a `u32` slot keeps
/// only the index, so rehashing reads every id again (a cache miss or two
/// each, through its record); a [`Hashed`] slot (13 bytes) keeps the id's
/// hash too, so rehashing reads nothing outside the table and a probe
/// compares hashes before it reads an id. The member index, kept per
/// member and counted against the memory target, uses `u32`; the sale
/// index, beside a sale record of a kilobyte, uses [`Hashed`].
#[derive(Clone)]
pub(crate) struct DenseIndex<S: Slot = u32> {
    shards: Box<[hashbrown::HashTable<S>]>,
    hasher: foldhash::fast::RandomState,
}

/// What a [`DenseIndex`] keeps per id.
pub(crate) trait Slot: Copy {
    /// The slot of `index`, whose id hashes to `hash`.
    fn new(index: u32, hash: u64) -> Self;
    /// The dense index.
    fn index(&self) -> u32;
    /// The id's hash, when the slot keeps it.
    fn hash(&self) -> Option<u64>;
}

impl Slot for u32 {
    fn new(index: u32, _hash: u64) -> Self {
        index
    }

    fn index(&self) -> u32 {
        *self
    }

    fn hash(&self) -> Option<u64> {
        None
    }
}

/// A slot that keeps the id's hash beside its index (12 bytes, 4-aligned).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hashed([u32; 3]);

impl Slot for Hashed {
    fn new(index: u32, hash: u64) -> Self {
        Hashed([index, hash as u32, (hash >> 32) as u32])
    }

    fn index(&self) -> u32 {
        self.0[0]
    }

    fn hash(&self) -> Option<u64> {
        Some(u64::from(self.0[2]) << 32 | u64::from(self.0[1]))
    }
}

/// Tables of a [`DenseIndex`].
const SHARDS: usize = 16;

impl<S: Slot> Default for DenseIndex<S> {
    fn default() -> Self {
        DenseIndex {
            // Empty tables allocate nothing.
            shards: (0..SHARDS).map(|_| hashbrown::HashTable::new()).collect(),
            hasher: Default::default(),
        }
    }
}

impl<S: Slot> std::fmt::Debug for DenseIndex<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len: usize = self.shards.iter().map(|s| s.len()).sum();
        write!(f, "DenseIndex({len} ids)")
    }
}

impl<S: Slot> DenseIndex<S> {
    /// The shard of `hash`: bits 40..44, clear of the low bits hashbrown
    /// takes for the bucket and of the top 7 it keeps as a tag.
    fn shard(hash: u64) -> usize {
        (hash >> 40) as usize % SHARDS
    }

    /// The index whose id (`key(index)`) is `id`.
    pub(crate) fn get<'k>(&self, id: &str, key: impl Fn(u32) -> &'k str) -> Option<u32> {
        use std::hash::BuildHasher;
        let hash = self.hasher.hash_one(id);
        self.shards[Self::shard(hash)]
            .find(hash, |slot| {
                slot.hash().is_none_or(|h| h == hash) && key(slot.index()) == id
            })
            .map(Slot::index)
    }

    /// Adds `index`, whose id `key(index)` must not be present yet.
    pub(crate) fn insert<'k>(&mut self, index: u32, key: impl Fn(u32) -> &'k str) {
        use std::hash::BuildHasher;
        let hasher = &self.hasher;
        let hash = hasher.hash_one(key(index));
        self.shards[Self::shard(hash)].insert_unique(hash, S::new(index, hash), |slot| {
            slot.hash()
                .unwrap_or_else(|| hasher.hash_one(key(slot.index())))
        });
    }

    /// An index of `0..len`.
    pub(crate) fn build<'k>(len: usize, key: impl Fn(u32) -> &'k str) -> Self {
        let mut index = DenseIndex::default();
        for shard in index.shards.iter_mut() {
            shard.reserve(len / SHARDS + len / (4 * SHARDS), |_| 0);
        }
        for i in 0..len {
            index.insert(i as u32, &key);
        }
        index
    }
}

/// A host id as it appears in records (cheap to clone).
pub type Id = std::sync::Arc<str>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_index_finds_every_id_across_shards() {
        let ids: Vec<String> = (0..20_000).map(|i| format!("m{i}")).collect();
        let mut index: DenseIndex = DenseIndex::default();
        for i in 0..ids.len() as u32 {
            index.insert(i, |j| &ids[j as usize]);
        }
        let built: DenseIndex = DenseIndex::build(ids.len(), |j| &ids[j as usize]);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(index.get(id, |j| &ids[j as usize]), Some(i as u32));
            assert_eq!(built.get(id, |j| &ids[j as usize]), Some(i as u32));
        }
        assert_eq!(index.get("m20000", |j| &ids[j as usize]), None);
        // The ids spread over the shards (none holds twice its share).
        let most = index.shards.iter().map(|s| s.len()).max().unwrap();
        assert!(most < 2 * ids.len() / SHARDS, "{most}");
        assert_eq!(format!("{index:?}"), "DenseIndex(20000 ids)");
        // Keeping the hashes finds the same indexes, through every growth
        // step (rehashed from the kept hashes, no id read).
        let mut hashed: DenseIndex<Hashed> = DenseIndex::default();
        for i in 0..ids.len() as u32 {
            hashed.insert(i, |j| &ids[j as usize]);
        }
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(hashed.get(id, |j| &ids[j as usize]), Some(i as u32));
        }
        assert_eq!(hashed.get("m20000", |j| &ids[j as usize]), None);
    }
}
