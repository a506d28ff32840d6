"""Fixtures: the real `kesrs server`, the in-repo fake Azure Key Vault, and a handle per mode.

The binaries come from the workspace build (`cargo build`, as ./scripts/test does before these tests):
`KESRS_BIN` and `FAKE_KEYVAULT_BIN` override where they are looked for. A missing binary fails the
tests; nothing is skipped.
"""

from __future__ import annotations

import http.client
import os
import re
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Iterator, List, Optional

import pytest

import kesrs

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
# The misbehaving KES server the C tests use too (stdlib only, so any python3 runs it).
FAKE_KES = ROOT / "tests" / "fake-kes" / "fake_kes.py"


def binary(env: str, name: str) -> str:
    path = os.environ.get(env) or str(TARGET / "debug" / name)
    if not os.access(path, os.X_OK):
        pytest.fail(f"no {name} binary at {path}: run `cargo build -p ...` first or set {env}")
    return path


class Lines:
    """The lines a child process writes to a pipe, collected by a thread."""

    def __init__(self, pipe: IO[str]) -> None:
        self.lines: List[str] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._collect, args=(pipe,), daemon=True).start()

    def _collect(self, pipe: IO[str]) -> None:
        for line in pipe:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, process: subprocess.Popen[str], timeout: float = 30) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for line in self.lines:
                    match = re.search(pattern, line)
                    if match:
                        return match
            if process.poll() is not None:
                break
            time.sleep(0.02)
        with self._lock:
            output = "\n".join(self.lines)
        raise AssertionError(f"no line matching {pattern!r}; output:\n{output}")


def run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


@dataclass
class Identity:
    """An API key or a certificate and key file, with the identity KES computes for it."""

    identity: str
    api_key: Optional[str] = None
    cert: Optional[Path] = None
    key: Optional[Path] = None


def new_api_key(kesrs_bin: str) -> Identity:
    out = run(kesrs_bin, "identity", "new")
    api_key = re.search(r"(kes:v1:\S+)", out)
    identity = re.search(r"Your identity:\s+(\S+)", out)
    assert api_key and identity, out
    return Identity(identity=identity.group(1), api_key=api_key.group(1))


def new_certificate(kesrs_bin: str, directory: Path, name: str, *extra: str) -> Identity:
    cert, key = directory / f"{name}.cert", directory / f"{name}.key"
    identity = run(kesrs_bin, "identity", "new", "--key", str(key), "--cert", str(cert), *extra)
    return Identity(identity=identity.strip(), cert=cert, key=key)


@dataclass
class Server:
    """A running `kesrs server` with an fs key store, over mutual TLS on 127.0.0.1."""

    endpoint: str
    ca: Path
    keys_dir: Path
    admin: Identity
    app: Identity
    stranger: Identity
    process: subprocess.Popen[str] = field(repr=False)

    def connect(self, who: Identity, cls: type = kesrs.Keys):  # type: ignore[no-untyped-def]
        return cls.connect(
            [self.endpoint], api_key=who.api_key, cert=who.cert, key=who.key, ca=self.ca
        )


@pytest.fixture(scope="session")
def kesrs_bin() -> str:
    return binary("KESRS_BIN", "kesrs")


