"""Sealed streams through real files: round trips of a few MiB, bounded memory for a 64 MiB stream, how
little `open_range` reads, the shared vectors (tests/vectors/envelope.json), and messages sealed on one
side of a KES server and opened on the other."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

import kesrs
from conftest import ROOT, Server

PACKAGE = 65536
SEALED_PACKAGE = PACKAGE + 32
MAX_HEADER = 73 + 80 + 1024


def pattern(n: int, seed: int = 0) -> bytes:
    block = bytes((31 * i + seed) % 256 for i in range(256))
    return (block * (n // 256 + 1))[:n]


def test_stream_round_trip_through_files(tmp_path: Path) -> None:
    plaintext_path, sealed_path, opened_path = tmp_path / "in", tmp_path / "sealed", tmp_path / "out"
    plaintext = os.urandom(3 * 1024 * 1024 + 12345)
    plaintext_path.write_bytes(plaintext)
    with kesrs.Keys.from_fs(tmp_path / "keys") as keys:
        keys.create_key("files")
        with plaintext_path.open("rb") as src, sealed_path.open("wb") as dst:
            written = keys.seal_stream("files", src, dst, {"bucket": "bucket/in"})
        assert written == sealed_path.stat().st_size
        with sealed_path.open("rb") as src, opened_path.open("wb") as dst:
            assert keys.open_stream(src, dst, {"bucket": "bucket/in"}) == len(plaintext)
        assert opened_path.read_bytes() == plaintext
        # The stream is an ordinary sealed message, and the other way round.
        assert keys.open(sealed_path.read_bytes(), {"bucket": "bucket/in"}) == plaintext
        sealed_path.write_bytes(keys.seal("files", plaintext, b"one shot"))
        with sealed_path.open("rb") as src:
            out = io.BytesIO()
            keys.open_stream(src, out, b"one shot")
            assert out.getvalue() == plaintext
        # A file cut short fails, after some authentic packages were written.
        sealed = sealed_path.read_bytes()
        sealed_path.write_bytes(sealed[: len(sealed) - SEALED_PACKAGE])
        with sealed_path.open("rb") as src, opened_path.open("wb") as dst:
            with pytest.raises(kesrs.DecryptError):
                keys.open_stream(src, dst, b"one shot")


class Trickle:
    """A pipe-like source: short reads of varying sizes, as `bytes`, `bytearray` or `memoryview`."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0
        self.calls = 0

    def read(self, n: int) -> Any:
        self.calls += 1
        size = min(n, [1, 777, 4096, n][self.calls % 4], len(self.data) - self.at)
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return [bytes, bytearray, memoryview][self.calls % 3](chunk)


def test_seal_stream_packages_whatever_the_reads() -> None:
    with kesrs.Keys.in_memory() as keys:
        keys.create_key("chunks")
        for size in [0, 1, PACKAGE - 1, PACKAGE, PACKAGE + 1, 2 * PACKAGE, 2 * PACKAGE + 5000]:
            plaintext = pattern(size, size % 251)
            expected_len = len(keys.seal("chunks", plaintext))
            for src in [io.BytesIO(plaintext), Trickle(plaintext)]:
                out = io.BytesIO()
                written = keys.seal_stream("chunks", src, out, b"c")
                # Same framing as one-shot seal: full packages, one final package, nothing empty.
                assert written == len(out.getvalue()) == expected_len, (size, type(src))
                assert keys.open(out.getvalue(), b"c") == plaintext, (size, type(src))

        class TooMuch:
            def read(self, n: int) -> bytes:
                return b"x" * (n + 1)

        with pytest.raises(kesrs.KesIOError, match="more than n bytes"):
            keys.seal_stream("chunks", TooMuch(), io.BytesIO())


