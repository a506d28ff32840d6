#!/usr/bin/env bash
# Starts and stops the real `kesrs server` the remote C tests talk to (a CTest fixture).
#
#   server.sh start DIR KESRS_BIN    fresh server in DIR; waits until it listens
#   server.sh stop DIR
#
# DIR then holds what the tests read: `endpoint` (https://127.0.0.1:PORT), `server.cert` (the CA to
# trust), `admin.key` (the admin's API key), `client.cert` + `client.key` (a certificate whose
# identity has the `app` policy: every key operation), `stranger.key` (an API key the server does not
# know), and `keys/` (the server's fs key store, for local handles over the same keys).
set -euo pipefail
cmd="$1" dir="$2"

stop() {
  if [ -f "$dir/pid" ]; then
    kill "$(cat "$dir/pid")" 2>/dev/null || true
    rm -f "$dir/pid"
  fi
}

case "$cmd" in
  stop) stop; exit 0 ;;
  start) ;;
  *) echo "usage: $0 start DIR KESRS_BIN | stop DIR" >&2; exit 2 ;;
esac

bin="$3"
stop
rm -rf "$dir"
mkdir -p "$dir/keys"
api_key() { "$bin" identity new | grep -o 'kes:v1:[A-Za-z0-9+/=_-]*'; }

"$bin" identity new --key "$dir/server.key" --cert "$dir/server.cert" --ip 127.0.0.1 --dns localhost \
  kesrs-c-tests >/dev/null
"$bin" identity new --key "$dir/client.key" --cert "$dir/client.cert" c-client >/dev/null
api_key >"$dir/admin.key"
api_key >"$dir/stranger.key"
admin="$("$bin" identity of "$(cat "$dir/admin.key")")"
client="$("$bin" identity of "$dir/client.cert")"

cat >"$dir/config.yml" <<YAML
version: v1
address: 127.0.0.1:7373
admin:
  identity: $admin
tls:
  key: $dir/server.key
  cert: $dir/server.cert
policy:
  app:
    allow:
      - /v1/key/*
      - /v1/status
    identities:
      - $client
keystore:
  fs:
    path: $dir/keys
YAML

"$bin" server --config "$dir/config.yml" --addr 127.0.0.1:0 --no-watch \
  >"$dir/stdout.log" 2>"$dir/stderr.log" </dev/null &
echo $! >"$dir/pid"
for _ in $(seq 200); do
  addr="$(grep -o 'listening on https://[0-9.:]*' "$dir/stderr.log" | head -n1 | sed 's/listening on //' || true)"
  if [ -n "$addr" ]; then
    echo "$addr" >"$dir/endpoint"
    exit 0
  fi
  kill -0 "$(cat "$dir/pid")" 2>/dev/null || { cat "$dir/stderr.log" >&2; exit 1; }
  sleep 0.05
done
echo "kesrs server did not start:" >&2
cat "$dir/stderr.log" >&2
stop
exit 1
