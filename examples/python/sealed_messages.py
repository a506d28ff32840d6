"""Sealed messages: seal and open bytes, stream files of any size in 64 KiB chunks, read a range.

    python examples/python/sealed_messages.py

A sealed message names its KES key and carries its own data key (docs/envelope.md): no metadata to
store beside it, and it opens in any kesrs binding, in-process or through a KES server.
"""

from __future__ import annotations

import asyncio
import io
import os
import tempfile
from pathlib import Path

import kesrs


def main(directory: Path) -> None:
    with kesrs.Keys.in_memory() as keys:
        keys.create_key("my-app")
        context = {"my-bucket": "my-bucket/my-object"}

        sealed = keys.seal("my-app", b"a small secret", context)
        assert keys.open(sealed, context) == b"a small secret"
        print(f"sealed 14 bytes into {len(sealed)}")
        try:
            keys.open(sealed, {"my-bucket": "my-bucket/another-object"})
        except kesrs.DecryptError as err:
            print(f"another context does not open it: {err.code} ({err.status})")

        # Streams: a 5 MiB file, never more than a chunk of it in memory.
        plain, sealed_path, opened = directory / "plain", directory / "sealed", directory / "opened"
        plain.write_bytes(os.urandom(5 * 1024 * 1024))
        with plain.open("rb") as src, sealed_path.open("wb") as dst:
            written = keys.seal_stream("my-app", src, dst, context)
        with sealed_path.open("rb") as src, opened.open("wb") as dst:
            keys.open_stream(src, dst, context, accept=["my-app"])
        assert opened.read_bytes() == plain.read_bytes()
        print(f"streamed {plain.stat().st_size} bytes, sealed as {written}")

        # A range: only the packages that hold it are read and decrypted.
        with sealed_path.open("rb") as src:
            middle = keys.open_range(src, 2_500_000, 16, context)
        assert middle == plain.read_bytes()[2_500_000:2_500_016]
        print(f"range at 2,500,000: {middle.hex()}")

        # Data-key reuse, opt-in: up to 100 messages per data key, within 1 MiB and 5 minutes.
        sealer = keys.with_data_key_reuse(messages=100, bytes=1 << 20, seconds=300)
        messages = [sealer.seal("my-app", f"record {n}".encode(), context) for n in range(3)]
        assert keys.open(messages[2], context) == b"record 2"


async def main_async() -> None:
    async with kesrs.AsyncKeys.in_memory() as keys:
        await keys.create_key("my-app")
        sealed = await keys.seal("my-app", b"async secret")
        assert await keys.open(sealed) == b"async secret"
        # Streams run on a worker thread: the event loop stays free.
        dst = io.BytesIO()
        await keys.seal_stream("my-app", io.BytesIO(b"x" * 200_000), dst)
        out = io.BytesIO()
        await keys.open_stream(io.BytesIO(dst.getvalue()), out)
        assert out.getvalue() == b"x" * 200_000
        print("asyncio: sealed and opened, bytes and a stream")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        main(Path(tmp))
    asyncio.run(main_async())
