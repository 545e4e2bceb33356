#!/usr/bin/env python3
"""Independent verifier of an Upline ledger export (JSON Lines, audit format 2).

This file owns the second, independent implementation of the audit chain:
it reads the export that `Engine.export_ledger` writes (a header line, one
line per event with its seq, hash, event and records, a trailer with the
head), re-encodes every event and its records with the audit encoding of
format 2 as `core/src/audit.rs` documents it, recomputes every SHA-256 hash
of the chain and compares it with the hash on the line.

Only the Python standard library is used (hashlib, struct, json, re,
datetime, sys), so an auditor can read and run it without Upline.

Usage:  python3 tools/verify_export.py EXPORT.jsonl   (or - for stdin)

Exit 0 and print `head <seq> <hash>` when every hash matches: compare that
head with the one the host published or anchored. Exit 1 and name the
first event whose hash does not match (or the line that is not a valid
export). Exit 2 on a usage error or an unreadable file.
"""

import datetime
import hashlib
import json
import re
import struct
import sys

TAG = b"upline/audit/v2\x00"

# audit::KEYS: the k-th name (from 1) is written as the byte k.
KEYS = [
    "type", "member", "sponsor", "at", "status", "reason", "on", "plan",
    "effective_from", "currency", "minor_units", "sale", "buyer", "amount",
    "category", "signals", "refund", "method", "verified", "batch", "as_of",
    "policy", "payout", "reference", "milestones", "counts", "on_refund", "id",
    "name", "team", "metric", "from", "to", "target", "reward", "split",
    "preset", "rules", "blocklist", "review", "decision", "note", "ip",
    "device", "email", "payment_fingerprint", "user_agent", "clicked_at",
    "version", "levels", "rate", "min_active_directs", "caps", "overrides",
    "compression", "max_walk", "rounding", "hold_days", "min_sale",
    "commission_window_days", "minimum", "fees", "flat", "percent", "outcome",
    "entries", "distribution", "awards", "challenge", "plan_version", "lines",
    "retained", "unpaid", "screening", "earner", "level", "base", "held",
    "reversals", "refunded_total", "milestone_reversals", "items", "skipped",
    "gross", "fee", "net", "milestone", "threshold", "value", "bonuses",
    "perks", "applied", "reversed", "progress", "total", "met", "shares",
    "seq", "kind", "available_at", "hits", "rule", "action", "earners",
    "matched", "members", "detail", "fx",
]
CODES = {name: i + 1 for i, name in enumerate(KEYS)}
DECIMAL_KEYS = {
    "amount", "rate", "base", "retained", "refunded_total", "gross", "fee",
    "net", "threshold", "value", "progress", "total", "target", "flat",
    "percent", "min_sale",
}
TIME_KEYS = {"at", "available_at", "as_of", "effective_from", "from", "to", "clicked_at"}

DECIMAL_RE = re.compile(r"(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?")
TIME_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{3}))?Z"
)
EPOCH = datetime.date(1970, 1, 1).toordinal()


class Obj(list):
    """A JSON object as its (key, value) pairs, in the order of the text."""


def uvarint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def canonical_decimal(text):
    m = DECIMAL_RE.fullmatch(text)
    if not m:
        return None
    frac = m.group(3) or ""
    if len(frac) > 38:
        return None
    mantissa = int(m.group(2) + frac)
    if mantissa >= 10**38 or (m.group(1) and mantissa == 0):
        return None
    return (-mantissa if m.group(1) else mantissa), len(frac)


def canonical_time(text):
    m = TIME_RE.fullmatch(text)
    if not m:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    millis = m.group(7)
    if millis == "000" or hour > 23 or minute > 59 or second > 59:
        return None
    try:
        days = datetime.date(year, month, day).toordinal() - EPOCH
    except ValueError:
        return None
    return ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + int(millis or 0)


