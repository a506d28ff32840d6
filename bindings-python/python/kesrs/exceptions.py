"""The exceptions kesrs raises: `KesError` and one subclass per kind of error.

Each carries what a KES server would answer: ``status`` (the HTTP status code), ``message`` (KES's
exact message, the text MinIO matches on) and ``code`` (a stable name such as ``KES_KEY_NOT_FOUND``,
the same in the C and Node bindings). ``str(err)`` adds the cause where core knows one.

The classes are plain Python so that they pickle (an error raised in a ``multiprocessing`` worker
reaches the parent whole) and so that ``InvalidArgumentError`` can also be a ``ValueError``.
"""

from __future__ import annotations

from typing import Optional

__all__ = [
    "KesError",
    "InvalidArgumentError",
    "KeyNotFoundError",
    "KeyExistsError",
    "NotAllowedError",
    "DecryptError",
    "KeyStoreUnavailableError",
    "HmacNotSupportedError",
    "UnsupportedAlgorithmError",
    "NotFoundError",
    "ConnectionFailedError",
    "ProtocolError",
    "ConfigError",
    "ForkedError",
    "InternalError",
    "KesIOError",
]


class KesError(Exception):
    """Any error from kesrs. Catch a subclass to handle one kind."""

    status: int
    """The HTTP status code a KES server answers with for this error."""
    message: str
    """KES's message for this error, byte for byte."""
    code: str
    """The kind of error as a stable name, e.g. ``KES_KEY_NOT_FOUND``."""

    def __init__(self, message: str, status: int, code: str, detail: Optional[str] = None) -> None:
        # All four stay in `args`, so the exception pickles and unpickles whole.
        super().__init__(message, status, code, detail)
        self.message = message
        self.status = status
        self.code = code
        self._detail = detail if detail is not None else message

    def __str__(self) -> str:
        return self._detail

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status}, code={self.code!r})"


class InvalidArgumentError(KesError, ValueError):
    """A key name, pattern, key, API key, certificate or other argument is invalid
    (``KES_INVALID_ARGUMENT``); also a ``ValueError``. A closed handle raises it too."""


class KeyNotFoundError(KesError):
    """The key does not exist (``KES_KEY_NOT_FOUND``, status 404)."""


class KeyExistsError(KesError):
    """A key of that name already exists (``KES_KEY_EXISTS``, status 400)."""


class NotAllowedError(KesError):
    """The server's policy does not allow the call (``KES_NOT_ALLOWED``, status 403; remote only)."""


class DecryptError(KesError):
    """A ciphertext is not authentic: tampered with, truncated, or made with another key or context
    (``KES_DECRYPT_FAILED``, status 400)."""


class KeyStoreUnavailableError(KesError):
    """The key store (or, remotely, the server's key store) failed or cannot be reached
    (``KES_KEY_STORE_UNAVAILABLE``, status 502 or 504)."""


class HmacNotSupportedError(KesError):
    """The key is a legacy key without an HMAC key (``KES_HMAC_NOT_SUPPORTED``, status 409)."""


class UnsupportedAlgorithmError(KesError):
    """An imported key names an algorithm KES does not know (``KES_UNSUPPORTED_ALGORITHM``, 406)."""


class NotFoundError(KesError):
    """A policy or identity does not exist (``KES_NOT_FOUND``, status 404; remote only)."""


class ConnectionFailedError(KesError):
    """No KES server could be reached, or its TLS or credentials were refused (``KES_CONNECTION``).

    Not named ``ConnectionError``, so that it does not hide Python's built-in of that name."""


class ProtocolError(KesError):
    """A KES server answered something that does not follow the protocol (``KES_PROTOCOL``)."""


class ConfigError(KesError):
    """The KES config file is invalid (``KES_CONFIG``); ``str(err)`` says where and why."""


class ForkedError(KesError):
    """The handle was opened in the parent of this forked process (``KES_FORKED``): open a new one
    in the child."""


class InternalError(KesError):
    """An internal failure: randomness, the runtime, a server error without a kind of its own
    (``KES_INTERNAL``)."""


class KesIOError(KesError, OSError):
    """Reading or writing a stream's data failed (``KES_IO``, status 500), without the file object
    raising: ``read()`` returned ``None`` (a non-blocking file), ``write()`` wrote nothing, or the
    interpreter was exiting. Also an ``OSError``. An exception the file object raises is raised
    as it is, not as this."""

    def __init__(self, message: str, status: int, code: str, detail: Optional[str] = None) -> None:
        super().__init__(message, status, code, detail)
        # OSError's fields, as an OSError without an errno has them.
        self.errno = None
        self.strerror = self._detail
        self.filename = None

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # OSError keeps only two of the four arguments in `args`: pickle all four.
        return (type(self), (self.message, self.status, self.code, self._detail))
