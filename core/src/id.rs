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
