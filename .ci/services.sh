#!/usr/bin/env bash
# Start MariaDB and Redis when they are down, then wait until both answer.
set -euo pipefail

if ! mysqladmin -uroot --connect-timeout=2 ping >/dev/null 2>&1; then
  echo "starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
fi
for _ in $(seq 1 60); do
  if mysqladmin -uroot --connect-timeout=2 ping >/dev/null 2>&1 && redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
    mysql -uroot -e "CREATE DATABASE IF NOT EXISTS test"
    echo "MariaDB and Redis are up"
    exit 0
  fi
  sleep 1
done
echo "MariaDB or Redis did not come up" >&2
exit 1