MEMORY_CHILD = textwrap.dedent(
    """
    import os, sys, kesrs

    def peak_kib():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])

    class Source:  # 64 MiB, made up as it is read: holds no more than one chunk
        def __init__(self, size):
            self.left = size
            self.block = os.urandom(1 << 20)
        def read(self, n):
            n = min(n, self.left, len(self.block))
            self.left -= n
            return self.block[:n]

    class Sink:  # counts and drops
        def __init__(self):
            self.n = 0
        def write(self, b):
            self.n += len(b)
            return len(b)

    size = 64 << 20
    path = sys.argv[1]
    with kesrs.Keys.in_memory() as keys:
        keys.create_key("big")
        with open(path + ".warm", "wb") as dst:  # warm up: runtime threads, allocator
            keys.seal_stream("big", Source(1 << 20), dst)
        before = peak_kib()
        with open(path, "wb") as dst:
            keys.seal_stream("big", Source(size), dst)
        after_seal = peak_kib()
        sink = Sink()
        with open(path, "rb") as src:
            assert keys.open_stream(src, sink) == size
        after_open = peak_kib()
    print(before, after_seal, after_open)
    """
)


def test_stream_memory_stays_bounded(tmp_path: Path) -> None:
    # A child process, so that the peak RSS (VmHWM) is this stream's, not the suite's.
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD, str(tmp_path / "big.sealed")],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    ).stdout
    before, after_seal, after_open = (int(v) for v in out.split())
    # 64 MiB went through each way; the peak grew by a few chunks at most.
    assert after_seal - before < 8 * 1024, out
    assert after_open - before < 8 * 1024, out


