//! [`Chunked`]: a growable array kept in fixed-size chunks.
//!
//! The engine's per-member and per-event arrays grow by one element a join
//! or an event, for the life of the engine. In a `Vec` that costs up to
//! twice the memory it uses (the doubled capacity) and, at every growth
//! step, a copy of the whole array: at 10M members a 300 MiB `memcpy`
//! inside one `apply`. A `Chunked` array allocates chunks of [`CHUNK`]
//! elements instead: at most one chunk is partly empty, and nothing is
//! ever copied. The first chunk grows like a `Vec` while it is small
//! (under [`SMALL_BYTES`]), so a small engine does not pay for a whole
//! chunk; past that it takes its whole chunk at once, so no `apply` copies
//! more than about 2 × [`SMALL_BYTES`] (the step that takes the whole
//! chunk copies what the last doubling made room for: 112 KiB of sale
//! records). Doubling all the way, the first chunk of sale records copied
//! 7 MB inside the 32,768th sale: a 4 ms pause, the `latency` bench's max.
//!
//! Indexing costs a shift, a mask and one extra load (the chunk table is
//! small and stays in cache). The upward walk's [`Node`](crate::graph::Node)
//! array stays a plain `Vec`, where every load counts.

use std::fmt;
use std::ops::{Index, IndexMut};

use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeSeq, Serializer};

/// log2 of [`CHUNK`].
const SHIFT: u32 = 16;
/// Elements per chunk: 65,536.
pub(crate) const CHUNK: usize = 1 << SHIFT;
const MASK: usize = CHUNK - 1;

/// The first chunk doubles like a `Vec` while it holds fewer bytes than
/// this (64 KiB); once it holds this many and is full, it reserves the
/// whole chunk instead, a copy of under 2 × 64 KiB (a few microseconds).
/// Untouched capacity is address space, not memory: the kernel maps a
/// page when it is first written.
const SMALL_BYTES: usize = 64 * 1024;

/// A growable array in chunks of [`CHUNK`] elements. See the module docs.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Chunked<T> {
    /// Every chunk but the last holds exactly `CHUNK` elements.
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Chunked<T> {
    /// An empty array; allocates nothing.
    pub(crate) fn new() -> Self {
        Chunked::default()
    }

    /// Number of elements.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no elements.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `value`.
    pub(crate) fn push(&mut self, value: T) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => {
                if last.len() == last.capacity()
                    && last.len() * std::mem::size_of::<T>() >= SMALL_BYTES
                {
                    last.reserve_exact(CHUNK - last.len());
                }
                last.push(value)
            }
            _ => {
                // The first chunk grows like a `Vec`; later ones are only
                // started once the array is big, so they take a whole chunk
                // at once and never reallocate.
                let mut chunk = if self.chunks.is_empty() {
                    Vec::new()
                } else {
                    Vec::with_capacity(CHUNK)
                };
                chunk.push(value);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    /// The element at `index`, if there is one.
    pub(crate) fn get(&self, index: usize) -> Option<&T> {
        if index < self.len {
            Some(&self.chunks[index >> SHIFT][index & MASK])
        } else {
            None
        }
    }

    /// The element at `index` for writing, if there is one.
    pub(crate) fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        if index < self.len {
            Some(&mut self.chunks[index >> SHIFT][index & MASK])
        } else {
            None
        }
    }

    /// The last element, if any.
    pub(crate) fn last(&self) -> Option<&T> {
        self.chunks.last().and_then(|chunk| chunk.last())
    }

    /// The elements in order.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.chunks.iter().flatten()
    }

    /// Removes every element and frees the chunks.
    pub(crate) fn clear(&mut self) {
        self.chunks = Vec::new();
        self.len = 0;
    }

    /// Keeps the first `len` elements (no-op if there are fewer).
    pub(crate) fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        let keep_chunks = len.div_ceil(CHUNK);
        self.chunks.truncate(keep_chunks);
        if let Some(last) = self.chunks.last_mut() {
            let in_last = len - (keep_chunks - 1) * CHUNK;
            last.truncate(in_last);
        }
        self.len = len;
    }
}

impl<T: Clone> Chunked<T> {
    /// `len` copies of `value`.
    pub(crate) fn filled(value: T, len: usize) -> Self {
        let mut array = Chunked::new();
        array.resize(len, value);
        array
    }

    /// Grows to `len` elements with copies of `value` (never shrinks).
    pub(crate) fn resize(&mut self, len: usize, value: T) {
        while self.len < len {
            self.push(value.clone());
        }
    }
}

impl<T> Index<usize> for Chunked<T> {
    type Output = T;

    #[inline]
    fn index(&self, index: usize) -> &T {
        assert!(
            index < self.len,
            "index {index} out of range for a chunked array of {}",
            self.len
        );
        &self.chunks[index >> SHIFT][index & MASK]
    }
}

impl<T> IndexMut<usize> for Chunked<T> {
    #[inline]
    fn index_mut(&mut self, index: usize) -> &mut T {
        assert!(
            index < self.len,
            "index {index} out of range for a chunked array of {}",
            self.len
        );
        &mut self.chunks[index >> SHIFT][index & MASK]
    }
}

