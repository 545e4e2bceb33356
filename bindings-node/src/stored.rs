//! Reading the stored event log back, page by page (`storedEventsJson`).
//!
//! The dashboard example (`examples/dashboard`) builds its time series from
//! the events an engine has stored. This file owns only that read: it walks
//! the store from a sequence number and returns the events as they were
//! stored, with their audit hashes, as one JSON text (no JS object per event
//! is built here). Kept apart from `lib.rs` so the binding's main file stays
//! small; `Engine.exportLedger` (issue 17) may replace it.

use napi::Env;
use napi_derive::napi;
use upline::{Error as CoreError, ErrorKind};

use crate::{guard, lock, Engine};

/// The most events one call returns.
const MAX_PAGE: u32 = 100_000;

#[napi]
impl Engine {
    /// Up to `limit` (at most 100,000) stored events from sequence number
    /// `fromSeq` on, oldest first, as a JSON array of
    /// `{ "seq": n, "hash": "64 hex", "event": { ... } }` (the event exactly
    /// as stored). An empty array past the head. Throws `storage` for an
    /// engine without a store, `limit_exceeded` above the page limit.
    #[napi]
    pub fn stored_events_json(&self, env: Env, from_seq: u32, limit: u32) -> napi::Result<String> {
        guard(&env, || {
            if limit > MAX_PAGE {
                return Err(CoreError::new(
                    ErrorKind::LimitExceeded,
                    "limit",
                    format!("limit {limit} is above {MAX_PAGE}"),
                ));
            }
            let engine = lock(&self.inner)?;
            let store = engine.store().ok_or_else(|| {
                CoreError::general(ErrorKind::Storage, "this engine has no store to read")
            })?;
            let mut out = String::from("[");
            let mut count = 0u32;
            let stop = "page full";
            let result = store.scan(u64::from(from_seq.max(1)), &mut |stored| {
                if count >= limit {
                    return Err(CoreError::general(ErrorKind::Internal, stop));
                }
                if count > 0 {
                    out.push(',');
                }
                out.push_str("{\"seq\":");
                out.push_str(&stored.seq.to_string());
                out.push_str(",\"hash\":\"");
                out.push_str(&stored.hash.to_hex());
                out.push_str("\",\"event\":");
                out.push_str(&stored.event);
                out.push('}');
                count += 1;
                Ok(())
            });
            match result {
                Err(e) if !(e.kind() == ErrorKind::Internal && e.message() == stop) => {
                    return Err(e)
                }
                _ => {}
            }
            out.push(']');
            Ok(out)
        })
    }
}
