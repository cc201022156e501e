#!/usr/bin/env bash
# Install and start the services the test suite needs, on a fresh Debian machine:
#   Redis (from Debian bookworm) on 127.0.0.1:6380
#   PostgreSQL 17 + TimescaleDB (Apache edition, from Debian trixie, in a
#   debootstrap chroot because bookworm has no TimescaleDB package) on 127.0.0.1:5433
# Idempotent: a second run only (re)starts what is not already answering.
# Prints the environment the tests read (TEST_REDIS_URL, TEST_DATABASE_URL) to
# the file named by $1, if given.
set -euo pipefail

ROOT=${SERVICES_DIR:-/opt/statsbot-services}
CHROOT=$ROOT/trixie
PG_PORT=${TEST_PG_PORT:-5433}
REDIS_PORT=${TEST_REDIS_PORT:-6380}
ENV_OUT=${1:-}

log() { printf '[services] %s\n' "$*" >&2; }

need_root() {
  if [ "$(id -u)" != 0 ]; then
    log "must run as root (apt-get, debootstrap, chroot)"; exit 1
  fi
}

apt_updated=0
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ $apt_updated = 0 ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

start_redis() {
  if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then log "redis already up on $REDIS_PORT"; return; fi
  apt_install redis-server
  mkdir -p "$ROOT/redis"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$ROOT/redis" \
    --appendonly yes --appendfsync everysec --save '' --daemonize yes \
    --logfile "$ROOT/redis/redis.log" --pidfile "$ROOT/redis/redis.pid"
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$REDIS_PORT" ping >/dev/null || { log "redis did not start"; exit 1; }
  log "redis up on $REDIS_PORT"
}

pg_ready() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT" 2>/dev/null; }

build_chroot() {
  apt_install debootstrap postgresql-client
  if [ ! -x "$CHROOT/usr/lib/postgresql/17/bin/postgres" ] || [ ! -f "$CHROOT/.timescaledb-ready" ]; then
    log "building a Debian trixie chroot with PostgreSQL 17 + TimescaleDB (about 1-2 min)"
    rm -rf "$CHROOT"; mkdir -p "$ROOT"
    debootstrap --variant=minbase trixie "$CHROOT" http://deb.debian.org/debian >"$ROOT/debootstrap.log" 2>&1 \
      || { tail -20 "$ROOT/debootstrap.log" >&2; exit 1; }
    mount_proc
    # Services must not start inside the chroot during install.
    printf '#!/bin/sh\nexit 101\n' >"$CHROOT/usr/sbin/policy-rc.d"; chmod +x "$CHROOT/usr/sbin/policy-rc.d"
    chroot "$CHROOT" apt-get update -qq
    chroot "$CHROOT" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      postgresql-17 postgresql-17-timescaledb >"$ROOT/chroot-apt.log" 2>&1 \
      || { tail -20 "$ROOT/chroot-apt.log" >&2; exit 1; }
    touch "$CHROOT/.timescaledb-ready"
  fi
}

mount_proc() {
  mountpoint -q "$CHROOT/proc" || mount -t proc proc "$CHROOT/proc"
}

start_postgres() {
  if pg_ready; then log "postgres already up on $PG_PORT"; return; fi
  build_chroot
  mount_proc
  local conf=$CHROOT/etc/postgresql/17/main
  if ! grep -q '^# statsbot-ci' "$conf/postgresql.conf"; then
    cat >>"$conf/postgresql.conf" <<CONF
# statsbot-ci
port = $PG_PORT
listen_addresses = '127.0.0.1'
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 512MB
work_mem = 32MB
maintenance_work_mem = 256MB
max_wal_size = 4GB
CONF
    printf 'local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n' >"$conf/pg_hba.conf"
  fi
  # Loopback only, as in the TimescaleDB image: no TLS (asyncpg would negotiate it on every connection).
  grep -q '^ssl = off' "$conf/postgresql.conf" || echo 'ssl = off' >>"$conf/postgresql.conf"
  chroot "$CHROOT" pg_ctlcluster 17 main start
  for _ in $(seq 100); do pg_ready && break; sleep 0.2; done
  pg_ready || { log "postgres did not start"; exit 1; }
  log "postgres up on $PG_PORT"
}

need_root
start_redis
start_postgres
psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='statsbot_test'" | grep -q 1 \
  || psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE statsbot_test"
if [ -n "$ENV_OUT" ]; then
  {
    echo "TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
    echo "TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:$PG_PORT/statsbot_test"
  } >"$ENV_OUT"
fi
