#!/usr/bin/env bash
# The README's first command in a fresh venv: install the runtime set and serve on SQLite.
set -euo pipefail
PYTHON=${PYTHON:-python3}
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q -r requirements.txt
port=$("$work/venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
MALL_PORT=$port MALL_DATABASE_URL="sqlite:///$work/data/mall.db" "$work/venv/bin/python" server.py >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/api/health" >/dev/null 2>&1; then
    echo "README run command: serving on :$port with only requirements.txt installed"
    kill -TERM $server; wait $server
    exit 0
  fi
  sleep 0.1
done
cat "$work/server.log" >&2
echo "README run command did not serve" >&2
exit 1
