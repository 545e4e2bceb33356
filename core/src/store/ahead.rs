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
//! assert_eq!(ahead.next(), 3);
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
    first: u64,
    sent: usize,
}

impl<C: Send + 'static, W: Send + 'static> Ahead<C, W> {
    /// Starts `write` on a thread of its own with `conn` and the first
    /// `events` (consecutive, checked by the caller). `write` receives the
    /// parts until [`Part::Finish`], or until the channel closes (the
    /// stream was abandoned: it should then stop without committing).
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
            first: events.first().map_or(0, |e| e.seq),
            sent: events.len(),
        }
    }

    /// The first event's `seq`.
    pub fn first(&self) -> u64 {
        self.first
    }

    /// How many events were sent.
    pub fn sent(&self) -> usize {
        self.sent
    }

    /// The `seq` the next events sent must start at.
    pub fn next(&self) -> u64 {
        self.first.saturating_add(self.sent as u64)
    }

    /// Sends more events (following the last ones; the caller checks).
    /// `false` when the writer already stopped: its answer says why.
    pub fn send(&mut self, events: &[StoredEvent]) -> bool {
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
