//! The one error type of the crate.
//!
//! Every refusal is an [`Error`]: a stable [`ErrorKind`] (whose
//! [`code`](ErrorKind::code) is the snake_case string all three languages
//! share), the field it concerns when there is one, and a message that names
//! the offending value. Errors are data, never panics: a refused event leaves
//! the engine exactly as it was.

use std::fmt;

/// What went wrong, as a stable category.
///
/// New kinds may be added; an existing kind's [`code`](ErrorKind::code) never
/// changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An amount is not a plain decimal, has more decimals than its currency
    /// allows, is out of range, or is not positive where it must be.
    InvalidAmount,
    /// A currency code is unknown or malformed.
    InvalidCurrency,
    /// Two amounts in different currencies were combined.
    CurrencyMismatch,
    /// A time is not RFC 3339 with an offset, or is out of range.
    InvalidTime,
    /// An id is empty, longer than 128 bytes or contains control characters.
    InvalidId,
    /// A plan breaks a validation rule.
    InvalidPlan,
    /// A member id names nobody.
    UnknownMember,
    /// A sale id names no recorded sale.
    UnknownSale,
    /// A payout id names no prepared payout.
    UnknownPayout,
    /// An id was already used with different content.
    DuplicateId,
    /// A member named itself as its sponsor.
    SelfSponsor,
    /// A re-parenting would make a member its own ancestor.
    Cycle,
    /// A terminated member cannot change status or be re-parented.
    MemberTerminated,
    /// Refunds would add up to more than the sale.
    OverRefund,
    /// A payout is not in a state that allows the operation.
    PayoutState,
    /// A documented static limit was exceeded.
    LimitExceeded,
    /// The input could not be decoded at all.
    Malformed,
    /// The store failed; the engine is unchanged.
    Storage,
    /// The stored audit chain does not verify: a stored event or record
    /// was changed, dropped, reordered or inserted.
    Tampered,
    /// A bug inside Upline (a broken internal invariant). Never expected.
    Internal,
    /// A milestone set or a team challenge breaks a validation rule (an
    /// unknown metric, a threshold or target that is not positive, duplicate
    /// milestone ids).
    InvalidReward,
    /// A challenge id names no created challenge.
    UnknownChallenge,
    /// A challenge is not in a state that allows the operation (closing a
    /// closed challenge at another instant).
    ChallengeState,
    /// Fraud-screening rules break a validation rule (an unknown signal,
    /// action or preset, a bad threshold).
    InvalidRules,
    /// A fraud-screening signal is malformed (an IP that is not one, an
    /// e-mail without `@`, a click after the conversion).
    InvalidSignal,
    /// A review id names no sale held for review.
    UnknownReview,
    /// A review was already resolved differently.
    ReviewState,
    /// Another writer appended to the store first, and catching up and
    /// appending again did not settle it within
    /// [`MAX_APPEND_ATTEMPTS`](crate::limits::MAX_APPEND_ATTEMPTS); nothing
    /// was stored. The host may retry.
    Conflict,
    /// The engine is a read-only follower: it catches up, it never writes.
    ReadOnly,
}

impl ErrorKind {
    /// The stable snake_case code shared by the Rust, Python and Node APIs.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::InvalidAmount => "invalid_amount",
            ErrorKind::InvalidCurrency => "invalid_currency",
            ErrorKind::CurrencyMismatch => "currency_mismatch",
            ErrorKind::InvalidTime => "invalid_time",
            ErrorKind::InvalidId => "invalid_id",
            ErrorKind::InvalidPlan => "invalid_plan",
            ErrorKind::UnknownMember => "unknown_member",
            ErrorKind::UnknownSale => "unknown_sale",
            ErrorKind::UnknownPayout => "unknown_payout",
            ErrorKind::DuplicateId => "duplicate_id",
            ErrorKind::SelfSponsor => "self_sponsor",
            ErrorKind::Cycle => "cycle",
            ErrorKind::MemberTerminated => "member_terminated",
            ErrorKind::OverRefund => "over_refund",
            ErrorKind::PayoutState => "payout_state",
            ErrorKind::LimitExceeded => "limit_exceeded",
            ErrorKind::Malformed => "malformed",
            ErrorKind::Storage => "storage",
            ErrorKind::Tampered => "tampered",
            ErrorKind::Internal => "internal",
            ErrorKind::InvalidReward => "invalid_reward",
            ErrorKind::UnknownChallenge => "unknown_challenge",
            ErrorKind::ChallengeState => "challenge_state",
            ErrorKind::InvalidRules => "invalid_rules",
            ErrorKind::InvalidSignal => "invalid_signal",
            ErrorKind::UnknownReview => "unknown_review",
            ErrorKind::ReviewState => "review_state",
            ErrorKind::Conflict => "conflict",
            ErrorKind::ReadOnly => "read_only",
        }
    }

    /// Every kind, in declaration order (for bindings that build one
    /// exception class per kind).
    pub const ALL: [ErrorKind; 29] = [
        ErrorKind::InvalidAmount,
        ErrorKind::InvalidCurrency,
        ErrorKind::CurrencyMismatch,
        ErrorKind::InvalidTime,
        ErrorKind::InvalidId,
        ErrorKind::InvalidPlan,
        ErrorKind::UnknownMember,
        ErrorKind::UnknownSale,
        ErrorKind::UnknownPayout,
        ErrorKind::DuplicateId,
        ErrorKind::SelfSponsor,
        ErrorKind::Cycle,
        ErrorKind::MemberTerminated,
        ErrorKind::OverRefund,
        ErrorKind::PayoutState,
        ErrorKind::LimitExceeded,
        ErrorKind::Malformed,
        ErrorKind::Storage,
        ErrorKind::Tampered,
        ErrorKind::Internal,
        ErrorKind::InvalidReward,
        ErrorKind::UnknownChallenge,
        ErrorKind::ChallengeState,
        ErrorKind::InvalidRules,
        ErrorKind::InvalidSignal,
        ErrorKind::UnknownReview,
        ErrorKind::ReviewState,
        ErrorKind::Conflict,
        ErrorKind::ReadOnly,
    ];
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A refused operation: its kind, the field it concerns, and why.
///
/// ```
/// use upline::{Engine, ErrorKind};
///
/// let mut engine = Engine::new();
/// let err = engine
///     .apply_json(r#"{"type":"member_joined","member":"a","sponsor":"ghost","at":"2026-01-01T00:00:00Z"}"#)
///     .unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::UnknownMember);
/// assert_eq!(err.code(), "unknown_member");
/// assert_eq!(err.field(), Some("sponsor"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", kind.code())]
pub struct Error {
    kind: ErrorKind,
    field: Option<String>,
    message: String,
}

impl Error {
    /// An error of `kind` about `field`, explained by `message`.
    pub fn new(kind: ErrorKind, field: impl Into<String>, message: impl Into<String>) -> Self {
        Error {
            kind,
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// An error that concerns no single field.
    pub fn general(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            field: None,
            message: message.into(),
        }
    }

    /// The stable category.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The stable snake_case code (`self.kind().code()`).
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// The field the error concerns, as a path (`levels[3].rate`), if any.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// The human-readable reason, without the code prefix.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error with its field path prefixed (`plan` + `levels[0].rate`
    /// gives `plan.levels[0].rate`).
    pub(crate) fn within(mut self, prefix: &str) -> Self {
        self.field = Some(match self.field.take() {
            Some(inner) if inner.starts_with('[') => format!("{prefix}{inner}"),
            Some(inner) => format!("{prefix}.{inner}"),
            None => prefix.to_string(),
        });
        self
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
