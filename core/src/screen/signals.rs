//! Signals: normalising what a host observed (e-mails, IPs, devices,
//! clicks) and reducing it to the keyed 64-bit hashes screening keeps
//! ([`Kept`]). No raw signal string is kept.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind, Result};
use crate::id::check_text;
use crate::time::Timestamp;

use super::*;

#[derive(Clone, Copy)]
#[repr(u8)]
pub(crate) enum Kind {
    Ip = 1,
    Device = 2,
    Email = 3,
    Domain = 4,
    Payment = 5,
    IpUa = 6,
}

/// The keyed hash of a normalised signal; never 0 (0 means missing).
pub(crate) fn key(kind: Kind, text: &str) -> u64 {
    key_parts(kind, &[text.as_bytes()])
}

/// [`key`] of the concatenation of `parts`, without building it.
pub(crate) fn key_parts(kind: Kind, parts: &[&[u8]]) -> u64 {
    let mut hasher = Sha256::new();
    hasher.update(b"upline/signal/v1\0");
    hasher.update([kind as u8]);
    for part in parts {
        hasher.update(part);
    }
    let digest = hasher.finalize();
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(bytes).max(1)
}

pub(crate) fn signal_error(field: &str, message: String) -> Error {
    Error::new(ErrorKind::InvalidSignal, field, message)
}

pub(crate) fn trimmed<'a>(text: &'a str, field: &str) -> Result<&'a str> {
    check_text(text, field)?;
    let text = text.trim();
    if text.is_empty() {
        return Err(signal_error(field, format!("{field} is empty")));
    }
    if text.chars().any(char::is_control) {
        return Err(signal_error(
            field,
            format!("{field} {text:?} contains a control character"),
        ));
    }
    Ok(text)
}

/// Lower case, `+tag` removed, Gmail dots removed; returns (address,
/// domain).
///
/// ```
/// let (address, domain) = upline::screen::normalise_email("Ann.Lee+promo@GoogleMail.com", "email")?;
/// assert_eq!((address.as_str(), domain.as_str()), ("annlee@gmail.com", "gmail.com"));
/// # Ok::<(), upline::Error>(())
/// ```
pub fn normalise_email(text: &str, field: &str) -> Result<(String, String)> {
    let lower = trimmed(text, field)?.to_lowercase();
    let (local, domain) = lower
        .rsplit_once('@')
        .filter(|(l, d)| !l.is_empty() && !d.is_empty() && !d.contains(char::is_whitespace))
        .ok_or_else(|| signal_error(field, format!("{field} {text:?} is not an e-mail address")))?;
    let local = local.split('+').next().unwrap_or(local);
    let domain = normalise_domain(domain);
    let local = if domain == "gmail.com" {
        local.replace('.', "")
    } else {
        local.to_string()
    };
    if local.is_empty() {
        return Err(signal_error(
            field,
            format!("{field} {text:?} has an empty local part"),
        ));
    }
    Ok((format!("{local}@{domain}"), domain))
}

pub(crate) fn normalise_domain(domain: &str) -> String {
    let domain = domain.trim().trim_end_matches('.').to_lowercase();
    if domain == "googlemail.com" {
        "gmail.com".to_string()
    } else {
        domain
    }
}

/// An IP address written canonically, on the stack (a sale's signals are
/// reduced without a heap allocation).
pub(crate) struct IpText {
    buf: [u8; IpText::CAPACITY],
    len: usize,
}

impl IpText {
    /// The longest canonical form is an IPv6 address with an embedded
    /// IPv4 suffix (45 bytes).
    const CAPACITY: usize = 64;

