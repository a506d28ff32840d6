"""Across languages: a data key made by Python in-process decrypts through the sidecar's KES API, and
one the sidecar made opens in Python. The KES API is spoken here with Python's own HTTP and TLS (what
any KES client does), not through kesrs, so both sides of each check are independent."""

from __future__ import annotations

import base64
import http.client
import json
import ssl
from typing import Any, Dict

import kesrs
from conftest import Server


def kes_api(server: Server, path: str, body: Dict[str, Any]) -> Dict[str, Any]:
    """One KES API call with the app's client certificate, over Python's ssl and http.client."""
    context = ssl.create_default_context(cafile=str(server.ca))
    context.load_cert_chain(str(server.app.cert), str(server.app.key))
    host, port = server.endpoint.removeprefix("https://").split(":")
    connection = http.client.HTTPSConnection(host, int(port), context=context, timeout=10)
    try:
        connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = connection.getresponse()
        data = response.read()
        assert response.status == 200, (response.status, data)
        result: Dict[str, Any] = json.loads(data)
        return result
    finally:
        connection.close()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_python_data_key_decrypts_through_the_sidecar(server: Server) -> None:
    key = "cross-python-to-sidecar"
    server.connect(server.admin).create_key(key)
    # In-process, over the server's own key directory: no server involved in making the key.
    local = kesrs.Keys.from_fs(server.keys_dir)
    context = {"bucket": "bucket/object"}
    dek = local.generate_key(key, context)
    reply = kes_api(
        server,
        f"/v1/key/decrypt/{key}",
        {"ciphertext": b64(dek.ciphertext), "context": b64(kesrs.context_from_map(context))},
    )
    assert base64.b64decode(reply["plaintext"]) == dek.plaintext
    ciphertext = local.encrypt(key, b"small secret", b"ctx")
    reply = kes_api(server, f"/v1/key/decrypt/{key}", {"ciphertext": b64(ciphertext), "context": b64(b"ctx")})
    assert base64.b64decode(reply["plaintext"]) == b"small secret"


def test_sidecar_data_key_decrypts_in_python(server: Server) -> None:
    key = "cross-sidecar-to-python"
    server.connect(server.admin).create_key(key)
    # MinIO's context bytes for an SSE-S3 object, as minio-client.md gives them.
    context = b'{"bkt":"bkt/obj1"}'
    reply = kes_api(server, f"/v1/key/generate/{key}", {"context": b64(context)})
    plaintext, ciphertext = base64.b64decode(reply["plaintext"]), base64.b64decode(reply["ciphertext"])
    local = kesrs.Keys.from_fs(server.keys_dir)
    assert local.decrypt(key, ciphertext, {"bkt": "bkt/obj1"}) == plaintext
    assert kesrs.context_from_map({"bkt": "bkt/obj1"}) == context
    reply = kes_api(server, f"/v1/key/encrypt/{key}", {"plaintext": b64(b"from the sidecar"), "context": ""})
    assert local.decrypt(key, base64.b64decode(reply["ciphertext"])) == b"from the sidecar"