class CountingReader(io.RawIOBase):
    """A seekable file that counts the bytes read through it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.bytes_read = 0
        self.reads = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        chunk: bytes = self.inner.read(n)
        self.bytes_read += len(chunk)
        self.reads += 1
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        position: int = self.inner.seek(offset, whence)
        return position


def test_open_range_reads_only_the_packages_it_covers(tmp_path: Path) -> None:
    size = 20 * 1024 * 1024 + 777
    plaintext = pattern(size, 3)
    path = tmp_path / "twenty.sealed"
    with kesrs.Keys.in_memory() as keys:
        keys.create_key("range")
        with path.open("wb") as dst:
            keys.seal_stream("range", io.BytesIO(plaintext), dst, b"r")
        offset, length = size // 2 + 12345, 1024 * 1024  # not aligned: spans 17 packages
        with path.open("rb") as file:
            counting = CountingReader(file)
            got = keys.open_range(counting, offset, length, b"r")
        assert got == plaintext[offset : offset + length]
        # The header, then 1 MiB of plaintext's packages: at most one package more than the range,
        # plus each package's 32 bytes, never the 20 MiB.
        assert counting.bytes_read <= MAX_HEADER + length + 2 * SEALED_PACKAGE, counting.bytes_read
        assert counting.bytes_read >= length
        # With a prefix before the message: ranges start at the file's current position.
        prefixed = tmp_path / "prefixed"
        prefixed.write_bytes(b"not part of it" + path.read_bytes())
        with prefixed.open("rb") as file:
            file.seek(len(b"not part of it"))
            assert keys.open_range(file, size - 10, 10, b"r") == plaintext[-10:]
        # A range beyond the message.
        with path.open("rb") as file:
            with pytest.raises(kesrs.InvalidArgumentError):
                keys.open_range(file, size - 10, 11, b"r")


# --- The shared vectors ------------------------------------------------------------------------------
#
# The vectors give each message's data key in plaintext, with a made-up KES ciphertext: no KES key made
# those data keys, so a `Keys` handle cannot open the valid vectors (opening asks KES to decrypt the
# ciphertext, check 10 of docs/envelope.md). What a handle can check: every invalid vector that fails
# before KES is asked (checks 1-9) fails here with the vector's error, status and message, and every
# other one stops at check 10 (no such key). core/tests/envelope_vectors.rs checks all of them in full.

VECTORS = json.loads((ROOT / "tests" / "vectors" / "envelope.json").read_text())
BEFORE_KES = (
    "truncated header",
    "not a kesrs envelope",
    "unsupported version",
    "unknown flags",
    "invalid key name",
    "invalid data key ciphertext length",
)


def vector_context(context: Any) -> bytes:
    if isinstance(context, dict):
        return kesrs.context_from_map(context)
    return bytes.fromhex(context)


def sealed_bytes(vector: Dict[str, Any]) -> Optional[bytes]:
    if "sealed_b64" in vector:
        return base64.b64decode(vector["sealed_b64"])
    if "sealed_parts" not in vector:
        return None  # a long valid vector, given only by its hash
    valid = {v["name"]: v for v in VECTORS["valid"]}
    out = b""
    for part in vector["sealed_parts"]:
        if "hex" in part:
            out += bytes.fromhex(part["hex"])
        elif "sealed_b64" in valid[part["valid"]]:
            out += base64.b64decode(valid[part["valid"]]["sealed_b64"])[part["from"] : part["to"]]
        else:
            return None  # a part of a long valid vector, given only by its hash
    return out


def test_vectors_through_a_handle() -> None:
    with kesrs.Keys.in_memory() as keys:
        for vector in VECTORS["valid"]:
            # A valid header, but a key name the caller does not accept: check 9, before KES.
            sealed = sealed_bytes(vector)
            if sealed is None:
                continue
            assert hashlib.sha256(sealed).hexdigest() == vector["sealed_sha256_hex"]
            context = vector_context(vector["context"])
            with pytest.raises(kesrs.NotAllowedError) as refused:
                keys.open(sealed, context, accept=["not-" + vector["key_name"]])
            assert (refused.value.status, refused.value.message) == (403, "invalid envelope: key is not accepted")
            with pytest.raises(kesrs.KeyNotFoundError):
                keys.open(sealed, context)
        before: List[str] = []
        for vector in VECTORS["invalid"]:
            sealed = sealed_bytes(vector)
            if sealed is None:
                continue
            context = vector_context(vector["context"])
            if vector["error"].startswith(BEFORE_KES):
                with pytest.raises(kesrs.InvalidArgumentError) as err:
                    keys.open(sealed, context)
                assert (err.value.status, err.value.message) == (vector["status"], vector["message"])
                assert str(err.value).endswith(vector["error"]), (str(err.value), vector["name"])
                before.append(vector["name"])
            else:
                with pytest.raises(kesrs.KeyNotFoundError):
                    keys.open(sealed, context)
                with pytest.raises(kesrs.KeyNotFoundError):
                    keys.open_stream(io.BytesIO(sealed), io.BytesIO(), context)
        # Every vector that fails before KES (checks 1-9), and no fewer than the 11 of the first set.
        expected = [
            v["name"]
            for v in VECTORS["invalid"]
            if sealed_bytes(v) is not None and v["error"].startswith(BEFORE_KES)
        ]
        assert before == expected and len(before) >= 11, before


# --- Across the KES API --------------------------------------------------------------------------------


def test_sealed_through_the_sidecar_opens_in_process_and_back(server: Server, tmp_path: Path) -> None:
    """Sealed with a remote handle (the data key made by the kesrs server), opened in-process over the
    server's own key directory (the data key decrypted by this process), and the other way round."""
    key = "cross-envelope"
    remote = server.connect(server.app)
    server.connect(server.admin).create_key(key)
    local = kesrs.Keys.from_fs(server.keys_dir)
    context = {"bucket": "bucket/object"}
    plaintext = pattern(2 * PACKAGE + 99)

    sealed = remote.seal(key, plaintext, context)
    assert local.open(sealed, context, accept=["cross-*"]) == plaintext
    with pytest.raises(kesrs.DecryptError):
        local.open(sealed, {"bucket": "bucket/other"})
    sealed = local.seal(key, plaintext, context)
    assert remote.open(sealed, context) == plaintext
    with pytest.raises(kesrs.DecryptError):
        remote.open(sealed, b"")

    # Streams, through files, both ways.
    path = tmp_path / "cross.sealed"
    with path.open("wb") as dst:
        remote.seal_stream(key, io.BytesIO(plaintext), dst, context)
    with path.open("rb") as src:
        out = io.BytesIO()
        local.open_stream(src, out, context)
        assert out.getvalue() == plaintext
    with path.open("wb") as dst:
        local.seal_stream(key, io.BytesIO(plaintext), dst, context)
    with path.open("rb") as src:
        assert remote.open_range(src, PACKAGE - 5, 10, context) == plaintext[PACKAGE - 5 : PACKAGE + 5]

    # A key the app's policy does not cover is refused by the server, not by this process.
    with pytest.raises(kesrs.NotAllowedError):
        server.connect(server.stranger).seal(key, b"x")
