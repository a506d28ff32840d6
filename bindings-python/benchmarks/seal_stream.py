"""`Keys.seal_stream` of 1 GiB against pyca/cryptography's `AESGCM` encrypting the same bytes in 64 KiB
chunks, in the same run (docs/performance.md, "Python").

    pip install cryptography
    python bindings-python/benchmarks/seal_stream.py [GIB] [ROUNDS]

Measure a release build (`pip install ./bindings-python`). Both sides read the same 64 KiB block from
a Python source object and write each result to a Python sink that counts and drops it, so both pay
the same per-chunk Python calls and neither touches a disk. `AESGCM` is the floor: one AEAD call per
chunk and nothing else; `seal_stream` adds the envelope (a data key, the header, DARE framing). Rounds
alternate the two, and the best of each is kept: the machine may be shared. The load average is
printed beside the numbers.
"""

from __future__ import annotations

import io
import os
import sys
import time
from typing import Callable, Dict, List, Tuple

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import kesrs

CHUNK = 64 * 1024


class Source:
    """`size` bytes, as the same 64 KiB block over and over."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.block = os.urandom(CHUNK)

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        n = min(n if n >= 0 else CHUNK, self.left, CHUNK)
        self.left -= n
        return self.block if n == CHUNK else self.block[:n]


class Sink:
    """Counts what is written, and drops it."""

    def __init__(self) -> None:
        self.n = 0

    def write(self, data: bytes) -> int:
        self.n += len(data)
        return len(data)


def kesrs_seal(keys: kesrs.Keys, size: int) -> int:
    sink = Sink()
    keys.seal_stream("bench", Source(size), sink, b"bucket/object")
    return sink.n


def aesgcm_chunks(size: int) -> int:
    aead = AESGCM(AESGCM.generate_key(bit_length=256))
    src, sink = Source(size), Sink()
    counter = 0
    while True:
        chunk = src.read(CHUNK)
        if not chunk:
            return sink.n
        sink.write(aead.encrypt(counter.to_bytes(12, "little"), chunk, None))
        counter += 1


def timed(call: Callable[[], int]) -> Tuple[float, int]:
    start = time.perf_counter()
    written = call()
    return time.perf_counter() - start, written


def main() -> None:
    gib = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    size = int(gib * (1 << 30))
    keys = kesrs.Keys.in_memory()
    keys.create_key("bench")
    kesrs_seal(keys, 16 * CHUNK)  # warm-up
    aesgcm_chunks(16 * CHUNK)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    best: Dict[str, float] = {}
    runs: Dict[str, List[float]] = {"kesrs seal_stream": [], "cryptography AESGCM 64 KiB": []}
    for _ in range(rounds):
        for name, call in [
            ("kesrs seal_stream", lambda: kesrs_seal(keys, size)),
            ("cryptography AESGCM 64 KiB", lambda: aesgcm_chunks(size)),
        ]:
            seconds, written = timed(call)
            assert written >= size
            rate = size / seconds / (1 << 20)
            runs[name].append(rate)
            best[name] = max(best.get(name, 0.0), rate)
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name, rates in runs.items():
        shown = ", ".join(f"{r:,.0f}" for r in rates)
        print(f"{name:28} best {best[name]:8,.0f} MiB/s  (rounds: {shown})")
    ratio = best["kesrs seal_stream"] / best["cryptography AESGCM 64 KiB"]
    print(f"ratio seal_stream / AESGCM: {ratio:.2f}x  ({gib:g} GiB, {rounds} rounds)")
    # Opening, for the record (no target): the stream just sealed, through BytesIO.
    sealed = io.BytesIO()
    keys.seal_stream("bench", Source(min(size, 256 << 20)), sealed, b"bucket/object")
    sealed.seek(0)
    seconds, opened = timed(lambda: keys.open_stream(sealed, Sink(), b"bucket/object"))
    print(f"kesrs open_stream (256 MiB from memory): {opened / seconds / (1 << 20):,.0f} MiB/s")


if __name__ == "__main__":
    main()
