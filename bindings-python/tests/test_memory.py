"""1,000,000 mixed calls keep the resident set flat: whatever grows in the second half is a leak.

RSS is read from /proc after each half; the first half warms up allocators, caches and the runtime.
"""

from __future__ import annotations

import os

import kesrs

CALLS = 1_000_000


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_a_million_calls_keep_rss_flat() -> None:
    keys = kesrs.Keys.in_memory()
    keys.create_key("leak")
    dek = keys.generate_key("leak", b"ctx")
    ciphertext = keys.encrypt("leak", b"x" * 64, {"a": "b"})

    def half() -> int:
        # Five kinds of call per round, errors included (they build exception objects).
        for _ in range(CALLS // 10):
            keys.generate_key("leak", b"ctx")
            keys.decrypt("leak", dek.ciphertext, b"ctx")
            keys.decrypt("leak", ciphertext, {"a": "b"})
            keys.hmac("leak", b"message")
            try:
                keys.describe_key("missing")
            except kesrs.KeyNotFoundError:
                pass
        return rss_bytes()

    start = rss_bytes()
    first = half()
    second = half()
    growth_first, growth_second = first - start, second - first
    print(f"RSS: start {start >> 20} MiB, +{growth_first >> 10} KiB, then +{growth_second >> 10} KiB")
    # A leak of even 8 bytes per call would add about 4 MiB in the second half.
    assert growth_second < 2 << 20, (growth_first, growth_second)