    pub(crate) fn as_str(&self) -> &str {
        // Only whole `&str`s are written, so the bytes are UTF-8.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl std::fmt::Write for IpText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let slot = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

pub(crate) fn normalise_ip(text: &str, field: &str) -> Result<IpText> {
    let text = trimmed(text, field)?;
    let ip: std::net::IpAddr = text
        .parse()
        .map_err(|_| signal_error(field, format!("{field} {text:?} is not an IP address")))?;
    let ip = match ip {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map(std::net::IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    let mut out = IpText {
        buf: [0; IpText::CAPACITY],
        len: 0,
    };
    std::fmt::Write::write_fmt(&mut out, format_args!("{ip}")).map_err(|_| {
        Error::new(
            ErrorKind::Internal,
            field,
            format!("{field} {text:?} is longer than any IP address"),
        )
    })?;
    Ok(out)
}

/// What the engine keeps of one member's signals: hashes, 0 = missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Kept {
    pub(crate) payment: u64,
    pub(crate) device: u64,
    pub(crate) email: u64,
    pub(crate) domain: u64,
    pub(crate) ip: u64,
    pub(crate) ip_ua: u64,
    /// Milliseconds from the referral click to the event, or [`NO_CLICK`].
    pub(crate) click_ms: i64,
}

impl Default for Kept {
    fn default() -> Self {
        Kept {
            payment: 0,
            device: 0,
            email: 0,
            domain: 0,
            ip: 0,
            ip_ua: 0,
            click_ms: NO_CLICK,
        }
    }
}

impl Kept {
    /// The keys that make clusters, with their signal names.
    pub(crate) fn strong(&self) -> [(u64, &'static str); 4] {
        [
            (self.payment, "payment_fingerprint"),
            (self.device, "device"),
            (self.email, "email"),
            (self.ip_ua, "ip+user_agent"),
        ]
    }

    pub(crate) fn fill_from(&mut self, other: &Kept) {
        for (mine, theirs) in [
            (&mut self.payment, other.payment),
            (&mut self.device, other.device),
            (&mut self.email, other.email),
            (&mut self.domain, other.domain),
            (&mut self.ip, other.ip),
            (&mut self.ip_ua, other.ip_ua),
        ] {
            if *mine == 0 {
                *mine = theirs;
            }
        }
    }

    /// A digest of the whole, so a retry with other signals is told apart.
    ///
    /// The parts are already uniform hashes, so a SplitMix-style mix of them
    /// is enough: this is not a security boundary (a colliding retry would
    /// only return the original result).
    pub(crate) fn digest(&self) -> u64 {
        let mut h: u64 = 0x243F_6A88_85A3_08D3;
        for part in [
            self.payment,
            self.device,
            self.email,
            self.domain,
            self.ip,
            self.ip_ua,
            self.click_ms as u64,
        ] {
            h = (h ^ part).wrapping_add(0x9E37_79B9_7F4A_7C15);
            h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            h ^= h >> 31;
        }
        h.max(1)
    }
}

/// Validates and reduces `signals` (of an event at `at`) to what is kept.
/// Errors name `signals.<field>`.
pub(crate) fn reduce(signals: &Signals, at: Timestamp) -> Result<Kept> {
    let mut kept = Kept::default();
    if let Some(payment) = &signals.payment_fingerprint {
        let field = "signals.payment_fingerprint";
        kept.payment = key(Kind::Payment, trimmed(payment, field)?);
    }
    if let Some(device) = &signals.device {
        kept.device = key(Kind::Device, trimmed(device, "signals.device")?);
    }
    if let Some(email) = &signals.email {
        let (address, domain) = normalise_email(email, "signals.email")?;
        kept.email = key(Kind::Email, &address);
        kept.domain = key(Kind::Domain, &domain);
    }
    let ip = match &signals.ip {
        Some(ip) => Some(normalise_ip(ip, "signals.ip")?),
        None => None,
    };
    let agent = match &signals.user_agent {
        Some(agent) => Some(trimmed(agent, "signals.user_agent")?),
        None => None,
    };
    if let Some(ip) = &ip {
        let ip = ip.as_str().as_bytes();
        kept.ip = key_parts(Kind::Ip, &[ip]);
        if let Some(agent) = agent {
            kept.ip_ua = key_parts(Kind::IpUa, &[ip, b"\n", agent.as_bytes()]);
        }
    }
    if let Some(clicked) = &signals.clicked_at {
        let clicked = Timestamp::parse(clicked, "signals.clicked_at")?;
        if clicked > at {
            return Err(signal_error(
                "signals.clicked_at",
                format!("signals.clicked_at {clicked} is after the event's at {at}"),
            ));
        }
        kept.click_ms = at.as_millis() - clicked.as_millis();
    }
    Ok(kept)
}

/// What a host observed about a join or a sale, for fraud screening. Every
/// field is optional; a rule whose signal is missing never matches.
///
/// The engine keeps none of these strings: it keeps a 64-bit keyed hash of
/// each normalised value (see [`crate::screen`] for the normalisation and
/// exactly what is kept), and for `clicked_at` only the delay to the
/// conversion. The event itself, as the host sent it, is hashed into the
/// audit chain and kept by a store if the engine has one: hosts that must
/// not keep raw IPs or e-mails should pass their own keyed hashes (HMAC)
/// instead, which the rules treat the same way (except that e-mail
/// normalisation and blocklists need the real address).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Signals {
    /// The client's IP address (v4 or v6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// A device fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The member's e-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// A fingerprint of the payment instrument (card, wallet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_fingerprint: Option<String>,
    /// The client's user agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// When the referral link was clicked (RFC 3339), at or before the
    /// event's `at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<crate::wire::schema::TimeText>")
    )]
    pub clicked_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stack-written IP and the part-wise hashes give exactly the keys
    /// the heap-built strings gave (kept hashes are in snapshots, and
    /// decisions compare them).
    #[test]
    fn ip_keys_are_those_of_the_canonical_strings() {
        let at = Timestamp::from_millis(1_767_225_600_000).expect("in range");
        for (ip, canonical) in [
            (" 10.1.2.3 ", "10.1.2.3"),
            ("::ffff:192.0.2.7", "192.0.2.7"),
            ("2001:DB8::1", "2001:db8::1"),
            (
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            ),
            ("::1:2:3:4:5:6", "::1:2:3:4:5:6"),
        ] {
            let text = normalise_ip(ip, "ip").expect("an IP");
            assert_eq!(text.as_str(), canonical);
            let signals = Signals {
                ip: Some(ip.to_string()),
                user_agent: Some(" Mozilla/5.0 ".to_string()),
                ..Signals::default()
            };
            let kept = reduce(&signals, at).expect("valid");
            assert_eq!(kept.ip, key(Kind::Ip, canonical));
            assert_eq!(
                kept.ip_ua,
                key(Kind::IpUa, &format!("{canonical}\nMozilla/5.0"))
            );
        }
        assert_eq!(
            normalise_ip("10.0.0.256", "signals.ip")
                .err()
                .map(|e| e.code()),
            Some("invalid_signal")
        );
    }

    /// A key of parts is the key of their concatenation; pinned bytes.
    #[test]
    fn key_parts_hash_the_concatenation() {
        assert_eq!(
            key_parts(Kind::IpUa, &[b"10.0.0.1", b"\n", b"agent"]),
            key(Kind::IpUa, "10.0.0.1\nagent")
        );
        let digest = Sha256::digest(b"upline/signal/v1\0\x0110.0.0.1");
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[..8]);
        assert_eq!(key(Kind::Ip, "10.0.0.1"), u64::from_be_bytes(bytes).max(1));
    }
}
