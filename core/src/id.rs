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
/// The ids are spread over [`BASE`] tables by bits of the hash. A table
/// grows by doubling: the insert that crosses a power of two rehashes
/// every id of its table, a pause inside one `apply` that grows with the
/// books (16 tables of sale ids: 1.3–1.8 ms around the 917,000th sale,
/// tens of milliseconds at 10M). So an index whose slots say so
/// ([`Slot::SPLITS`], the sale index) adds tables as it grows instead, by
/// linear hashing (Litwin, 1980): one more table each time the ids pass
/// [`SHARD_IDS`] a table on average, by splitting the next table in turn
/// in two on one more bit of the hash; once every table of a round is
/// split, the next round splits them again. Each table then holds between
/// about [`SHARD_IDS`] and 2 × [`SHARD_IDS`] ids, so a split, or a
/// table's own growth, moves a few thousand slots at most.
///
/// The slot type decides what a growth step reads: a `u32` slot keeps
/// only the index, so rehashing reads every id again (a cache miss or two
/// each, through its record or the arena); a [`Hashed`] slot (12 bytes)
/// keeps the id's hash too, so rehashing reads nothing outside the table
/// and a probe compares hashes before it reads an id. The member index,
/// kept per member and counted against the memory target, uses `u32`; the
/// sale index, beside a sale record of a kilobyte, uses [`Hashed`].
#[derive(Clone)]
pub(crate) struct DenseIndex<S: Slot = u32> {
    /// `BASE << round` tables before this round's splits, plus `split`.
    shards: Vec<hashbrown::HashTable<S>>,
    /// Completed rounds of splits.
    round: u32,
    /// Tables of this round split so far: tables `0..split` (and the
    /// tables they split into, `BASE << round` on) use one more bit.
    split: usize,
    len: usize,
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
    /// Whether the index splits its tables as it grows (linear hashing)
    /// rather than keeping [`BASE`] tables that double.
    const SPLITS: bool;
}

/// The member index: [`BASE`] tables that double. Splitting would move
/// each id about twice per doubling of the network instead of once (a
/// table grows on its own between splits), and each move of a `u32` slot
/// reads the id again: joins ran 6–15 % slower at 2M–10M members with it.
/// So a join that doubles a table still rehashes a 16th of the ids, each
/// read again (up to 62,500 at 1M members); sales never do.
impl Slot for u32 {
    const SPLITS: bool = false;

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

/// The sale index splits: its moves read nothing outside the table.
impl Slot for Hashed {
    const SPLITS: bool = true;

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

/// Tables a [`DenseIndex`] starts with (a power of two).
const BASE: usize = 16;
const _: () = assert!(BASE.is_power_of_two());

/// Ids a table of a [`DenseIndex`] holds on average before the index
/// splits one more. A table lives from about this many ids (just made by
/// a split) to twice as many (just before its own split), growing like any
/// hash table on the way; so a split or a table's own growth moves at most
/// about 4,096 slots (for `u32` slots each an id read: well under a
/// millisecond even when every read misses the cache). Tables made with
/// room for their whole life would never grow, but their buckets would sit
/// 44 % full on average: 3 B more a member at 10M members, against the
/// memory target.
const SHARD_IDS: usize = 2048;

impl<S: Slot> Default for DenseIndex<S> {
    fn default() -> Self {
        DenseIndex {
            // Empty tables allocate nothing.
            shards: (0..BASE).map(|_| hashbrown::HashTable::new()).collect(),
            round: 0,
            split: 0,
            len: 0,
            hasher: Default::default(),
        }
    }
}

impl<S: Slot> std::fmt::Debug for DenseIndex<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DenseIndex({} ids)", self.len)
    }
}

impl<S: Slot> DenseIndex<S> {
    /// The table of `hash`, from bits 40 and up: clear of the low bits
    /// hashbrown takes for the bucket. Up to 2^17 tables (about 268M
    /// ids) they are also clear of the top 7 bits it keeps as a tag;
    /// past that, the ids of one table share some tag bits, so a probe's
    /// tag filter passes more slots for a full comparison: slower, never
    /// wrong.
    fn shard(&self, hash: u64) -> usize {
        // `BASE << round` is a power of two: the remainders are masks.
        let bits = (hash >> 40) as usize;
        let tables = BASE << self.round;
        let shard = bits & (tables - 1);
        if shard < self.split {
            bits & (2 * tables - 1)
        } else {
            shard
        }
    }

