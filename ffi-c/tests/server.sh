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
#
# Beside it runs the misbehaving KES server of tests/fake-kes (python3, standard library only), with
# the same certificate: `wrong-endpoint` is its URL. It gives the errors a real server never sends
# (KES_NOT_FOUND, KES_PROTOCOL, KES_INTERNAL).
set -euo pipefail
cmd="$1" dir="$2"
fake_kes="$(cd "$(dirname "$0")/../../tests/fake-kes" && pwd)/fake_kes.py"

stop() {
  for pid in "$dir/pid" "$dir/fake-kes.pid"; do
    if [ -f "$pid" ]; then
      kill "$(cat "$pid")" 2>/dev/null || true
      rm -f "$pid"
    fi
  done
}

# wait_for PIDFILE LOG REGEX: prints the first match of REGEX in LOG once it appears; fails if the
# process exits or 10 s pass.
wait_for() {
  for _ in $(seq 200); do
    if grep -o "$3" "$2" | head -n1 | grep .; then
      return 0
    fi
    kill -0 "$(cat "$1")" 2>/dev/null || { cat "$2" >&2; stop; exit 1; }
    sleep 0.05
  done
  echo "no '$3' in $2 after 10 s:" >&2
  cat "$2" >&2
  stop
  exit 1
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
wait_for "$dir/pid" "$dir/stderr.log" 'listening on https://[0-9.:]*' | sed 's/listening on //' \
  >"$dir/endpoint"

python3 "$fake_kes" "$dir/server.cert" "$dir/server.key" >"$dir/fake-kes.log" 2>&1 </dev/null &
echo $! >"$dir/fake-kes.pid"
port="$(wait_for "$dir/fake-kes.pid" "$dir/fake-kes.log" 'listening on [0-9]*' | sed 's/listening on //')"
echo "https://127.0.0.1:$port" >"$dir/wrong-endpoint"
