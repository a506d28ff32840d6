"""The kesrs envelope format, written from docs/envelope.md alone, with pyca/cryptography.

An independent second implementation: it shares no code with kesrs (core/src/envelope/), so where
the two agree on tests/vectors/envelope.json the specification says what both do. Section numbers
below are docs/envelope.md's. Data keys come from the caller (what KES `generate` and `decrypt`
would return); nothing here talks to KES.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from dataclasses import dataclass
from typing import Callable, Mapping, Union

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

# Section 2.
MAGIC = b"KESE"
VERSION = 1
FLAG_SHARED_KEY = 0x01
FLAG_EMPTY = 0x02
PREFIX_LEN = 9
MAX_NAME = 80
MAX_CIPHERTEXT = 1024
SALT_LEN = 32
TAG_LEN = 32

# Section 3.
HEADER_LABEL = b"kesrs envelope v1 header key"
PAYLOAD_LABEL = b"kesrs envelope v1 payload key"

# Section 4.
DARE_VERSION = 0x20
DARE_AES_256_GCM = 0x00
PACKAGE_PAYLOAD = 65536
PACKAGE_OVERHEAD = 32  # 16 header bytes and the 16-byte GCM tag
FINAL = 0x80
MAX_PACKAGES = 1 << 32

NOT_AUTHENTIC = "decryption failed: ciphertext is not authentic"

Context = Union[bytes, Mapping[str, str]]


class EnvelopeError(Exception):
    """An envelope that does not open: `error` is the check's name (docs/envelope.md section 5)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error

    # Section 7.
    @property
    def status(self) -> int:
        return 403 if self.error == "key is not accepted" else 400

    @property
    def message(self) -> str:
        authentication = (
            self.error in ("header authentication failed", "stream is truncated",
                           "data after the final package")
            or self.error.startswith("malformed package ")
            or (self.error.startswith("package ") and self.error.endswith(" authentication failed"))
        )
        return NOT_AUTHENTIC if authentication else f"invalid envelope: {self.error}"


# --- Section 1: inputs ----------------------------------------------------------------------------


def context_bytes(context: Context) -> bytes:
    """The context's bytes: bytes as they are, a string map as MinIO's canonical JSON."""
    if isinstance(context, (bytes, bytearray)):
        return bytes(context)
    items = sorted(((k.encode(), v) for k, v in context.items()), key=lambda kv: kv[0])
    parts = [_json_string(k.decode()) + b":" + _json_string(v) for k, v in items]
    return b"{" + b",".join(parts) + b"}"


def _json_string(s: str) -> bytes:
    out = bytearray(b'"')
    for c in s:
        escaped = {'"': b'\\"', "\\": b"\\\\", "\n": b"\\n", "\r": b"\\r", "\t": b"\\t"}.get(c)
        if escaped is not None:
            out += escaped
        elif ord(c) < 0x20 or c in "<>&\u2028\u2029":
            out += b"\\u%04x" % ord(c)
        else:
            out += c.encode("utf-8")
    return bytes(out + b'"')


def valid_key_name(name: bytes) -> bool:
    allowed = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-"
    return (
        1 <= len(name) <= MAX_NAME
        and name != b"_"
        and not name.startswith(b"-")
        and not name.endswith(b"-")
        and all(b in allowed for b in name)
    )


# --- Section 3: keys ------------------------------------------------------------------------------


def derive_keys(data_key: bytes, salt: bytes, context: bytes) -> tuple[bytes, bytes]:
    """(header_key, payload_key) of a message."""
    ctx_hash = hashlib.sha256(context).digest()
    prk = hmac.new(salt, data_key, hashlib.sha256).digest()  # HKDF-Extract (RFC 5869 2.2)

    def expand(label: bytes) -> bytes:
        return HKDFExpand(hashes.SHA256(), 32, label + ctx_hash).derive(prk)

    return expand(HEADER_LABEL), expand(PAYLOAD_LABEL)