    /// Splits the next table of this round in two, when the ids average
    /// more than [`SHARD_IDS`] a table.
    fn grow<'k>(&mut self, key: &impl Fn(u32) -> &'k str) {
        if !S::SPLITS || self.len <= self.shards.len() * SHARD_IDS {
            return;
        }
        let tables = BASE << self.round;
        let from = self.split;
        let old = std::mem::take(&mut self.shards[from]);
        self.shards.push(hashbrown::HashTable::new());
        self.split += 1;
        if self.split == tables {
            self.round += 1;
            self.split = 0;
        }
        let hasher = &self.hasher;
        let rehash = |slot: &S| {
            slot.hash()
                .unwrap_or_else(|| std::hash::BuildHasher::hash_one(hasher, key(slot.index())))
        };
        // Each half holds about half of `old`, and grows from there.
        let (stay, moved) = (from, from + tables);
        self.shards[stay].reserve(old.len() / 2 + old.len() / 8, rehash);
        self.shards[moved].reserve(old.len() / 2 + old.len() / 8, rehash);
        for slot in old {
            let hash = rehash(&slot);
            let to = if (hash >> 40) as usize & (2 * tables - 1) == from {
                stay
            } else {
                moved
            };
            self.shards[to].insert_unique(hash, slot, rehash);
        }
    }

    /// The index whose id (`key(index)`) is `id`.
    pub(crate) fn get<'k>(&self, id: &str, key: impl Fn(u32) -> &'k str) -> Option<u32> {
        use std::hash::BuildHasher;
        let hash = self.hasher.hash_one(id);
        self.shards[self.shard(hash)]
            .find(hash, |slot| {
                slot.hash().is_none_or(|h| h == hash) && key(slot.index()) == id
            })
            .map(Slot::index)
    }

    /// Adds `index`, whose id `key(index)` must not be present yet.
    pub(crate) fn insert<'k>(&mut self, index: u32, key: impl Fn(u32) -> &'k str) {
        use std::hash::BuildHasher;
        self.len += 1;
        self.grow(&key);
        let hasher = &self.hasher;
        let hash = hasher.hash_one(key(index));
        let shard = self.shard(hash);
        self.shards[shard].insert_unique(hash, S::new(index, hash), |slot| {
            slot.hash()
                .unwrap_or_else(|| hasher.hash_one(key(slot.index())))
        });
    }

    /// An index of `0..len`, with the tables it would have split into by
    /// then made at once (no split, no table growth while it fills).
    pub(crate) fn build<'k>(len: usize, key: impl Fn(u32) -> &'k str) -> Self {
        let mut index: DenseIndex<S> = DenseIndex::default();
        let tables = if S::SPLITS {
            len.div_ceil(SHARD_IDS).max(BASE)
        } else {
            BASE
        };
        while (BASE << (index.round + 1)) <= tables {
            index.round += 1;
        }
        index.split = tables - (BASE << index.round);
        index.shards = (0..tables).map(|_| hashbrown::HashTable::new()).collect();
        // The hash space is in `2 × (BASE << round)` equal parts: a table
        // split this round (or made by a split) covers one, a table of
        // this round not split yet two.
        let (low, high) = (index.split, BASE << index.round);
        let share = len / (2 * high) + 1;
        for (i, shard) in index.shards.iter_mut().enumerate() {
            let parts = if (low..high).contains(&i) { 2 } else { 1 };
            shard.reserve(parts * share + parts * share / 8, |_| 0);
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
        let ids: Vec<String> = (0..100_000).map(|i| format!("m{i}")).collect();
        let mut index: DenseIndex = DenseIndex::default();
        for i in 0..ids.len() as u32 {
            index.insert(i, |j| &ids[j as usize]);
        }
        let built: DenseIndex = DenseIndex::build(ids.len(), |j| &ids[j as usize]);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(index.get(id, |j| &ids[j as usize]), Some(i as u32));
            assert_eq!(built.get(id, |j| &ids[j as usize]), Some(i as u32));
        }
        assert_eq!(index.get("m100000", |j| &ids[j as usize]), None);
        // The member index keeps its 16 tables, evenly filled.
        assert_eq!((index.shards.len(), built.shards.len()), (BASE, BASE));
        let most = index.shards.iter().map(|s| s.len()).max().unwrap();
        assert!(most < 2 * ids.len() / BASE, "{most}");
        assert_eq!(format!("{index:?}"), "DenseIndex(100000 ids)");
        // Keeping the hashes finds the same indexes, through every growth
        // step (rehashed from the kept hashes, no id read).
        let mut hashed: DenseIndex<Hashed> = DenseIndex::default();
        for i in 0..ids.len() as u32 {
            hashed.insert(i, |j| &ids[j as usize]);
        }
        let hashed_built: DenseIndex<Hashed> = DenseIndex::build(ids.len(), |j| &ids[j as usize]);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(hashed.get(id, |j| &ids[j as usize]), Some(i as u32));
            assert_eq!(hashed_built.get(id, |j| &ids[j as usize]), Some(i as u32));
        }
        assert_eq!(hashed.get("m100000", |j| &ids[j as usize]), None);
        // The sale index splits: 100,000 ids make 49 tables, through a
        // whole round (16 → 32) and part of the next, grown one id at a
        // time or built at once alike.
        for table in [&hashed, &hashed_built] {
            assert_eq!((table.shards.len(), table.round, table.split), (49, 1, 17));
            // No table holds more than about two tables' share, nor grows
            // past 8,192 buckets (7,168 ids): a split or a growth step
            // moves a few thousand slots at most, at any size.
            let most = table.shards.iter().map(|s| s.len()).max().unwrap();
            assert!(most < 3 * SHARD_IDS, "{most}");
            let largest = table.shards.iter().map(|s| s.capacity()).max().unwrap();
            assert!(largest <= 7168, "{largest}");
        }
    }
}
