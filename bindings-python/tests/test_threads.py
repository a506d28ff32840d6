"""The GIL is released during every call, and handles are shared between threads.

Measured, not timed: while one thread is inside a call that cannot finish for a while (the fake Key
Vault delays its answers), a second thread counts the calls it completes. If the first call held the
GIL, the second thread could not run any Python at all until it returned, and would count nothing."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import List

import kesrs
from conftest import Vault, azure_config


def test_a_second_thread_runs_while_the_first_is_inside_a_call(vault: Vault, tmp_path: Path) -> None:
    config = azure_config(vault, tmp_path, timeout="20s")
    slow = kesrs.Keys.from_config(config)
    slow.create_key("gil-slow")
    fast = kesrs.Keys.in_memory()
    fast.create_key("gil-fast")

    inside = threading.Event()
    done = threading.Event()
    counted: List[int] = []

    def second_thread() -> None:
        inside.wait()
        count = 0
        while not done.is_set():
            dek = fast.generate_key("gil-fast", b"ctx")
            fast.decrypt("gil-fast", dek.ciphertext, b"ctx")
            count += 1
        counted.append(count)

    worker = threading.Thread(target=second_thread)
    worker.start()
    vault.fault("delay?ms=1000")
    try:
        # A fresh handle misses the cache, so status and describe go to the (slow) vault.
        fresh = kesrs.Keys.from_config(config)
        inside.set()
        started = time.monotonic()
        fresh.describe_key("gil-slow")
        elapsed = time.monotonic() - started
        done.set()
    finally:
        done.set()
        inside.set()
        vault.fault("clear")
        worker.join()
    assert elapsed >= 1.0, "the call was not slow: the measurement means nothing"
    # Each pair of calls takes microseconds; a hundred in a second show the GIL was free the whole time.
    print(f"second thread: {counted[0]} generate+decrypt pairs during a {elapsed:.2f} s call")
    assert counted[0] > 100, counted


def test_threads_share_a_handle_and_run_crypto_at_once() -> None:
    keys = kesrs.Keys.in_memory()
    keys.create_key("shared")
    errors: List[BaseException] = []
    per_thread = 2000

    def work(n: int) -> None:
        try:
            for i in range(per_thread):
                context = {"thread": str(n), "i": str(i)}
                dek = keys.generate_key("shared", context)
                assert keys.decrypt("shared", dek.ciphertext, context) == dek.plaintext
        except BaseException as err:  # noqa: BLE001 (reported to the main thread)
            errors.append(err)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
