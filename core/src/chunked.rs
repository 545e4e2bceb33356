//! [`Chunked`]: a growable array kept in fixed-size chunks.
//!
//! The engine's per-member and per-event arrays grow by one element a join
//! or an event, for the life of the engine. In a `Vec` that costs up to
//! twice the memory it uses (the doubled capacity) and, at every growth
//! step, a copy of the whole array: at 10M members a 300 MiB `memcpy`
//! inside one `apply`. A `Chunked` array allocates chunks of [`CHUNK`]
//! elements instead: at most one chunk is partly empty, and nothing is
//! ever copied. The first chunk grows like a `Vec`, so a small engine
//! does not pay for a whole chunk.
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
            Some(last) if last.len() < CHUNK => last.push(value),
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
