"""kesrs: KES keys for Python, in this process or through a KES server.

Open a handle, then generate, encrypt and decrypt data keys that a KES server, MinIO and the other
kesrs bindings read back::

    import kesrs

    with kesrs.Keys.from_fs("/var/lib/kes/keys") as keys:   # or from_config, connect, in_memory
        keys.create_key("my-key")
        dek = keys.generate_key("my-key", {"bucket": "bucket/object"})
        ...  # encrypt with dek.plaintext, store dek.ciphertext
        plaintext = keys.decrypt("my-key", dek.ciphertext, {"bucket": "bucket/object"})

        sealed = keys.seal("my-key", b"data", {"bucket": "bucket/object"})   # a sealed message
        assert keys.open(sealed, {"bucket": "bucket/object"}) == b"data"
        # and seal_stream / open_stream / open_range over binary files, 64 KiB at a time.

`Keys` blocks (releasing the GIL), `AsyncKeys` returns awaitables. Errors are `KesError` subclasses,
in `kesrs.exceptions`.
"""

from __future__ import annotations

from kesrs._kesrs import (
    AsyncKeys,
    AsyncSealer,
    DataKey,
    KeyInfo,
    Keys,
    Sealer,
    StoreStatus,
    context_from_map,
)
from kesrs.exceptions import (
    ConfigError,
    ConnectionFailedError,
    DecryptError,
    ForkedError,
    HmacNotSupportedError,
    InternalError,
    InvalidArgumentError,
    KesError,
    KesIOError,
    KeyExistsError,
    KeyNotFoundError,
    KeyStoreUnavailableError,
    NotAllowedError,
    NotFoundError,
    ProtocolError,
    UnsupportedAlgorithmError,
)

__all__ = [
    "AsyncKeys",
    "AsyncSealer",
    "DataKey",
    "KeyInfo",
    "Keys",
    "Sealer",
    "StoreStatus",
    "context_from_map",
    "ConfigError",
    "ConnectionFailedError",
    "DecryptError",
    "ForkedError",
    "HmacNotSupportedError",
    "InternalError",
    "InvalidArgumentError",
    "KesError",
    "KesIOError",
    "KeyExistsError",
    "KeyNotFoundError",
    "KeyStoreUnavailableError",
    "NotAllowedError",
    "NotFoundError",
    "ProtocolError",
    "UnsupportedAlgorithmError",
]