/// A per-member array of slots that read as `fill` until written, kept in
/// chunks allocated where a slot is first written.
///
/// For arrays indexed by a member that are filled out of order (the
/// ledger's first and last entry of each earner, screening's refund-rate
/// slots): the first sale of a network of a million members writes slots
/// near the end, and a [`Chunked`] array (or a `Vec`) would first fill
/// every slot before them (2.6 ms inside that sale at 1M members for the
/// ledger, 18 ms for screening's 48-byte slots). Here a write touches only
/// its own chunk, which grows like a `Vec` up to [`SPARSE_BYTES`] of
/// slots, and a read past the written slots answers `fill` without
/// allocating.
#[derive(Clone)]
pub(crate) struct Sparse<T> {
    /// Chunk `c` holds slots `c << shift …`; a chunk shorter than that
    /// (empty when never written) reads `fill` past its end.
    chunks: Vec<Vec<T>>,
    fill: T,
    /// One past the highest slot written.
    len: usize,
}

/// The most bytes of slots a [`Sparse`] chunk holds (so the most a write
/// fills): 65,536 slots of `u32`, 4,096 of 48 bytes.
const SPARSE_BYTES: usize = 256 * 1024;

impl<T> Sparse<T> {
    /// log2 of the slots per chunk: the largest power of two of slots
    /// within [`SPARSE_BYTES`], at most [`CHUNK`].
    pub(crate) const SHIFT: u32 = {
        let size = if std::mem::size_of::<T>() == 0 {
            1
        } else {
            std::mem::size_of::<T>()
        };
        let slots = SPARSE_BYTES / size;
        if slots <= 1 {
            0
        } else if slots.ilog2() > SHIFT {
            SHIFT
        } else {
            slots.ilog2()
        }
    };

    /// No slot written: every slot reads `fill`. Allocates nothing.
    pub(crate) const fn new(fill: T) -> Self {
        Sparse {
            chunks: Vec::new(),
            fill,
            len: 0,
        }
    }

    /// One past the highest slot written (0 when none was).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The value of `slot`: `fill` when it was never written.
    #[inline]
    pub(crate) fn get(&self, slot: usize) -> &T {
        self.chunks
            .get(slot >> Self::SHIFT)
            .and_then(|chunk| chunk.get(slot & ((1 << Self::SHIFT) - 1)))
            .unwrap_or(&self.fill)
    }

    /// Every slot allocated so far, with its index, in order (slots never
    /// written but in an allocated chunk read `fill`).
    pub(crate) fn allocated(&self) -> impl Iterator<Item = (usize, &T)> + '_ {
        self.chunks.iter().enumerate().flat_map(|(c, chunk)| {
            chunk
                .iter()
                .enumerate()
                .map(move |(i, slot)| ((c << Self::SHIFT) + i, slot))
        })
    }

    /// Forgets every slot and frees the chunks.
    pub(crate) fn clear(&mut self) {
        self.chunks = Vec::new();
        self.len = 0;
    }
}

impl<T: Clone> Sparse<T> {
    /// The value of `slot` for writing (`fill` until written), allocating
    /// or growing only its chunk.
    pub(crate) fn get_mut(&mut self, slot: usize) -> &mut T {
        let (c, offset) = (slot >> Self::SHIFT, slot & ((1 << Self::SHIFT) - 1));
        if self.chunks.len() <= c {
            self.chunks.resize_with(c + 1, Vec::new);
        }
        let chunk = &mut self.chunks[c];
        if chunk.len() <= offset {
            chunk.resize(offset + 1, self.fill.clone());
        }
        self.len = self.len.max(slot + 1);
        &mut chunk[offset]
    }

    /// Writes `value` at `slot` (see [`get_mut`](Self::get_mut)).
    pub(crate) fn set(&mut self, slot: usize, value: T) {
        *self.get_mut(slot) = value;
    }
}

impl<T: fmt::Debug> fmt::Debug for Sparse<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries((0..self.len).map(|slot| self.get(slot)))
            .finish()
    }
}

impl<T> FromIterator<T> for Chunked<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut array = Chunked::new();
        for value in iter {
            array.push(value);
        }
        array
    }
}

