"""Type stubs for the Rust extension module `kesrs._kesrs` (src/ in bindings-python).

Bytes arguments take ``bytes`` (not copied), ``bytearray`` or ``memoryview``. A context is such
bytes, or a mapping of str to str, which is bound as MinIO binds its contexts (canonical JSON, see
`context_from_map`); omitted, it is empty.
"""

import datetime
import os
from types import TracebackType
from typing import Awaitable, List, Mapping, Optional, Sequence, Type, Union

from typing_extensions import Self, TypeAlias

Buffer: TypeAlias = Union[bytes, bytearray, memoryview]
Context: TypeAlias = Union[bytes, bytearray, memoryview, Mapping[str, str]]
StrPath: TypeAlias = Union[str, "os.PathLike[str]"]

class DataKey:
    """A fresh data key: encrypt with ``plaintext``, store ``ciphertext``. Its repr shows no key bytes."""

    @property
    def plaintext(self) -> bytes:
        """The 32-byte data key. A secret: encrypt with it, never store it."""
    @property
    def ciphertext(self) -> bytes:
        """The data key encrypted under the master key, in KES's format: store it with the data."""

class KeyInfo:
    """What `describe_key` tells about a key."""

    @property
    def name(self) -> str:
        """The key's name."""
    @property
    def algorithm(self) -> str:
        """``"AES256"`` or ``"ChaCha20"``."""
    @property
    def created_at(self) -> datetime.datetime:
        """When the key was created (timezone-aware)."""
    @property
    def created_by(self) -> Optional[str]:
        """The identity that created the key, if recorded."""

class StoreStatus:
    """What `status` tells about the key store."""

    @property
    def latency(self) -> datetime.timedelta:
        """How long the key store took to answer."""

class Keys:
    """Keys in this process or behind a KES server, with blocking calls that release the GIL.

    Thread-safe. A handle made before ``os.fork()`` raises `ForkedError` in the child.
    """

    @staticmethod
    def from_config(path: StrPath) -> Keys:
        """A local handle over the key store a KES config file names."""
    @staticmethod
    def from_fs(path: StrPath) -> Keys:
        """A local handle over a KES fs key store (a directory, created if missing)."""
    @staticmethod
    def in_memory() -> Keys:
        """A local handle over keys kept in memory. For tests."""
    @staticmethod
    def connect(
        endpoints: Sequence[str],
        *,
        api_key: Optional[str] = None,
        cert: Optional[StrPath] = None,
        key: Optional[StrPath] = None,
        ca: Optional[StrPath] = None,
    ) -> Keys:
        """A remote handle: a KES server at ``endpoints``, with an API key or a certificate and key."""
    @property
    def is_remote(self) -> bool:
        """Whether this handle asks a KES server."""
    def create_key(self, name: str) -> None:
        """Creates a new AES256 key. Raises `KeyExistsError` if there is one."""
    def import_key(self, name: str, key: Buffer, algorithm: str = "AES256") -> None:
        """Imports a 32-byte key for ``algorithm`` (``"AES256"`` or ``"ChaCha20"``)."""
    def describe_key(self, name: str) -> KeyInfo:
        """Describes a key."""
    def delete_key(self, name: str) -> None:
        """Deletes a key."""
    def list_keys(self, pattern: str = "*") -> List[str]:
        """The names of the keys ``pattern`` selects, sorted."""
    def generate_key(self, name: str, context: Optional[Context] = None) -> DataKey:
        """A fresh data key and its ciphertext under ``name``, bound to ``context``."""
    def encrypt(self, name: str, plaintext: Buffer, context: Optional[Context] = None) -> bytes:
        """Encrypts a small plaintext under ``name``, bound to ``context``, in KES's format."""
    def decrypt(self, name: str, ciphertext: Buffer, context: Optional[Context] = None) -> bytes:
        """Decrypts a KES ciphertext. Raises `DecryptError` if it is not authentic."""
    def hmac(self, name: str, message: Buffer) -> bytes:
        """HMAC-SHA256 of ``message`` under the key's HMAC key (32 bytes)."""
    def status(self) -> StoreStatus:
        """The key store's health, or `KeyStoreUnavailableError`."""
    def close(self) -> None:
        """Lets go of the key store and connections; later calls raise `InvalidArgumentError`."""
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None: ...

class AsyncKeys:
    """Keys like `Keys`, whose calls are awaitables for asyncio. Usable with ``async with``."""

    @staticmethod
    def from_config(path: StrPath) -> AsyncKeys:
        """A local handle over the key store a KES config file names."""
    @staticmethod
    def from_fs(path: StrPath) -> AsyncKeys:
        """A local handle over a KES fs key store (a directory, created if missing)."""
    @staticmethod
    def in_memory() -> AsyncKeys:
        """A local handle over keys kept in memory. For tests."""
    @staticmethod
    def connect(
        endpoints: Sequence[str],
        *,
        api_key: Optional[str] = None,
        cert: Optional[StrPath] = None,
        key: Optional[StrPath] = None,
        ca: Optional[StrPath] = None,
    ) -> AsyncKeys:
        """A remote handle: a KES server at ``endpoints``, with an API key or a certificate and key."""
    @property
    def is_remote(self) -> bool:
        """Whether this handle asks a KES server."""
    def create_key(self, name: str) -> Awaitable[None]:
        """Creates a new AES256 key. Raises `KeyExistsError` if there is one."""
    def import_key(self, name: str, key: Buffer, algorithm: str = "AES256") -> Awaitable[None]:
        """Imports a 32-byte key for ``algorithm``."""
    def describe_key(self, name: str) -> Awaitable[KeyInfo]:
        """Describes a key."""
    def delete_key(self, name: str) -> Awaitable[None]:
        """Deletes a key."""
    def list_keys(self, pattern: str = "*") -> Awaitable[List[str]]:
        """The names of the keys ``pattern`` selects, sorted."""
    def generate_key(self, name: str, context: Optional[Context] = None) -> Awaitable[DataKey]:
        """A fresh data key and its ciphertext under ``name``, bound to ``context``."""
    def encrypt(
        self, name: str, plaintext: Buffer, context: Optional[Context] = None
    ) -> Awaitable[bytes]:
        """Encrypts a small plaintext under ``name``, bound to ``context``."""
    def decrypt(
        self, name: str, ciphertext: Buffer, context: Optional[Context] = None
    ) -> Awaitable[bytes]:
        """Decrypts a KES ciphertext. Raises `DecryptError` if it is not authentic."""
    def hmac(self, name: str, message: Buffer) -> Awaitable[bytes]:
        """HMAC-SHA256 of ``message`` under the key's HMAC key (32 bytes)."""
    def status(self) -> Awaitable[StoreStatus]:
        """The key store's health, or `KeyStoreUnavailableError`."""
    def close(self) -> None:
        """Lets go of the key store and connections; later calls raise `InvalidArgumentError`."""
    def __aenter__(self) -> Awaitable[Self]: ...
    def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> Awaitable[None]: ...

def context_from_map(context: Mapping[str, str]) -> bytes:
    """The bytes a mapping context is bound as: MinIO's canonical JSON (sorted keys, no spaces)."""
