#!/usr/bin/env bash
# Installs (from Debian's packages) and starts the local services the tests need, when they are
# missing or stopped. Safe to run again: a running service is left alone.
set -euo pipefail

log() { printf 'services: %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need_packages=()
command -v pg_ctlcluster >/dev/null || need_packages+=(postgresql)
command -v rabbitmq-server >/dev/null || need_packages+=(rabbitmq-server)
command -v redis-server >/dev/null || need_packages+=(redis-server)
command -v promtool >/dev/null || need_packages+=(prometheus)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need_packages+=(fonts-dejavu-core)
if [ ${#need_packages[@]} -gt 0 ]; then
  log "installing ${need_packages[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${need_packages[@]}" >/dev/null
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  log "starting PostgreSQL"
  cluster=$(ls /etc/postgresql | sort -V | tail -n 1)
  hba=/etc/postgresql/$cluster/main/pg_hba.conf
  # The tests connect as postgres over TCP without a password, as on the CI machines.
  as_root sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)(scram-sha-256|md5|peer)/\1trust/' "$hba"
  as_root pg_ctlcluster --skip-systemctl-redirect "$cluster" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432

if ! (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then
  log "starting RabbitMQ"
  (cd /tmp && as_root rabbitmq-server -detached)
  # await_startup fails until the node has registered itself (baseline pitfall 14): retry it.
  for _ in $(seq 1 60); do as_root rabbitmqctl -q await_startup >/dev/null 2>&1 && break; sleep 1; done
fi
(exec 3<>/dev/tcp/127.0.0.1/5672) && log "RabbitMQ is up"

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  log "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.2; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null && log "Redis is up"