impl<T> Extend<T> for Chunked<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for value in iter {
            self.push(value);
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Chunked<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Serialized as a plain sequence, exactly like the `Vec` it replaced, so
/// snapshots do not change.
impl<T: Serialize> Serialize for Chunked<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len))?;
        for value in self.iter() {
            seq.serialize_element(value)?;
        }
        seq.end()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Chunked<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Elements<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for Elements<T> {
            type Value = Chunked<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sequence")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Chunked<T>, A::Error> {
                let mut array = Chunked::new();
                while let Some(value) = seq.next_element()? {
                    array.push(value);
                }
                Ok(array)
            }
        }

        deserializer.deserialize_seq(Elements(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crosses_chunk_boundaries() {
        let n = 2 * CHUNK + 7;
        let mut array: Chunked<u32> = (0..n as u32).collect();
        assert_eq!(array.len(), n);
        assert_eq!(array[CHUNK - 1], CHUNK as u32 - 1);
        assert_eq!(array[CHUNK], CHUNK as u32);
        assert_eq!(array.last(), Some(&(n as u32 - 1)));
        assert_eq!(array.get(n), None);
        array[CHUNK] = 9;
        assert_eq!(array.get(CHUNK), Some(&9));
        assert!(array
            .iter()
            .copied()
            .eq((0..n as u32).map(|i| if i as usize == CHUNK { 9 } else { i })));
        // Later chunks never reallocate: they start at full capacity.
        assert!(array.chunks[1].capacity() == CHUNK);
    }

    /// The first chunk stops doubling at [`SMALL_BYTES`]: the growth step
    /// that would copy more takes the whole chunk, and later pushes up to
    /// [`CHUNK`] never move it again.
    #[test]
    fn the_first_chunk_stops_doubling_once_it_is_not_small() {
        let small = SMALL_BYTES / std::mem::size_of::<u64>();
        let mut array: Chunked<u64> = (0..small as u64).collect();
        assert!(array.chunks[0].capacity() < CHUNK, "still a small Vec");
        array.push(small as u64);
        assert_eq!(array.chunks[0].capacity(), CHUNK);
        let address = array.chunks[0].as_ptr();
        for i in small as u64 + 1..CHUNK as u64 {
            array.push(i);
        }
        assert_eq!(array.chunks[0].as_ptr(), address, "never copied again");
        assert_eq!(array.chunks.len(), 1);
        assert!(array.iter().copied().eq(0..CHUNK as u64));
        // A tiny array stays tiny.
        let tiny: Chunked<u64> = (0..10).collect();
        assert!(tiny.chunks[0].capacity() < 64);
    }

    /// A slot written far out allocates its own chunk only; every other
    /// slot reads the fill, before and after. Chunks hold 256 KiB of
    /// slots: 65,536 of `u32`, 4,096 of 48 bytes.
    #[test]
    fn sparse_slots_allocate_only_the_chunks_written() {
        assert_eq!(Sparse::<u32>::SHIFT, 16);
        assert_eq!(Sparse::<[u64; 6]>::SHIFT, 12);
        assert_eq!(Sparse::<()>::SHIFT, 16);
        assert_eq!(Sparse::<[u8; 1 << 20]>::SHIFT, 0);
        const NONE: u32 = u32::MAX;
        let mut slots = Sparse::new(NONE);
        assert_eq!(
            (slots.len(), *slots.get(0), *slots.get(5 * CHUNK)),
            (0, NONE, NONE)
        );
        slots.set(3 * CHUNK + 7, 1);
        assert_eq!(slots.len(), 3 * CHUNK + 8);
        assert_eq!(slots.chunks.len(), 4);
        assert!(
            slots.chunks[..3].iter().all(Vec::is_empty),
            "no fill before"
        );
        assert_eq!(slots.chunks[3].len(), 8);
        assert_eq!(*slots.get(3 * CHUNK + 7), 1);
        assert_eq!(*slots.get(3 * CHUNK + 6), NONE);
        assert_eq!(*slots.get(7), NONE);
        slots.set(7, 2);
        *slots.get_mut(3 * CHUNK + 7) += 2;
        assert_eq!((*slots.get(7), *slots.get(3 * CHUNK + 7)), (2, 3));
        assert_eq!(slots.len(), 3 * CHUNK + 8, "a lower slot leaves len alone");
        assert_eq!(*slots.get(CHUNK + 7), NONE);
        let written: Vec<(usize, u32)> = slots
            .allocated()
            .filter(|&(_, &v)| v != NONE)
            .map(|(i, &v)| (i, v))
            .collect();
        assert_eq!(written, vec![(7, 2), (3 * CHUNK + 7, 3)]);
        slots.clear();
        assert_eq!((slots.len(), *slots.get(7)), (0, NONE));
    }

    #[test]
    fn truncate_and_resize() {
        let mut array = Chunked::filled(1u8, CHUNK + 3);
        array.truncate(CHUNK);
        assert_eq!(array.len(), CHUNK);
        assert_eq!(array.chunks.len(), 1);
        array.push(2);
        assert_eq!(array[CHUNK], 2);
        array.truncate(0);
        assert!(array.is_empty() && array.last().is_none());
        array.resize(3, 7);
        assert_eq!(array.iter().copied().collect::<Vec<_>>(), vec![7, 7, 7]);
    }

    #[test]
    fn serializes_like_a_vec() {
        let array: Chunked<u16> = (0..5).collect();
        let text = serde_json::to_string(&array).unwrap();
        assert_eq!(
            text,
            serde_json::to_string(&vec![0u16, 1, 2, 3, 4]).unwrap()
        );
        let back: Chunked<u16> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, array);
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn indexing_past_the_end_panics_like_a_vec() {
        let array: Chunked<u8> = Chunked::new();
        let _ = array[0];
    }
}