@pytest.fixture(scope="session")
def server(kesrs_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("server")
    tls = new_certificate(kesrs_bin, directory, "server", "--ip", "127.0.0.1", "--dns", "localhost")
    admin = new_api_key(kesrs_bin)
    app = new_certificate(kesrs_bin, directory, "app")
    stranger = new_api_key(kesrs_bin)
    (directory / "keys").mkdir()
    config = directory / "config.yml"
    config.write_text(
        f"version: v1\n"
        f"address: 0.0.0.0:7373\n"
        f"admin:\n  identity: {admin.identity}\n"
        f"tls:\n  key: {tls.key}\n  cert: {tls.cert}\n"
        f"policy:\n  app:\n    allow:\n    - /v1/key/*\n    - /v1/status\n"
        f"    identities:\n    - {app.identity}\n"
        f"keystore:\n  fs:\n    path: {directory / 'keys'}\n"
    )
    process = subprocess.Popen(
        [kesrs_bin, "server", "--config", str(config), "--addr", "127.0.0.1:0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stderr = Lines(process.stderr)
        addr = stderr.wait_for(r"listening on https://([0-9.]+:[0-9]+)", process).group(1)
        assert tls.cert is not None
        yield Server(
            endpoint=f"https://{addr}",
            ca=tls.cert,
            keys_dir=directory / "keys",
            admin=admin,
            app=app,
            stranger=stranger,
            process=process,
        )
    finally:
        process.kill()
        process.wait()


@dataclass
class Vault:
    """The fake Azure Key Vault (tests/fake-keyvault), run as a process."""

    port: int
    endpoint: str
    authority: str
    ca: Path

    def fault(self, what: str) -> None:
        """Sets a fault (`delay?ms=500`, `outage?on=1`, `clear`) through the fake's admin routes."""
        context = ssl.create_default_context(cafile=str(self.ca))
        context.check_hostname = False
        connection = http.client.HTTPSConnection("127.0.0.1", self.port, context=context, timeout=10)
        try:
            connection.request("GET", f"/_fake/{what}", headers={"Host": f"vault.localhost:{self.port}"})
            response = connection.getresponse()
            assert response.status == 200, response.read()
            response.read()
        finally:
            connection.close()


@pytest.fixture(scope="session")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vault]:
    directory = tmp_path_factory.mktemp("vault")
    ca = directory / "ca.pem"
    process = subprocess.Popen(
        [binary("FAKE_KEYVAULT_BIN", "fake-keyvault"), "--ca-out", str(ca)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        stdout = Lines(process.stdout)
        port = int(stdout.wait_for(r"listening on 127\.0\.0\.1:([0-9]+)", process).group(1))
        urls = stdout.wait_for(r"vault (\S+) authority (\S+)", process)
        yield Vault(port=port, endpoint=urls.group(1), authority=urls.group(2), ca=ca)
    finally:
        process.kill()
        process.wait()


def azure_config(vault: Vault, directory: Path, timeout: str = "3s") -> Path:
    """A KES config file whose key store is the fake vault, reached with a client secret."""
    # The Azure SDK reads the authority from the environment, as the server does.
    os.environ["AZURE_AUTHORITY_HOST"] = vault.authority
    for variable in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "IDENTITY_ENDPOINT"):
        os.environ.pop(variable, None)
    config = directory / "azure.yml"
    config.write_text(
        "keystore:\n  azure:\n    keyvault:\n"
        f"      endpoint: {vault.endpoint}\n"
        "      credentials:\n        tenant_id: fake-tenant\n        client_id: kesrs-python-tests\n"
        "        client_secret: fake-client-secret\n"
        f"      tls:\n        ca: {vault.ca}\n"
        f"      timeout: {timeout}\n"
    )
    return config


MODES = ["memory", "fs", "config", "azure", "remote-api-key", "remote-certificate"]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_keys(
    mode: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Callable[[type], object]:
    """Opens a handle of the class given (Keys or AsyncKeys) in `mode`."""

    def opener(cls: type) -> object:
        if mode == "memory":
            return cls.in_memory()  # type: ignore[attr-defined]
        if mode == "fs":
            return cls.from_fs(tmp_path / "keys")  # type: ignore[attr-defined]
        if mode == "config":
            config = tmp_path / "config.yml"
            os.environ["KESRS_PYTHON_TEST_KEYS"] = str(tmp_path / "keys")
            config.write_text("keystore:\n  fs:\n    path: ${KESRS_PYTHON_TEST_KEYS}\n")
            return cls.from_config(config)  # type: ignore[attr-defined]
        if mode == "azure":
            vault: Vault = request.getfixturevalue("vault")
            return cls.from_config(azure_config(vault, tmp_path))  # type: ignore[attr-defined]
        server: Server = request.getfixturevalue("server")
        who = server.admin if mode == "remote-api-key" else server.app
        return server.connect(who, cls)

    return opener


_counter = [0]


@pytest.fixture
def prefix(mode: str) -> str:
    """A key-name prefix no other test uses: the server and the vault live for the whole session."""
    _counter[0] += 1
    return f"{mode}-{_counter[0]}-{os.getpid()}"
