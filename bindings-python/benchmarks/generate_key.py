"""Local `generate_key` calls per second from one Python thread (docs/performance.md, "Python").

    python bindings-python/benchmarks/generate_key.py [SECONDS]

Measure a release build (`pip install ./bindings-python`, maturin's default profile). An in-memory
handle: what is measured is the binding and core's crypto, not a disk.
"""

from __future__ import annotations

import sys
from typing import Callable

import kesrs
from calls import rate as calls_per_second


def rate(call: Callable[[], object], seconds: float) -> float:
    return calls_per_second(call, seconds, batch=10_000)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    keys = kesrs.Keys.in_memory()
    keys.create_key("bench")
    dek = keys.generate_key("bench", b"bucket/object")
    rate(lambda: keys.generate_key("bench", b"bucket/object"), 0.5)  # warm-up
    results = {
        "generate_key (bytes context)": rate(lambda: keys.generate_key("bench", b"bucket/object"), seconds),
        "generate_key (dict context)": rate(
            lambda: keys.generate_key("bench", {"bucket": "bucket/object"}), seconds
        ),
        "decrypt": rate(lambda: keys.decrypt("bench", dek.ciphertext, b"bucket/object"), seconds),
    }
    for name, calls in results.items():
        print(f"{name:30} {calls:12,.0f} calls/s  ({1e6 / calls:.2f} µs/call)")


if __name__ == "__main__":
    main()
