"""Cross-checks kesrs's Azure key store with an independent client: the official Python SDK.

    crosscheck.py read NAME          read secret NAME, decode it as a KES value, print it as JSON
    crosscheck.py write-kes NAME     store a KES value (base64 protobuf KeyVersion) the way Go KES
                                     does (raw name, no tags); print its keys and an HMAC as JSON
    crosscheck.py write-legacy NAME  store a legacy JSON KES value the way old KES did

The vault is taken from the environment: KV_ENDPOINT (vault URL), KV_AUTHORITY (Entra ID authority
host), KV_CLIENT_SECRET, KV_CA (PEM file to trust) and KV_ADDR (host:port to connect to for every
host name, as the fake's names do not resolve). The protobuf decoder is written here from the
schema (kes-protocol.md section 6), independently of kesrs's Rust decoder.
"""

import base64
import hashlib
import hmac
import json
import os
import socket
import ssl
import sys
import time
import urllib.parse
import urllib.request

from azure.core.credentials import AccessToken
from azure.keyvault.secrets import SecretClient

API_VERSION = "2025-07-01"
HMAC_MESSAGE = b"kesrs cross-check"


def route_all_names_to(addr):
    """Resolves every host name to KV_ADDR's IP, keeping the port asked for."""
    ip = addr.rsplit(":", 1)[0]
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        return real(ip, port, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


class ClientSecretCredential:
    """The OAuth2 client-credentials flow against KV_AUTHORITY, as azure-identity does it."""

    def __init__(self, authority, secret, ca):
        self.authority = authority
        self.secret = secret
        self.context = ssl.create_default_context(cafile=ca)

    def get_token(self, *scopes, **kwargs):
        body = urllib.parse.urlencode(
            {
                "client_id": "python-crosscheck",
                "client_secret": self.secret,
                "grant_type": "client_credentials",
                "scope": " ".join(scopes),
            }
        ).encode()
        url = f"{self.authority}/fake-tenant/oauth2/v2.0/token"
        with urllib.request.urlopen(url, body, context=self.context, timeout=10) as response:
            token = json.load(response)
        return AccessToken(token["access_token"], int(time.time()) + int(token["expires_in"]))


def client():
    route_all_names_to(os.environ["KV_ADDR"])
    credential = ClientSecretCredential(
        os.environ["KV_AUTHORITY"], os.environ["KV_CLIENT_SECRET"], os.environ["KV_CA"]
    )
    return SecretClient(
        os.environ["KV_ENDPOINT"],
        credential,
        api_version=API_VERSION,
        connection_verify=os.environ["KV_CA"],
        # The Python SDK compares the challenge resource with the request's host *and port*, so a
        # vault on a non-default port never matches; kesrs's side keeps verification on.
        verify_challenge_resource=False,
    )


def varint(data, i):
    shift = value = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i
        shift += 7


def fields(data):
    """Decodes one protobuf message into {field number: [values]} (varint and length-delimited)."""
    out, i = {}, 0
    while i < len(data):
        tag, i = varint(data, i)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, i = varint(data, i)
        elif wire == 2:
            length, i = varint(data, i)
            value, i = data[i : i + length], i + length
            if len(value) != length:
                raise ValueError("truncated field")
        else:
            raise ValueError(f"unexpected wire type {wire}")
        out.setdefault(number, []).append(value)
    return out


def encode_varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number, wire, payload):
    tag = encode_varint(number << 3 | wire)
    if wire == 0:
        return tag + encode_varint(payload)
    return tag + encode_varint(len(payload)) + payload


def read(name):
    secret = client().get_secret(name)
    value = secret.value
    top = fields(base64.b64decode(value, validate=True))
    key = fields(top[1][0])
    hmac_key = fields(top[2][0])
    created = fields(top[3][0]) if 3 in top else {}
    hmac_value = hmac.new(hmac_key[1][0], HMAC_MESSAGE, hashlib.sha256).hexdigest()
    print(
        json.dumps(
            {
                "secret_name": secret.name,
                "tags": secret.properties.tags,
                "key_len": len(key[1][0]),
                "key_type": key.get(2, [0])[0],
                "hmac_key_len": len(hmac_key[1][0]),
                "hmac_hash": hmac_key.get(2, [0])[0],
                "created_seconds": created.get(1, [0])[0],
                "created_nanos": created.get(2, [0])[0],
                "created_by": top[4][0].decode() if 4 in top else None,
                "hmac": hmac_value,
            }
        )
    )


def write_kes(name):
    key, hmac_key = os.urandom(32), os.urandom(32)
    seconds, nanos, creator = 1700000000, 123456789, "go-kes-identity"
    message = (
        field(1, 2, field(1, 2, key) + field(2, 0, 1))
        + field(2, 2, field(1, 2, hmac_key) + field(2, 0, 1))
        + field(3, 2, field(1, 0, seconds) + field(2, 0, nanos))
        + field(4, 2, creator.encode())
    )
    client().set_secret(name, base64.b64encode(message).decode())
    print(
        json.dumps(
            {
                "hmac": hmac.new(hmac_key, HMAC_MESSAGE, hashlib.sha256).hexdigest(),
                "created_seconds": seconds,
                "created_by": creator,
            }
        )
    )


def write_legacy(name):
    value = json.dumps(
        {
            "bytes": base64.b64encode(os.urandom(32)).decode(),
            "algorithm": "AES256",
            "created_at": "2020-05-01T10:00:00+02:00",
            "created_by": "legacy-identity",
        }
    )
    client().set_secret(name, value)
    print(json.dumps({}))


if __name__ == "__main__":
    command, name = sys.argv[1], sys.argv[2]
    {"read": read, "write-kes": write_kes, "write-legacy": write_legacy}[command](name)
