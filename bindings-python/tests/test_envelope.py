"""Sealed messages: seal, open, streams and ranges, sync and async, in every mode (memory, fs, config,
Azure fake, remote with an API key and with a certificate), and what tampering, truncation and a wrong
context give. Stream memory and range reads are measured in test_envelope_streams.py."""

from __future__ import annotations

import asyncio
import io
import os
from typing import Any, Callable, List

import pytest

import kesrs

CONTEXTS: List[Any] = [b"bucket/object", {"bucket": "bucket/object", "a": "b"}, None]
PACKAGE = 65536
SEALED_PACKAGE = PACKAGE + 32


def data(n: int, seed: int = 0) -> bytes:
    """n bytes of a pattern (the vectors' `(31 * i + seed) mod 256`)."""
    return bytes((31 * i + seed) % 256 for i in range(256)) * (n // 256) + bytes(
        (31 * i + seed) % 256 for i in range(n % 256)
    )


def tampered(sealed: bytes, at: int) -> bytes:
    changed = bytearray(sealed)
    changed[at] ^= 0x01
    return bytes(changed)


def test_sync_envelope_contract(open_keys: Callable[[type], Any], prefix: str) -> None:
    with open_keys(kesrs.Keys) as keys:
        key = f"{prefix}-env"
        keys.create_key(key)
        for context in CONTEXTS:
            for plaintext in [b"", b"a secret", data(3 * PACKAGE + 5)]:
                sealed = keys.seal(key, plaintext, context)
                assert isinstance(sealed, bytes) and sealed[:4] == b"KESE"
                assert keys.open(sealed, context) == plaintext
                assert keys.open(bytearray(sealed), context, accept=[f"{prefix}-*"]) == plaintext
            with pytest.raises(kesrs.DecryptError) as wrong:
                keys.open(sealed, b"another object")
            assert (wrong.value.status, wrong.value.code) == (400, "KES_DECRYPT_FAILED")
        # A dict context is its canonical bytes.
        sealed = keys.seal(key, b"x", {"b": "2", "a": "1"})
        assert keys.open(sealed, b'{"a":"1","b":"2"}') == b"x"

        plaintext = data(2 * PACKAGE + 100)
        sealed = keys.seal(key, plaintext, b"ctx")
        header = len(sealed) - (2 * SEALED_PACKAGE + 100 + 32)
        # Tampered: a header byte (its salt, its tag), a payload byte, a package tag.
        for at in [header - 40, header - 1, header + 20, header + SEALED_PACKAGE + 5, len(sealed) - 1]:
            with pytest.raises(kesrs.DecryptError):
                keys.open(tampered(sealed, at), b"ctx")
        # Truncated: at a package boundary, inside a package; or extended.
        for cut in [header, header + SEALED_PACKAGE, header + SEALED_PACKAGE + 3, len(sealed) - 1]:
            with pytest.raises(kesrs.DecryptError):
                keys.open(sealed[:cut], b"ctx")
        with pytest.raises(kesrs.DecryptError):
            keys.open(sealed + b"\0", b"ctx")
        # Cut inside the header: malformed ("truncated header"), found before any key is used.
        for cut in [5, header - 5]:
            with pytest.raises(kesrs.InvalidArgumentError):
                keys.open(sealed[:cut], b"ctx")
        with pytest.raises(kesrs.NotAllowedError):
            keys.open(sealed, b"ctx", accept=["other-*"])
        with pytest.raises(kesrs.InvalidArgumentError):
            keys.open(sealed, b"ctx", accept=["no spaces allowed"])
        with pytest.raises(TypeError):
            keys.seal(key, "text is not bytes")  # type: ignore[arg-type]
        with pytest.raises(kesrs.KeyNotFoundError):
            keys.seal(f"{prefix}-missing", b"x")

        # Streams through file objects, and ranges.
        src, dst = io.BytesIO(plaintext), io.BytesIO()
        assert keys.seal_stream(key, src, dst, {"o": "1"}) == len(dst.getvalue())
        stream_sealed = dst.getvalue()
        assert keys.open(stream_sealed, {"o": "1"}) == plaintext
        out = io.BytesIO()
        assert keys.open_stream(io.BytesIO(sealed), out, b"ctx") == len(plaintext)
        assert out.getvalue() == plaintext
        for offset, length in [(0, 1), (PACKAGE - 3, 10), (PACKAGE, PACKAGE), (len(plaintext) - 7, 7), (5, 0)]:
            got = keys.open_range(io.BytesIO(stream_sealed), offset, length, {"o": "1"})
            assert got == plaintext[offset : offset + length]
        with pytest.raises(kesrs.InvalidArgumentError):
            keys.open_range(io.BytesIO(stream_sealed), len(plaintext), 1, {"o": "1"})
        with pytest.raises(kesrs.DecryptError):
            keys.open_stream(io.BytesIO(stream_sealed[:-1]), io.BytesIO(), {"o": "1"})
        with pytest.raises(kesrs.DecryptError):
            keys.open_range(io.BytesIO(stream_sealed), 0, 1, b"other")

        # Data-key reuse: messages open as any other; a closed handle closes the sealer.
        sealer = keys.with_data_key_reuse(messages=3, bytes=1 << 20, seconds=60)
        messages = [sealer.seal(key, f"message {n}".encode(), b"ctx") for n in range(5)]
        assert [keys.open(m, b"ctx") for m in messages] == [f"message {n}".encode() for n in range(5)]
        with pytest.raises(kesrs.InvalidArgumentError):
            keys.with_data_key_reuse(messages=0, bytes=1, seconds=1)
        with pytest.raises(kesrs.InvalidArgumentError):
            keys.with_data_key_reuse(messages=1, bytes=1, seconds=-1)
    with pytest.raises(kesrs.InvalidArgumentError):
        sealer.seal(key, b"after close", b"ctx")
    with pytest.raises(kesrs.InvalidArgumentError):
        keys.seal(key, b"after close")