def encode(value, kind, out):
    """Appends the format-2 encoding of a JSON value whose key has `kind`."""
    if value is None:
        out.append(0x00)
    elif value is False:
        out.append(0x01)
    elif value is True:
        out.append(0x02)
    elif isinstance(value, int):
        if value >= 0:
            out.append(0x03)
            out += uvarint(value)
        else:
            out.append(0x04)
            out += uvarint(-1 - value)
    elif isinstance(value, str):
        typed = None
        if kind == "decimal":
            typed = canonical_decimal(value)
            if typed is not None:
                mantissa, scale = typed
                zigzag = 2 * mantissa if mantissa >= 0 else -2 * mantissa - 1
                out.append(0x06)
                out += uvarint(zigzag)
                out.append(scale)
        elif kind == "time":
            typed = canonical_time(value)
            if typed is not None:
                out.append(0x07)
                out += struct.pack(">q", typed)
        if typed is None:
            data = value.encode("utf-8")
            out.append(0x05)
            out += uvarint(len(data))
            out += data
    elif isinstance(value, Obj):
        out.append(0x09)
        out += uvarint(len(value))
        for key, item in value:
            code = CODES.get(key)
            if code is not None:
                out.append(code)
            else:
                data = key.encode("utf-8")
                out.append(0x00)
                out += uvarint(len(data))
                out += data
            item_kind = "decimal" if key in DECIMAL_KEYS else "time" if key in TIME_KEYS else None
            encode(item, item_kind, out)
    elif isinstance(value, list):
        out.append(0x08)
        out += uvarint(len(value))
        for item in value:
            encode(item, kind, out)
    else:
        raise ValueError("a float or another value the audit encoding never holds")


def block_hash(seq, prev, event, records):
    e, r = bytearray(), bytearray()
    encode(event, None, e)
    encode(records, None, r)
    h = hashlib.sha256()
    h.update(TAG)
    h.update(struct.pack(">Q", seq))
    h.update(prev)
    h.update(struct.pack(">Q", len(e)))
    h.update(e)
    h.update(struct.pack(">Q", len(r)))
    h.update(r)
    return h.digest()


def parse(line):
    return json.loads(line, object_pairs_hook=Obj)


def field(obj, name):
    for key, value in obj:
        if key == name:
            return value
    raise KeyError(name)


def verify(lines):
    """Returns (seq, hash hex) of the head, or raises Mismatch."""
    lines = iter(lines)
    try:
        header = parse(next(lines))
        if field(header, "format") != "upline-ledger" or field(header, "audit_tag") != TAG.decode():
            raise Mismatch("line 1 is not the header of an audit-format-2 Upline export")
        seq = field(header, "from_seq") - 1
        start = seq
        prev = bytes.fromhex(field(field(header, "prev"), "hash"))
        if field(field(header, "prev"), "seq") != seq:
            raise Mismatch("the header's prev seq is not from_seq - 1")
    except (StopIteration, ValueError, KeyError, TypeError) as err:
        raise Mismatch(f"line 1 is not an export header ({err})")
    number = 1
    for line in lines:
        number += 1
        expected = seq + 1
        try:
            entry = parse(line)
            if any(key == "head" for key, _ in entry):
                head = field(entry, "head")
                if field(head, "seq") != seq or field(head, "hash") != prev.hex():
                    raise Mismatch(f"the trailer's head does not match event {seq}")
                if field(entry, "events") != seq - start:
                    raise Mismatch(f"the trailer counts {field(entry, 'events')} events, the export holds {seq - start}")
                for rest in lines:
                    number += 1
                    if rest.strip():
                        raise Mismatch(f"line {number} follows the trailer (an export ends at its trailer)")
                return seq, prev.hex()
            line_seq = field(entry, "seq")
            if line_seq != seq + 1:
                raise Mismatch(f"event {seq + 1} is missing (line {number} is event {line_seq})")
            seq = line_seq
            computed = block_hash(seq, prev, field(entry, "event"), field(entry, "records"))
        except (ValueError, KeyError, TypeError) as err:
            raise Mismatch(f"event {expected} (line {number}) is unreadable ({err})")
        if computed.hex() != field(entry, "hash"):
            raise Mismatch(f"event {seq} does not match its hash")
        prev = computed
    raise Mismatch(f"the export stops after event {seq} without a trailer (incomplete)")


class Mismatch(Exception):
    pass


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print("usage: verify_export.py EXPORT.jsonl (or - for stdin)", file=sys.stderr)
        return 2
    try:
        handle = sys.stdin if argv[1] == "-" else open(argv[1], encoding="utf-8")
    except OSError as err:
        print(f"cannot read {argv[1]}: {err.strerror}", file=sys.stderr)
        return 2
    with handle:
        try:
            seq, digest = verify(handle)
        except Mismatch as err:
            print(f"verification failed: {err}")
            return 1
    print(f"head {seq} {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
