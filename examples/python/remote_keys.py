"""The same calls through a KES server (kesrs or Go KES), as MinIO makes them.

    kesrs server --dev          # prints an endpoint and an admin API key
    KES_SERVER=https://127.0.0.1:7373 KES_API_KEY=kes:v1:... KES_CA=server.cert \
        python examples/python/remote_keys.py

With a client certificate instead of an API key, set KES_CLIENT_CERT and KES_CLIENT_KEY (MinIO's
MINIO_KMS_KES_CERT_FILE and MINIO_KMS_KES_KEY_FILE). KES_CA is MINIO_KMS_KES_CAPATH; without it the
system's CAs are trusted.
"""

from __future__ import annotations

import os

import kesrs


def main() -> None:
    endpoints = os.environ.get("KES_SERVER", "https://127.0.0.1:7373").split(",")
    keys = kesrs.Keys.connect(
        endpoints,
        api_key=os.environ.get("KES_API_KEY"),
        cert=os.environ.get("KES_CLIENT_CERT"),
        key=os.environ.get("KES_CLIENT_KEY"),
        ca=os.environ.get("KES_CA"),
    )
    with keys:
        try:
            keys.create_key("my-app")
        except kesrs.KeyExistsError:
            pass
        except kesrs.NotAllowedError:
            print("this identity may not create keys: ask the KES admin for a policy")
            raise
        dek = keys.generate_key("my-app", {"my-bucket": "my-bucket/my-object"})
        print(f"the server made {dek!r}")
        print(f"key store latency: {keys.status().latency}")


if __name__ == "__main__":
    main()
