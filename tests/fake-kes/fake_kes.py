"""A KES server that answers wrongly on purpose, for the errors a real one never sends: run as
`python3 fake_kes.py CERT KEY`; prints `listening on PORT`, then serves until killed. Standard library
only, so that every suite can start it with the system's python3: the Python binding's tests
(bindings-python/tests/test_errors.py) and libkes's C tests (ffi-c/tests/server.sh) both do.

`GET /v1/key/describe/<name>` answers by name: `policy-missing` a 404 "policy does not exist",
`garbage` a 200 that is not JSON, `boom` a 500 with a message of its own.
"""

from __future__ import annotations

import http.server
import json
import ssl
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        name = self.path.rsplit("/", 1)[-1]
        if name == "policy-missing":
            self.reply(404, json.dumps({"message": "policy does not exist"}).encode())
        elif name == "garbage":
            self.reply(200, b"this is not JSON")
        else:
            self.reply(500, json.dumps({"message": "boom"}).encode())

    def reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    cert, key = sys.argv[1], sys.argv[2]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"listening on {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
