"""Checks envelope.py (written from docs/envelope.md alone) against kesrs, both ways.

    python crosscheck.py vectors tests/vectors/envelope.json
        Every vector: `dare` streams (sio's) open and re-seal byte for byte; `valid` envelopes seal
        byte for byte from their inputs, derive the listed keys and open to their plaintext;
        `invalid` ones fail with exactly the error, status and message they name.

    python crosscheck.py seal OUT.json
        Seals messages with fresh randomness and writes them with their data keys to OUT.json, for
        kesrs to open (core/examples/envelope_python.rs; scripts/test runs both).

Exits non-zero on the first disagreement.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
from typing import Any

import envelope


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[1] == "vectors":
        with open(argv[2], encoding="utf-8") as f:
            check_vectors(json.load(f))
        return 0
    if len(argv) == 3 and argv[1] == "seal":
        seal_fresh(argv[2])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


# --- vectors --------------------------------------------------------------------------------------


def plaintext(spec: dict[str, int]) -> bytes:
    """docs/envelope.md section 8: byte i is (31 i + seed) mod 256."""
    return bytes((31 * i + spec["seed"]) % 256 for i in range(spec["len"]))


def context(value: Any) -> envelope.Context:
    if isinstance(value, dict):
        return value
    return bytes.fromhex(value)


def expect_equal(what: str, got: Any, want: Any) -> None:
    if got != want:
        raise AssertionError(f"{what}: got {short(got)}, want {short(want)}")


def short(value: Any) -> str:
    if isinstance(value, bytes) and len(value) > 64:
        return f"<{len(value)} bytes, sha256 {hashlib.sha256(value).hexdigest()}>"
    return repr(value)


def check_sealed(what: str, case: dict[str, Any], sealed: bytes, prefix: str) -> None:
    expect_equal(f"{what}: sha256", hashlib.sha256(sealed).hexdigest(), case[f"{prefix}_sha256_hex"])
    if f"{prefix}_b64" in case:
        expect_equal(what, sealed, base64.b64decode(case[f"{prefix}_b64"]))


def check_vectors(vectors: dict[str, Any]) -> None:
    for case in vectors["dare"]:
        what = f"dare {case['plaintext']}"
        key = bytes.fromhex(case["payload_key_hex"])
        data = plaintext(case["plaintext"])
        stream = envelope.dare_seal(key, bytes.fromhex(case["dare_nonce_hex"]), data)
        check_sealed(what, case, stream, "dare_stream")
        expect_equal(f"{what}: open", envelope.dare_open(key, stream), data)
    print(f"dare: {len(vectors['dare'])} sio streams open and re-seal byte for byte")

    sealed_by_name: dict[str, bytes] = {}
    for case in vectors["valid"]:
        what = f"valid {case['name']!r}"
        ctx = context(case["context"])
        expect_equal(f"{what}: context bytes", envelope.context_bytes(ctx).hex(),
                     case["context_bytes_hex"])
        data_key = bytes.fromhex(case["data_key_hex"])
        salt = bytes.fromhex(case["salt_hex"])
        header_key, payload_key = envelope.derive_keys(data_key, salt, envelope.context_bytes(ctx))
        expect_equal(f"{what}: header key", header_key.hex(), case["header_key_hex"])
        expect_equal(f"{what}: payload key", payload_key.hex(), case["payload_key_hex"])
        ciphertext = bytes.fromhex(case["data_key_ciphertext_hex"])
        data = plaintext(case["plaintext"])
        sealed = envelope.seal_envelope(
            case["key_name"], data, ctx, data_key, ciphertext, shared=case["shared"], salt=salt,
            nonce=bytes.fromhex(case["dare_nonce_hex"]),
        )
        check_sealed(what, case, sealed, "sealed")
        header = envelope.parse_header(sealed)
        expect_equal(f"{what}: header length", header.length, case["header_len"])
        expect_equal(f"{what}: key name", header.key_name, case["key_name"])

        def decrypt(name: str, got: bytes, ctx_bytes: bytes, case: dict[str, Any] = case) -> bytes:
            expect_equal("decrypt: key name", name, case["key_name"])
            expect_equal("decrypt: ciphertext", got.hex(), case["data_key_ciphertext_hex"])
            expect_equal("decrypt: context", ctx_bytes.hex(), case["context_bytes_hex"])
            return bytes.fromhex(case["data_key_hex"])

        expect_equal(f"{what}: open", envelope.open_envelope(sealed, ctx, decrypt), data)
        # Check 9, which no vector can show: an allow-list that leaves the key out.
        try:
            envelope.open_envelope(sealed, ctx, decrypt, accept=lambda _name: False)
            raise AssertionError(f"{what}: opened with its key not accepted")
        except envelope.EnvelopeError as err:
            expect_equal(f"{what}: not accepted", (err.error, err.status, err.message),
                         ("key is not accepted", 403, "invalid envelope: key is not accepted"))
        sealed_by_name[case["name"]] = sealed
    print(f"valid: {len(vectors['valid'])} envelopes seal byte for byte and open")

    for case in vectors["invalid"]:
        what = f"invalid {case['name']!r}"
        if "sealed_b64" in case:
            sealed = base64.b64decode(case["sealed_b64"])
        else:
            sealed = b"".join(
                sealed_by_name[part["valid"]][part["from"]:part["to"]] if "valid" in part
                else bytes.fromhex(part["hex"])
                for part in case["sealed_parts"]
            )
        data_key = bytes.fromhex(case["data_key_hex"])
        try:
            opened = envelope.open_envelope(sealed, context(case["context"]),
                                            lambda _n, _c, _x: data_key)
        except envelope.EnvelopeError as err:
            expect_equal(f"{what}: error", err.error, case["error"])
            expect_equal(f"{what}: status", err.status, case["status"])
            expect_equal(f"{what}: message", err.message, case["message"])
        else:
            raise AssertionError(f"{what}: opened to {short(opened)}")
    print(f"invalid: {len(vectors['invalid'])} envelopes fail with the error they name")


# --- fresh messages for kesrs ---------------------------------------------------------------------


def seal_fresh(out: str) -> None:
    """Messages with fresh salts, nonces and data keys, across the package boundaries."""
    cases = [
        ("py-key", 0, {"bucket": "b/o"}, False),
        ("py-key", 1, b"", False),
        ("A_py-2", 1000, b"\x00\xffbinary", True),
        ("py-key", 65536, {}, False),
        ("py-key", 65537, {"x-minio": "<&>\u2028é"}, True),
        ("py-key", 3 * 65536 + 17, {"a": "1", "b": "2"}, False),
    ]
    messages = []
    for name, length, ctx, shared in cases:
        data = os.urandom(length)
        data_key = os.urandom(32)
        # Opaque to the envelope; kesrs checks it is handed back as written.
        ciphertext = os.urandom(1 + length % 200)
        sealed = envelope.seal_envelope(name, data, ctx, data_key, ciphertext, shared=shared)
        # What envelope.py seals, it opens.
        assert envelope.open_envelope(sealed, ctx, lambda _n, _c, _x, k=data_key: k) == data
        messages.append({
            "key_name": name,
            "context_hex": envelope.context_bytes(ctx).hex(),
            "data_key_hex": data_key.hex(),
            "data_key_ciphertext_hex": ciphertext.hex(),
            "plaintext_b64": base64.b64encode(data).decode(),
            "sealed_b64": base64.b64encode(sealed).decode(),
        })
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"messages": messages}, f)
    print(f"sealed {len(messages)} messages with fresh randomness into {out}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
