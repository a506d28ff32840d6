"""A handle made before `fork()` fails at once in the child with `ForkedError`, sync or async, and never
hangs; a handle made in the child works. Each child runs under a timeout, so a hang fails the test."""

from __future__ import annotations

import asyncio
import multiprocessing
from typing import Tuple

import kesrs

TIMEOUT = 30

# Made before the fork and used in the parent first, so that the runtime behind them is running.
PARENT = kesrs.Keys.in_memory()
PARENT.create_key("parent")
PARENT_ASYNC = kesrs.AsyncKeys.in_memory()


async def _use_async_in_parent() -> None:
    await PARENT_ASYNC.create_key("parent")


asyncio.run(_use_async_in_parent())


def use_parent_handle() -> Tuple[str, str, int]:
    try:
        PARENT.generate_key("parent")
    except kesrs.ForkedError as err:
        return type(err).__name__, err.code, err.status
    return "no error", "", 0


def use_parent_async_handle() -> str:
    async def call() -> str:
        try:
            await PARENT_ASYNC.generate_key("parent")
        except kesrs.ForkedError as err:
            return err.code
        return "no error"

    return asyncio.run(call())


def use_a_new_handle() -> bool:
    keys = kesrs.Keys.in_memory()
    keys.create_key("child")
    dek = keys.generate_key("child", b"ctx")
    return keys.decrypt("child", dek.ciphertext, b"ctx") == dek.plaintext


def use_a_new_async_handle() -> bool:
    async def call() -> bool:
        keys = kesrs.AsyncKeys.in_memory()
        await keys.create_key("child")
        dek = await keys.generate_key("child", b"ctx")
        return bool(await keys.decrypt("child", dek.ciphertext, b"ctx") == dek.plaintext)

    return asyncio.run(call())


def test_fork() -> None:
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        assert pool.apply_async(use_parent_handle).get(TIMEOUT) == ("ForkedError", "KES_FORKED", 500)
        assert pool.apply_async(use_parent_async_handle).get(TIMEOUT) == "KES_FORKED"
        assert pool.apply_async(use_a_new_handle).get(TIMEOUT) is True
        assert pool.apply_async(use_a_new_async_handle).get(TIMEOUT) is True
    # The parent's handles still work.
    assert PARENT.list_keys() == ["parent"]
