"""Data keys in this process, from a KES fs key directory: no server.

    python examples/python/local_keys.py [KEY_DIR]

The same directory served by `kesrs server` (keystore: fs) decrypts what this makes, and back.
"""

from __future__ import annotations

import sys
import tempfile

import kesrs


def main(key_dir: str) -> None:
    with kesrs.Keys.from_fs(key_dir) as keys:
        try:
            keys.create_key("my-app")
        except kesrs.KeyExistsError:
            pass  # Made by an earlier run.

        # A data key per object, bound to the object's name as MinIO binds it.
        context = {"my-bucket": "my-bucket/my-object"}
        dek = keys.generate_key("my-app", context)
        print(f"made {dek!r}: encrypt with dek.plaintext, store dek.ciphertext")

        plaintext = keys.decrypt("my-app", dek.ciphertext, context)
        assert plaintext == dek.plaintext

        try:
            keys.decrypt("my-app", dek.ciphertext, {"my-bucket": "my-bucket/another-object"})
        except kesrs.DecryptError as err:
            print(f"another context does not open it: {err.code} ({err.status}) {err.message}")

        info = keys.describe_key("my-app")
        print(f"{info.name}: {info.algorithm}, created {info.created_at:%Y-%m-%d}")
        print("keys:", ", ".join(keys.list_keys()))


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        with tempfile.TemporaryDirectory() as directory:
            main(directory)
