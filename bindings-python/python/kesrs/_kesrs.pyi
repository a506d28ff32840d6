"""Type stubs for the Rust extension module `kesrs._kesrs` (src/ in bindings-python).

Bytes arguments take ``bytes`` (not copied), ``bytearray`` or ``memoryview``. A context is such
bytes, or a mapping of str to str, which is bound as MinIO binds its contexts (canonical JSON, see
`context_from_map`); omitted, it is empty.

Streams take binary file objects: a source has ``read(n) -> bytes`` (``b""`` at the end), a
destination ``write(b)`` (returning the count written, or ``None``); `open_range` also needs
``seek(offset, whence)``. Open files (``open(path, "rb")``), ``io.BytesIO``, sockets' ``makefile``
and the like all qualify.
"""

import datetime
import os
from types import TracebackType
from typing import Awaitable, List, Mapping, Optional, Protocol, Sequence, Type, Union

from typing_extensions import Self, TypeAlias

class Readable(Protocol):
    """A binary source: ``read(n)`` returns up to ``n`` bytes, ``b""`` at the end."""

    def read(self, n: int, /) -> bytes: ...

class Writable(Protocol):
    """A binary destination: ``write(b)`` returns the count written, or ``None`` for all of it."""

    def write(self, data: bytes, /) -> Optional[int]: ...

class SeekableReadable(Readable, Protocol):
    """A binary source that can also ``seek(offset, whence)`` and return the new position."""

    def seek(self, offset: int, whence: int = 0, /) -> int: ...

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
    def seal(self, name: str, data: Buffer, context: Optional[Context] = None) -> bytes:
        """Seals ``data`` under ``name``, bound to ``context``: a fresh data key and the envelope of
        docs/envelope.md. `open` gives ``data`` back with the same context."""
    def open(
        self,
        sealed: Buffer,
        context: Optional[Context] = None,
        *,
        accept: Optional[Sequence[str]] = None,
    ) -> bytes:
        """Opens a sealed message. Raises `DecryptError` if it is tampered, truncated or bound to
        another context; `NotAllowedError` if ``accept`` (KES patterns) does not match its key."""
    def seal_stream(
        self, name: str, src: Readable, dst: Writable, context: Optional[Context] = None
    ) -> int:
        """Seals all of ``src`` into ``dst``, 64 KiB at a time (bounded memory; the GIL is held only
        for each read and write). Returns the number of bytes written to ``dst``."""
    def open_stream(
        self,
        src: Readable,
        dst: Writable,
        context: Optional[Context] = None,
        *,
        accept: Optional[Sequence[str]] = None,
    ) -> int:
        """Opens the sealed message in ``src`` into ``dst``, 64 KiB at a time; returns the plaintext
        bytes written. If it raises, discard what ``dst`` received."""
    def open_range(
        self,
        src: SeekableReadable,
        offset: int,
        length: int,
        context: Optional[Context] = None,
        *,
        accept: Optional[Sequence[str]] = None,
    ) -> bytes:
        """``length`` plaintext bytes from ``offset`` of the sealed message in ``src`` (from its
        current position to its end), reading only the 64 KiB packages the range covers."""
    def with_data_key_reuse(self, *, messages: int, bytes: int, seconds: float) -> Sealer:
        """A `Sealer` that reuses a data key for up to ``messages`` messages, ``bytes`` bytes and
        ``seconds`` seconds per (key name, context). Closing this handle closes it."""
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
    def seal(
        self, name: str, data: Buffer, context: Optional[Context] = None
    ) -> Awaitable[bytes]:
        """Seals ``data`` under ``name``, bound to ``context``. See `Keys.seal`."""
    def open(
        self,
        sealed: Buffer,
        context: Optional[Context] = None,
        *,
        accept: Optional[Sequence[str]] = None,
    ) -> Awaitable[bytes]:
        """Opens a sealed message. See `Keys.open`."""
    def seal_stream(
        self, name: str, src: Readable, dst: Writable, context: Optional[Context] = None
    ) -> Awaitable[int]:
        """`Keys.seal_stream` on a worker thread of kesrs' runtime: the event loop never blocks on the
        files; ``src`` and ``dst`` are called from that thread."""
    def open_stream(
        self,
        src: Readable,
        dst: Writable,
        context: Optional[Context] = None,
        *,
        accept: Optional[Sequence[str]] = None,
    ) -> Awaitable[int]:
        """`Keys.open_stream` on a worker thread, as `seal_stream`."""
    def open_range(
        self,
        src: SeekableReadable,
        offset: int,
        length: int,
        context: Optional[Context] = None,
        *,
        accept: Optional[Sequence[str]] = None,
    ) -> Awaitable[bytes]:
        """`Keys.open_range` on a worker thread, as `seal_stream`."""
    def with_data_key_reuse(self, *, messages: int, bytes: int, seconds: float) -> AsyncSealer:
        """An `AsyncSealer`: `Keys.with_data_key_reuse` for asyncio."""
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

class Sealer:
    """`seal` with data-key reuse, from `Keys.with_data_key_reuse`. Open with the handle's `open`."""

    def seal(self, name: str, data: Buffer, context: Optional[Context] = None) -> bytes:
        """Seals ``data`` under ``name``, reusing a data key within the limits."""

class AsyncSealer:
    """`seal` with data-key reuse, from `AsyncKeys.with_data_key_reuse`."""

    def seal(
        self, name: str, data: Buffer, context: Optional[Context] = None
    ) -> Awaitable[bytes]:
        """Seals ``data`` under ``name``, reusing a data key within the limits."""

def context_from_map(context: Mapping[str, str]) -> bytes:
    """The bytes a mapping context is bound as: MinIO's canonical JSON (sorted keys, no spaces)."""
