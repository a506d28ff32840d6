"""Every exception class: raised for what it stands for, with KES's status, message and code."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Iterator, Type

import pytest

import kesrs
from conftest import FAKE_KES, Lines, Server, Vault, azure_config, new_certificate

# Every class and its code.
CLASSES = [
    (kesrs.InvalidArgumentError, "KES_INVALID_ARGUMENT"),
    (kesrs.KeyNotFoundError, "KES_KEY_NOT_FOUND"),
    (kesrs.KeyExistsError, "KES_KEY_EXISTS"),
    (kesrs.NotAllowedError, "KES_NOT_ALLOWED"),
    (kesrs.DecryptError, "KES_DECRYPT_FAILED"),
    (kesrs.KeyStoreUnavailableError, "KES_KEY_STORE_UNAVAILABLE"),
    (kesrs.HmacNotSupportedError, "KES_HMAC_NOT_SUPPORTED"),
    (kesrs.UnsupportedAlgorithmError, "KES_UNSUPPORTED_ALGORITHM"),
    (kesrs.NotFoundError, "KES_NOT_FOUND"),
    (kesrs.ConnectionFailedError, "KES_CONNECTION"),
    (kesrs.ProtocolError, "KES_PROTOCOL"),
    (kesrs.ConfigError, "KES_CONFIG"),
    (kesrs.ForkedError, "KES_FORKED"),
    (kesrs.InternalError, "KES_INTERNAL"),
    (kesrs.KesIOError, "KES_IO"),
]


def raised(cls: Type[kesrs.KesError], call: object, *args: object, **kwargs: object) -> kesrs.KesError:
    with pytest.raises(cls) as info:
        call(*args, **kwargs)  # type: ignore[operator]
    err = info.value
    assert type(err) is cls, repr(err)
    assert isinstance(err, kesrs.KesError)
    assert dict(CLASSES)[cls] == err.code
    assert isinstance(err.status, int) and isinstance(err.message, str) and err.message
    assert str(err)  # KES's message, or core's fuller account of the cause
    return err


def test_every_class_is_a_kes_error_with_a_docstring() -> None:
    assert len(CLASSES) == len(kesrs.exceptions.__all__) - 1
    for cls, code in CLASSES:
        assert issubclass(cls, kesrs.KesError) and cls.__doc__, cls
        assert code in cls.__doc__, cls
    assert issubclass(kesrs.InvalidArgumentError, ValueError)
    assert issubclass(kesrs.KesIOError, OSError)
    assert kesrs.KesError.__doc__


def test_local_errors(tmp_path: Path) -> None:
    keys = kesrs.Keys.in_memory()
    err = raised(kesrs.InvalidArgumentError, keys.create_key, "no spaces allowed")
    assert (err.status, err.message) == (
        400,
        "key name 'no spaces allowed' is empty, too long or contains invalid characters",
    )
    raised(kesrs.InvalidArgumentError, keys.list_keys, "*-*")
    keys.create_key("k")
    err = raised(kesrs.KeyExistsError, keys.create_key, "k")
    assert (err.status, err.message) == (400, "key already exists")
    err = raised(kesrs.KeyNotFoundError, keys.describe_key, "nope")
    assert (err.status, err.message) == (404, "key does not exist")
    err = raised(kesrs.DecryptError, keys.decrypt, "k", b"not a ciphertext", b"")
    assert (err.status, err.message) == (400, "decryption failed: ciphertext is not authentic")
    err = raised(kesrs.UnsupportedAlgorithmError, keys.import_key, "des", bytes(32), "DES")
    assert (err.status, err.message) == (406, "algorithm 'DES' is not supported")

    class NonBlocking:
        def read(self, n: int) -> None:
            return None

    err = raised(kesrs.KesIOError, keys.seal_stream, "k", NonBlocking(), io.BytesIO())
    assert (err.status, err.message) == (500, "I/O failed")

    # Wrong Python types are TypeErrors, not KES errors.
    with pytest.raises(TypeError):
        keys.encrypt("k", "text is not bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        keys.generate_key("k", {"a": 1})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        kesrs.Keys.connect("https://a.single.string:7373", api_key="x")  # type: ignore[arg-type]

    # A key directory that is a file: the key store fails.
    (tmp_path / "file").write_text("")
    raised(kesrs.KeyStoreUnavailableError, lambda: kesrs.Keys.from_fs(tmp_path / "file").list_keys())

    config = tmp_path / "bad.yml"
    config.write_text("keystore:\n  fs: {}\n")
    err = raised(kesrs.ConfigError, kesrs.Keys.from_config, config)
    assert err.status == 500
    raised(kesrs.ConfigError, kesrs.AsyncKeys.from_config, tmp_path / "missing.yml")


def test_hmac_of_a_legacy_key(tmp_path: Path) -> None:
    # A key as KES before 2023 stored it: JSON, without an HMAC key.
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir()
    (keys_dir / "legacy").write_text(
        '{"bytes":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","algorithm":"AES256-GCM_SHA256",'
        '"created_at":"2022-01-01T00:00:00Z","created_by":"legacy"}'
    )
    keys = kesrs.Keys.from_fs(keys_dir)
    assert keys.describe_key("legacy").created_by == "legacy"
    err = raised(kesrs.HmacNotSupportedError, keys.hmac, "legacy", b"message")
    assert (err.status, err.message) == (409, "key does not support HMAC")


def test_connect_errors(server: Server, tmp_path: Path) -> None:
    raised(kesrs.InvalidArgumentError, kesrs.Keys.connect, [], api_key=server.admin.api_key)
    raised(kesrs.InvalidArgumentError, kesrs.Keys.connect, [server.endpoint])
    raised(kesrs.InvalidArgumentError, kesrs.Keys.connect, [server.endpoint], api_key="kes:v1:nonsense")
    raised(
        kesrs.InvalidArgumentError,
        kesrs.Keys.connect,
        [server.endpoint],
        api_key=server.admin.api_key,
        cert=server.app.cert,
        key=server.app.key,
    )
    raised(kesrs.InvalidArgumentError, kesrs.Keys.connect, [server.endpoint], cert=server.app.cert)
    raised(
        kesrs.InvalidArgumentError,
        kesrs.Keys.connect,
        [server.endpoint],
        api_key=server.admin.api_key,
        ca=tmp_path / "missing.pem",
    )

    stranger = server.connect(server.stranger)
    err = raised(kesrs.NotAllowedError, stranger.describe_key, "anything")
    assert (err.status, err.message) == (403, "not authorized: insufficient permissions")

    # Nobody listens there.
    unreachable = kesrs.Keys.connect(
        ["https://127.0.0.1:1"], api_key=server.admin.api_key, ca=server.ca
    )
    raised(kesrs.ConnectionFailedError, unreachable.status)


@pytest.fixture(scope="module")
def wrong_server(kesrs_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("fake-kes")
    tls = new_certificate(kesrs_bin, directory, "server", "--ip", "127.0.0.1")
    process = subprocess.Popen(
        [sys.executable, str(FAKE_KES), str(tls.cert), str(tls.key)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = Lines(process.stdout).wait_for(r"listening on ([0-9]+)", process).group(1)  # type: ignore[arg-type]
        yield f"https://127.0.0.1:{port}|{tls.cert}"
    finally:
        process.kill()
        process.wait()


def test_errors_a_real_server_never_sends(wrong_server: str, server: Server) -> None:
    endpoint, ca = wrong_server.split("|")
    keys = kesrs.Keys.connect([endpoint], api_key=server.admin.api_key, ca=ca)
    err = raised(kesrs.NotFoundError, keys.describe_key, "policy-missing")
    assert (err.status, err.message) == (404, "policy does not exist")
    raised(kesrs.ProtocolError, keys.describe_key, "garbage")
    err = raised(kesrs.InternalError, keys.describe_key, "boom")
    assert (err.status, err.message) == (500, "boom")


def test_key_store_unavailable_on_azure(vault: Vault, tmp_path: Path) -> None:
    keys = kesrs.Keys.from_config(azure_config(vault, tmp_path, timeout="1s"))
    keys.status()
    vault.fault("outage?on=1")
    try:
        err = raised(kesrs.KeyStoreUnavailableError, keys.status)
        assert err.status in (502, 504)
    finally:
        vault.fault("clear")


def test_forked_error_class() -> None:
    # Raised for real in test_fork.py; here its shape.
    err = kesrs.ForkedError("m", 500, "KES_FORKED")
    assert (str(err), err.status, err.code) == ("m", 500, "KES_FORKED")


def test_tls_failures_read_as_sentences(wrong_server: str, server: Server) -> None:
    # The other server's certificate as the CA: the real server's is then issued by nobody trusted.
    _, other_ca = wrong_server.split("|")
    keys = kesrs.Keys.connect([server.endpoint], api_key=server.admin.api_key, ca=other_ca)
    err = raised(kesrs.ConnectionFailedError, keys.status)
    assert "the server's certificate is not trusted: no trusted CA issued it" in str(err), str(err)
    assert server.endpoint in str(err), str(err)
    # The sentence says what to do, not how rustls names the failure.
    assert "--ca" in str(err) and "UnknownIssuer" not in str(err), str(err)