# --- Section 2: the header ------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    flags: int
    key_name: str
    ciphertext: bytes
    salt: bytes
    tag: bytes
    signed: bytes  # the bytes the tag covers

    @property
    def length(self) -> int:
        return len(self.signed) + TAG_LEN


def parse_header(sealed: bytes) -> Header:
    """Checks 1 to 8 of section 5."""
    if len(sealed) < PREFIX_LEN:
        raise EnvelopeError("truncated header")
    if sealed[0:4] != MAGIC:
        raise EnvelopeError("not a kesrs envelope")
    if sealed[4] != VERSION:
        raise EnvelopeError(f"unsupported version {sealed[4]}")
    flags = sealed[5]
    if flags & ~(FLAG_SHARED_KEY | FLAG_EMPTY):
        raise EnvelopeError(f"unknown flags 0x{flags:02x}")
    n = sealed[6]
    if not 1 <= n <= MAX_NAME:
        raise EnvelopeError("invalid key name")
    (m,) = struct.unpack_from("<H", sealed, 7)
    if not 1 <= m <= MAX_CIPHERTEXT:
        raise EnvelopeError(f"invalid data key ciphertext length {m}")
    end = PREFIX_LEN + n + m + SALT_LEN + TAG_LEN
    if len(sealed) < end:
        raise EnvelopeError("truncated header")
    name = sealed[PREFIX_LEN:PREFIX_LEN + n]
    if not valid_key_name(name):
        raise EnvelopeError("invalid key name")
    at = PREFIX_LEN + n
    ciphertext = sealed[at:at + m]
    salt = sealed[at + m:at + m + SALT_LEN]
    signed = sealed[:end - TAG_LEN]
    return Header(flags, name.decode("ascii"), ciphertext, salt, sealed[end - TAG_LEN:end], signed)


def write_header(flags: int, key_name: str, ciphertext: bytes, salt: bytes, header_key: bytes) -> bytes:
    name = key_name.encode("ascii")
    if not valid_key_name(name):
        raise ValueError(f"invalid key name {key_name!r}")
    if not 1 <= len(ciphertext) <= MAX_CIPHERTEXT or len(salt) != SALT_LEN:
        raise ValueError("invalid ciphertext or salt length")
    signed = MAGIC + bytes([VERSION, flags, len(name)]) + struct.pack("<H", len(ciphertext)) + name
    signed += ciphertext + salt
    return signed + hmac.new(header_key, signed, hashlib.sha256).digest()


# --- Section 4: DARE 2.0 --------------------------------------------------------------------------


def _aead_nonce(nonce: bytes, seq: int) -> bytes:
    (last,) = struct.unpack_from("<I", nonce, 8)
    return nonce[:8] + struct.pack("<I", last ^ seq)


def dare_seal(payload_key: bytes, nonce: bytes, plaintext: bytes) -> bytes:
    """The DARE 2.0 stream sio v0.4.1 writes for `plaintext` (not empty) with this nonce."""
    if not plaintext:
        raise ValueError("DARE cannot encode an empty plaintext")
    if len(nonce) != 12:
        raise ValueError("a DARE nonce has 12 bytes")
    base = bytes([nonce[0] & ~FINAL & 0xFF]) + nonce[1:]
    aead = AESGCM(payload_key)
    chunks = [plaintext[i:i + PACKAGE_PAYLOAD] for i in range(0, len(plaintext), PACKAGE_PAYLOAD)]
    if len(chunks) > MAX_PACKAGES:
        raise EnvelopeError("message is too large")
    out = bytearray()
    for seq, chunk in enumerate(chunks):
        package_nonce = base if seq + 1 < len(chunks) else bytes([base[0] | FINAL]) + base[1:]
        head = bytes([DARE_VERSION, DARE_AES_256_GCM]) + struct.pack("<H", len(chunk) - 1)
        out += head + package_nonce
        out += aead.encrypt(_aead_nonce(package_nonce, seq), chunk, head)
    return bytes(out)


