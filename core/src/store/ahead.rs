//! The writer thread behind [`Store::send_ahead`](crate::Store::send_ahead),
//! for adapters: a store that holds its append lock on a connection hands
//! that connection to a thread of its own, which writes the events sent
//! ahead (in the lock's transaction) while the engine stages the rest of
//! its group on the caller's thread. The append then hands the thread the
//! last events and takes the connection back with what the thread
//! answered, to commit or roll back. An adapter writes with its own
//! driver (`upline-postgres` into a binary `COPY`); this type only moves
//! the events and the connection.
//!
//! ```
//! use upline::store::ahead::{Ahead, Part};
//! use upline::{Hash, StoredEvent};
//!
//! let event = |seq| StoredEvent { seq, event: "{}".into(), hash: Hash::ZERO };
//! // The "connection" is a vector here; a real one is a driver's client.
//! let ahead = Ahead::start(Vec::new(), &[event(1), event(2)], |rows: &mut Vec<u64>, parts| {
//!     while let Ok(Part::Rows(events)) = parts.recv() {
//!         rows.extend(events.iter().map(|e| e.seq));
//!     }
//!     rows.len()
//! });
//! assert_eq!(ahead.next(), Some(3));
//! let (rows, written) = ahead.finish(&[event(3)]).unwrap();
//! assert_eq!((rows, written), (vec![1, 2, 3], 3));
//! ```

use std::sync::mpsc;
use std::thread;

use crate::store::StoredEvent;

/// What the caller's thread sends the writer.
#[derive(Debug)]
pub enum Part {
    /// The next events, following the last ones sent.
    Rows(Vec<StoredEvent>),
    /// Every event was sent: finish, and answer.
    Finish,
}

/// A writer thread in flight, owning connection `C` until
/// [`finish`](Ahead::finish) or [`abandon`](Ahead::abandon) gives it back
/// with the writer's answer `W`.
#[derive(Debug)]
pub struct Ahead<C, W> {
    parts: mpsc::Sender<Part>,
    writer: thread::JoinHandle<(C, W)>,
    /// The first event's `seq`; `None` until one is sent.
    first: Option<u64>,
    sent: usize,
}

impl<C: Send + 'static, W: Send + 'static> Ahead<C, W> {
    /// Starts `write` on a thread of its own with `conn` and the first
    /// `events` (consecutive, checked by the caller). `write` receives the
    /// parts until [`Part::Finish`], or until the channel closes (the
    /// stream was abandoned: it should then stop without committing).
    ///
    /// `events` may be empty: a stream begun as soon as the lock is held
    /// (the engine's empty [`send_ahead`](crate::Store::send_ahead)), so
    /// that its thread keeps the lock's transaction alive while the engine
    /// catches up and stages the first events. The first part received is
    /// then empty.
    pub fn start(
        mut conn: C,
        events: &[StoredEvent],
        write: impl FnOnce(&mut C, &mpsc::Receiver<Part>) -> W + Send + 'static,
    ) -> Ahead<C, W> {
        let (parts, received) = mpsc::channel();
        // A send only fails once the writer ended, which `finish` reads.
        let _ = parts.send(Part::Rows(events.to_vec()));
        let writer = thread::spawn(move || {
            let written = write(&mut conn, &received);
            (conn, written)
        });
        Ahead {
            parts,
            writer,
            first: events.first().map(|e| e.seq),
            sent: events.len(),
        }
    }

    /// The first event's `seq`; `None` while no event was sent (a stream
    /// started empty).
    pub fn first(&self) -> Option<u64> {
        self.first
    }

    /// How many events were sent.
    pub fn sent(&self) -> usize {
        self.sent
    }

    /// The `seq` the next events sent must start at; `None` while no
    /// event was sent (any `seq` may start the stream then).
    pub fn next(&self) -> Option<u64> {
        self.first
            .map(|first| first.saturating_add(self.sent as u64))
    }

    /// Sends more events (following the last ones; the caller checks).
    /// `false` when the writer already stopped: its answer says why.
    pub fn send(&mut self, events: &[StoredEvent]) -> bool {
        if self.first.is_none() {
            self.first = events.first().map(|e| e.seq);
        }
        self.sent += events.len();
        self.parts.send(Part::Rows(events.to_vec())).is_ok()
    }

    /// Sends the last events and [`Part::Finish`], and waits for the
    /// writer: the connection back, with its answer. `None` when the
    /// writer thread panicked (its connection is gone with it).
    pub fn finish(mut self, rest: &[StoredEvent]) -> Option<(C, W)> {
        if !rest.is_empty() {
            self.send(rest);
        }
        let _ = self.parts.send(Part::Finish);
        self.writer.join().ok()
    }

    /// Abandons the stream: the channel closes without [`Part::Finish`],
    /// and the connection comes back (for the caller to roll back).
    pub fn abandon(self) -> Option<C> {
        drop(self.parts);
        self.writer.join().ok().map(|(conn, _)| conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Hash;

    fn event(seq: u64) -> StoredEvent {
        StoredEvent {
            seq,
            event: "{}".into(),
            hash: Hash::ZERO,
        }
    }

    /// A stream begun empty (as the lock is granted) takes its first `seq`
    /// from the first events sent, and its writer sees an empty part first.
    #[test]
    fn a_stream_started_empty_starts_at_the_first_events_sent() {
        let mut ahead = Ahead::start(Vec::new(), &[], |parts: &mut Vec<usize>, received| {
            while let Ok(Part::Rows(events)) = received.recv() {
                parts.push(events.len());
            }
        });
        assert_eq!((ahead.first(), ahead.next(), ahead.sent()), (None, None, 0));
        assert!(ahead.send(&[]));
        assert_eq!(ahead.first(), None);
        assert!(ahead.send(&[event(7), event(8)]));
        assert_eq!(
            (ahead.first(), ahead.next(), ahead.sent()),
            (Some(7), Some(9), 2)
        );
        let (parts, ()) = ahead.finish(&[event(9)]).unwrap();
        assert_eq!(parts, vec![0, 0, 2, 1]);
    }

    /// An empty stream finished at once gives its connection back.
    #[test]
    fn an_empty_stream_finishes() {
        let ahead = Ahead::start(3_u8, &[], |conn: &mut u8, received| {
            let mut rows = 0;
            while let Ok(Part::Rows(events)) = received.recv() {
                rows += events.len();
            }
            (*conn, rows)
        });
        assert_eq!(ahead.first(), None);
        assert_eq!(ahead.finish(&[]).unwrap(), (3, (3, 0)));
    }
}
