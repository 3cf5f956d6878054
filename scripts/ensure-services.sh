#!/usr/bin/env bash
# Start MariaDB, PostgreSQL and Redis on localhost when they are installed but not running.
set -u
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() { for _ in $(seq 1 30); do up "$1" && return 0; sleep 1; done; return 1; }

if ! up 3306 && command -v mariadbd >/dev/null; then
  echo "starting MariaDB"; start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd; wait_for 3306
fi
if ! up 5432 && command -v pg_ctlcluster >/dev/null; then
  echo "starting PostgreSQL"; pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start; wait_for 5432
fi
if ! up 6379 && command -v redis-server >/dev/null; then
  echo "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /tmp --logfile /tmp/agentcreator-redis.log; wait_for 6379
fi
for svc in "MariaDB 3306" "PostgreSQL 5432" "Redis 6379"; do
  set -- $svc; up "$2" && echo "$1: up" || echo "$1: not reachable"
done
exit 0