def test_async_envelope_contract(open_keys: Callable[[type], Any], prefix: str) -> None:
    async def body() -> None:
        async with open_keys(kesrs.AsyncKeys) as keys:
            key = f"{prefix}-aenv"
            await keys.create_key(key)
            plaintext = data(PACKAGE + 17)
            for context in CONTEXTS:
                sealed = await keys.seal(key, plaintext, context)
                assert await keys.open(sealed, context) == plaintext
                with pytest.raises(kesrs.DecryptError):
                    await keys.open(sealed, b"another object")
            sealed = await keys.seal(key, plaintext, b"ctx")
            with pytest.raises(kesrs.DecryptError):
                await keys.open(tampered(sealed, len(sealed) - 1), b"ctx")
            with pytest.raises(kesrs.DecryptError):
                await keys.open(sealed[:-1], b"ctx")
            with pytest.raises(kesrs.NotAllowedError):
                await keys.open(sealed, b"ctx", accept=["other"])
            # Many at once, on one event loop.
            many = await asyncio.gather(*(keys.seal(key, bytes([n]) * n, b"ctx") for n in range(20)))
            opened = await asyncio.gather(*(keys.open(m, b"ctx") for m in many))
            assert opened == [bytes([n]) * n for n in range(20)]

            dst = io.BytesIO()
            assert await keys.seal_stream(key, io.BytesIO(plaintext), dst, b"s") == len(dst.getvalue())
            out = io.BytesIO()
            assert await keys.open_stream(io.BytesIO(dst.getvalue()), out, b"s", accept=["*"]) == len(plaintext)
            assert out.getvalue() == plaintext
            assert await keys.open_range(io.BytesIO(dst.getvalue()), PACKAGE - 1, 5, b"s") == plaintext[
                PACKAGE - 1 : PACKAGE + 4
            ]
            with pytest.raises(kesrs.DecryptError):
                await keys.open_stream(io.BytesIO(dst.getvalue()[:-3]), io.BytesIO(), b"s")

            sealer = keys.with_data_key_reuse(messages=2, bytes=1000, seconds=30)
            reused = [await sealer.seal(key, b"r", b"ctx") for _ in range(3)]
            assert [await keys.open(m, b"ctx") for m in reused] == [b"r"] * 3
        with pytest.raises(kesrs.InvalidArgumentError):
            await sealer.seal(key, b"after close")

    asyncio.run(body())


