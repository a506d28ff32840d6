"""Seals of 1 KiB per second: local, remote with a fresh data key each, and remote with data-key reuse
(docs/performance.md, "Sealed messages"). The issue's target: remote with reuse within 2x of local.

    python bindings-python/benchmarks/seal_reuse_remote.py KESRS_BIN [SECONDS]

Starts a `kesrs server` (KESRS_BIN) on 127.0.0.1 with an fs key store and an API-key admin, and measures
all three modes through the same binding in the same run, so that only the data keys' path differs.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

import kesrs
from calls import rate as calls_per_second


def rate(call: Callable[[], object], seconds: float) -> float:
    # A remote seal is a round trip: a smaller batch keeps the run close to `seconds`.
    return calls_per_second(call, seconds, batch=1_000)


def main() -> None:
    kesrs_bin = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
    out = subprocess.run([kesrs_bin, "identity", "new"], check=True, capture_output=True, text=True).stdout
    api_key = re.search(r"(kes:v1:\S+)", out)
    identity = re.search(r"Your identity:\s+(\S+)", out)
    assert api_key and identity, out
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        subprocess.run(
            [kesrs_bin, "identity", "new", "--key", str(d / "s.key"), "--cert", str(d / "s.cert"),
             "--ip", "127.0.0.1", "server"],
            check=True, capture_output=True,
        )
        (d / "keys").mkdir()
        (d / "config.yml").write_text(
            f"address: 0.0.0.0:7373\nadmin:\n  identity: {identity.group(1)}\n"
            f"tls:\n  key: {d / 's.key'}\n  cert: {d / 's.cert'}\n"
            f"keystore:\n  fs:\n    path: {d / 'keys'}\n"
        )
        server = subprocess.Popen(
            [kesrs_bin, "server", "--config", str(d / "config.yml"), "--addr", "127.0.0.1:0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        try:
            assert server.stderr is not None
            addr = None
            for line in server.stderr:
                found = re.search(r"listening on https://([0-9.]+:[0-9]+)", line)
                if found:
                    addr = found.group(1)
                    break
            assert addr, "the server did not start"
            remote = kesrs.Keys.connect([f"https://{addr}"], api_key=api_key.group(1), ca=str(d / "s.cert"))
            remote.create_key("bench")
            local = kesrs.Keys.from_fs(str(d / "keys"))
            reusing = remote.with_data_key_reuse(messages=1_000, bytes=1 << 30, seconds=60)
            message, context = b"\x42" * 1024, {"bucket": "bench/object"}
            local_rate = rate(lambda: local.seal("bench", message, context), seconds)
            remote_rate = rate(lambda: remote.seal("bench", message, context), seconds)
            reuse_rate = rate(lambda: reusing.seal("bench", message, context), seconds)
            print(f"seal 1 KiB, local (fs):                {local_rate:10.0f} /s")
            print(f"seal 1 KiB, remote, fresh data key:    {remote_rate:10.0f} /s")
            print(f"seal 1 KiB, remote, data key reused:   {reuse_rate:10.0f} /s")
            print(f"local / remote with reuse:             {local_rate / reuse_rate:10.2f} x (target <= 2)")
        finally:
            server.kill()
            server.wait()


if __name__ == "__main__":
    main()
