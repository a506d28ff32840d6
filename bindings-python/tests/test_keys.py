"""Every method, sync and async, in every mode: memory, fs, a KES config over fs, a KES config over
Azure Key Vault (the fake), and a real `kesrs server` with an API key and with a client certificate.
One body per form checks the same contract everywhere."""

from __future__ import annotations

import asyncio
import datetime
import pickle
from typing import Any, Callable

import pytest

import kesrs


def check_data_key(dek: kesrs.DataKey) -> None:
    assert isinstance(dek.plaintext, bytes) and len(dek.plaintext) == 32
    assert isinstance(dek.ciphertext, bytes) and len(dek.ciphertext) > 32
    # No key bytes in the repr, in any spelling.
    text = repr(dek)
    assert dek.plaintext.hex() not in text and str(dek.plaintext) not in text
    assert dek.ciphertext.hex() not in text
    assert text == f"DataKey(ciphertext=<{len(dek.ciphertext)} bytes>)"


def test_sync_contract(open_keys: Callable[[type], Any], prefix: str, mode: str) -> None:
    with open_keys(kesrs.Keys) as keys:
        assert keys.is_remote == mode.startswith("remote")
        key = f"{prefix}-key"
        keys.create_key(key)
        with pytest.raises(kesrs.KeyExistsError):
            keys.create_key(key)
        info = keys.describe_key(key)
        assert (info.name, info.algorithm) == (key, "AES256")
        assert isinstance(info.created_at, datetime.datetime) and info.created_at.tzinfo is not None
        assert key in repr(info)

        # Contexts: bytes, a dict (MinIO's canonical JSON), or none.
        for context in [b"bucket/object", {"bucket": "bucket/object", "a": "b"}, None]:
            dek = keys.generate_key(key, context)
            check_data_key(dek)
            assert keys.decrypt(key, dek.ciphertext, context) == dek.plaintext
            with pytest.raises(kesrs.DecryptError):
                keys.decrypt(key, dek.ciphertext, b"another object")
        # A dict context is exactly its canonical bytes.
        dek = keys.generate_key(key, {"b": "2", "a": "1"})
        assert keys.decrypt(key, dek.ciphertext, b'{"a":"1","b":"2"}') == dek.plaintext
        assert keys.decrypt(key, bytearray(dek.ciphertext), {"a": "1", "b": "2"}) == dek.plaintext

        ciphertext = keys.encrypt(key, b"a secret", b"ctx")
        assert keys.decrypt(key, ciphertext, b"ctx") == b"a secret"
        assert keys.decrypt(key, memoryview(ciphertext), b"ctx") == b"a secret"

        mac = keys.hmac(key, b"message")
        assert len(mac) == 32 and keys.hmac(key, b"message") == mac
        assert keys.hmac(key, b"other message") != mac

        imported = f"{prefix}-imported"
        keys.import_key(imported, bytes(range(32)))
        assert keys.decrypt(imported, keys.encrypt(imported, b"x"), b"") == b"x"
        keys.import_key(f"{prefix}-chacha", bytes(32), algorithm="ChaCha20")
        assert keys.describe_key(f"{prefix}-chacha").algorithm == "ChaCha20"
        with pytest.raises(kesrs.InvalidArgumentError) as short:
            keys.import_key(f"{prefix}-short", bytes(31))
        assert short.value.status == 406

        assert keys.list_keys(f"{prefix}-*") == [f"{prefix}-chacha", imported, key]
        assert key in keys.list_keys()
        latency = keys.status().latency
        assert isinstance(latency, datetime.timedelta)

        keys.delete_key(imported)
        with pytest.raises(kesrs.KeyNotFoundError) as missing:
            keys.describe_key(imported)
        assert (missing.value.status, missing.value.message) == (404, "key does not exist")
        with pytest.raises(kesrs.KeyNotFoundError):
            keys.generate_key(imported)
        with pytest.raises(kesrs.KeyNotFoundError):
            keys.delete_key(imported)

        # Exceptions pickle whole (multiprocessing sends them between processes).
        again = pickle.loads(pickle.dumps(missing.value))
        assert type(again) is kesrs.KeyNotFoundError
        assert (again.status, again.message, again.code) == (404, "key does not exist", "KES_KEY_NOT_FOUND")

    # Leaving the `with` closed the handle.
    assert repr(keys).endswith("(closed)")
    with pytest.raises(kesrs.InvalidArgumentError, match="closed"):
        keys.list_keys()


def test_async_contract(open_keys: Callable[[type], Any], prefix: str, mode: str) -> None:
    async def contract() -> None:
        async with open_keys(kesrs.AsyncKeys) as keys:
            assert keys.is_remote == mode.startswith("remote")
            key = f"{prefix}-akey"
            assert await keys.create_key(key) is None
            with pytest.raises(kesrs.KeyExistsError):
                await keys.create_key(key)
            info = await keys.describe_key(key)
            assert (info.name, info.algorithm) == (key, "AES256")

            # Many calls in flight at once, on one event loop.
            deks = await asyncio.gather(*(keys.generate_key(key, {"n": str(n)}) for n in range(20)))
            for n, dek in enumerate(deks):
                check_data_key(dek)
                assert await keys.decrypt(key, dek.ciphertext, {"n": str(n)}) == dek.plaintext
            with pytest.raises(kesrs.DecryptError):
                await keys.decrypt(key, deks[0].ciphertext, {"n": "1"})

            ciphertext = await keys.encrypt(key, b"a secret", b"ctx")
            assert await keys.decrypt(key, ciphertext, b"ctx") == b"a secret"
            mac = await keys.hmac(key, b"message")
            assert len(mac) == 32 and await keys.hmac(key, b"message") == mac

            imported = f"{prefix}-aimported"
            await keys.import_key(imported, bytes(range(32)))
            assert await keys.decrypt(imported, await keys.encrypt(imported, b"x"), None) == b"x"
            with pytest.raises(kesrs.UnsupportedAlgorithmError):
                await keys.import_key(f"{prefix}-des", bytes(32), "DES")
            assert await keys.list_keys(f"{prefix}-a*") == [imported, key]
            assert isinstance((await keys.status()).latency, datetime.timedelta)

            await keys.delete_key(imported)
            with pytest.raises(kesrs.KeyNotFoundError):
                await keys.describe_key(imported)
            # An invalid argument raises when the call is made, before anything is awaited.
            with pytest.raises(kesrs.InvalidArgumentError):
                keys.describe_key("not a valid name")
        with pytest.raises(kesrs.InvalidArgumentError, match="closed"):
            await keys.list_keys()

    asyncio.run(contract())


def test_sync_and_async_handles_share_keys(
    open_keys: Callable[[type], Any], prefix: str, mode: str
) -> None:
    """What one form makes, the other reads, in every mode with a store two handles can share."""
    keys = open_keys(kesrs.Keys)
    key = f"{prefix}-shared"
    keys.create_key(key)
    dek = keys.generate_key(key, b"ctx")

    async def read_back() -> bytes:
        return bytes(await open_keys(kesrs.AsyncKeys).decrypt(key, dek.ciphertext, b"ctx"))

    if mode == "memory":
        # Each in-memory handle is a store of its own.
        with pytest.raises(kesrs.KeyNotFoundError):
            asyncio.run(read_back())
    else:
        assert asyncio.run(read_back()) == dek.plaintext