class Failing(io.RawIOBase):
    """A source or sink that raises its own exception after `after` bytes."""

    def __init__(self, after: int) -> None:
        self.left = after

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            raise ConnectionResetError("the peer went away")
        n = min(n, self.left)
        self.left -= n
        return b"\0" * n

    def write(self, b: Any) -> int:
        if self.left <= 0:
            raise PermissionError("disk says no")
        self.left -= len(b)
        return len(b)


def test_stream_file_object_errors() -> None:
    with kesrs.Keys.in_memory() as keys:
        keys.create_key("k")
        # The file object's own exception comes through as it is.
        with pytest.raises(ConnectionResetError):
            keys.seal_stream("k", Failing(3 * PACKAGE), io.BytesIO())
        with pytest.raises(PermissionError):
            keys.seal_stream("k", io.BytesIO(data(3 * PACKAGE)), Failing(PACKAGE))
        sealed = keys.seal("k", data(3 * PACKAGE))
        with pytest.raises(PermissionError):
            keys.open_stream(io.BytesIO(sealed), Failing(PACKAGE))

        class NonBlocking:
            def read(self, n: int) -> None:
                return None

        class Text:
            def read(self, n: int) -> str:
                return "text"

        class WritesNothing:
            def write(self, b: bytes) -> int:
                return 0

        # What the file object does wrong without raising: KesIOError, an OSError too.
        with pytest.raises(kesrs.KesIOError) as err:
            keys.seal_stream("k", NonBlocking(), io.BytesIO())
        assert isinstance(err.value, OSError) and err.value.code == "KES_IO" and err.value.status == 500
        assert "non-blocking" in str(err.value)
        with pytest.raises(kesrs.KesIOError):
            keys.seal_stream("k", io.BytesIO(b"x"), WritesNothing())
        with pytest.raises(TypeError):
            keys.seal_stream("k", Text(), io.BytesIO())

        # Writers that return None (many file-likes do) are fine.
        class Collect:
            def __init__(self) -> None:
                self.parts: List[bytes] = []

            def write(self, b: bytes) -> None:
                self.parts.append(bytes(b))

        sink = Collect()
        keys.seal_stream("k", io.BytesIO(b"hello"), sink)
        assert keys.open(b"".join(sink.parts)) == b"hello"

        # Short writes (a raw file writes what it can): the rest of each package follows. Each
        # package comes as a fresh bytearray, kept here as it was given.
        class Short:
            def __init__(self) -> None:
                self.given: List[Any] = []
                self.out = bytearray()

            def write(self, b: Any) -> int:
                self.given.append(b)
                self.out += b[:1000]
                return min(len(b), 1000)

        short = Short()
        plain = os.urandom(3 * PACKAGE + 5)
        assert keys.seal_stream("k", io.BytesIO(plain), short) == len(short.out)
        assert keys.open(bytes(short.out)) == plain
        fresh = [b for b in short.given if isinstance(b, bytearray)]
        assert len(fresh) == 4 and len({id(b) for b in fresh}) == 4

        # Async: the same errors, from the worker thread.
        async def body() -> None:
            async with kesrs.AsyncKeys.in_memory() as akeys:
                await akeys.create_key("k")
                with pytest.raises(ConnectionResetError):
                    await akeys.seal_stream("k", Failing(PACKAGE + 1), io.BytesIO())
                with pytest.raises(kesrs.KesIOError):
                    await akeys.seal_stream("k", NonBlocking(), io.BytesIO())

        asyncio.run(body())


def test_kes_io_error_pickles() -> None:
    import pickle

    err = kesrs.KesIOError("I/O failed", 500, "KES_IO", "I/O failed: broken pipe")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is kesrs.KesIOError and isinstance(back, OSError)
    assert (back.message, back.status, back.code, str(back)) == (
        "I/O failed",
        500,
        "KES_IO",
        "I/O failed: broken pipe",
    )
    assert back.errno is None