def dare_open(payload_key: bytes, stream: bytes) -> bytes:
    """Checks 15 to 22 of section 5 over a whole stream."""
    aead = AESGCM(payload_key)
    out = bytearray()
    at = 0
    seq = 0
    first_nonce: bytes | None = None
    final = False
    while at < len(stream) or not final:
        if final:  # 15
            raise EnvelopeError("data after the final package")
        if seq >= MAX_PACKAGES:  # section 4
            raise EnvelopeError("message is too large")
        if len(stream) - at < 16:  # 16, and 22 when nothing is left
            raise EnvelopeError("stream is truncated")
        head = stream[at:at + 4]
        nonce = stream[at + 4:at + 16]
        if head[0] != DARE_VERSION or head[1] != DARE_AES_256_GCM:  # 17
            raise EnvelopeError(f"malformed package {seq}")
        (length_minus_one,) = struct.unpack_from("<H", head, 2)
        length = length_minus_one + 1
        final = nonce[0] & FINAL != 0
        if not final and length != PACKAGE_PAYLOAD:  # 18
            raise EnvelopeError(f"malformed package {seq}")
        end = at + 16 + length + 16
        if len(stream) < end:  # 19
            raise EnvelopeError("stream is truncated")
        cleared = bytes([nonce[0] & ~FINAL & 0xFF]) + nonce[1:]
        if first_nonce is None:
            first_nonce = cleared
        elif cleared != first_nonce:  # 20
            raise EnvelopeError(f"malformed package {seq}")
        try:  # 21
            out += aead.decrypt(_aead_nonce(nonce, seq), stream[at + 16:end], head)
        except InvalidTag:
            raise EnvelopeError(f"package {seq} authentication failed") from None
        at = end
        seq += 1
    return bytes(out)


# --- Sections 5 and 6: open and seal --------------------------------------------------------------

# KES `decrypt(name, ciphertext, context)`: the data key's plaintext, or an exception (check 10).
DecryptDataKey = Callable[[str, bytes, bytes], bytes]


def open_envelope(
    sealed: bytes,
    context: Context,
    decrypt: DecryptDataKey,
    accept: Callable[[str], bool] | None = None,
) -> bytes:
    """The plaintext of a sealed message, after every check of section 5, in its order."""
    ctx = context_bytes(context)
    header = parse_header(sealed)  # 1-8
    if accept is not None and not accept(header.key_name):  # 9
        raise EnvelopeError("key is not accepted")
    data_key = decrypt(header.key_name, header.ciphertext, ctx)  # 10
    if len(data_key) != 32:  # 11
        raise EnvelopeError("data key is not 32 bytes")
    header_key, payload_key = derive_keys(data_key, header.salt, ctx)
    expected = hmac.new(header_key, header.signed, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, header.tag):  # 12
        raise EnvelopeError("header authentication failed")
    stream = sealed[header.length:]
    if header.flags & FLAG_EMPTY:
        if stream:  # 13
            raise EnvelopeError("data after the final package")
        return b""
    if not stream:  # 14
        raise EnvelopeError("stream is truncated")
    return dare_open(payload_key, stream)  # 15-22


def seal_envelope(
    key_name: str,
    plaintext: bytes,
    context: Context,
    data_key: bytes,
    data_key_ciphertext: bytes,
    shared: bool = False,
    salt: bytes | None = None,
    nonce: bytes | None = None,
) -> bytes:
    """Section 6 with a data key given; salt and DARE nonce fresh unless given (for the vectors)."""
    if len(data_key) != 32:
        raise ValueError("a data key has 32 bytes")
    salt = os.urandom(SALT_LEN) if salt is None else salt
    nonce = os.urandom(12) if nonce is None else nonce
    header_key, payload_key = derive_keys(data_key, salt, context_bytes(context))
    flags = (FLAG_SHARED_KEY if shared else 0) | (0 if plaintext else FLAG_EMPTY)
    header = write_header(flags, key_name, data_key_ciphertext, salt, header_key)
    return header + (dare_seal(payload_key, nonce, plaintext) if plaintext else b"")
