#!/usr/bin/env bash
# Install and start the services the test suite needs, on a fresh Debian machine:
#   Redis (from Debian bookworm) on 127.0.0.1:6380
#   a Redis Cluster of three masters (the same redis-server in cluster mode) on 127.0.0.1:7001-7003
#   PostgreSQL 17 + TimescaleDB (Apache edition, from Debian trixie, in a
#   debootstrap chroot because bookworm has no TimescaleDB package) on 127.0.0.1:5433
#   a second PostgreSQL cluster in the same chroot, a streaming hot standby of the first, on 127.0.0.1:5434
# Idempotent: a second run only (re)starts what is not already answering.
# Prints the environment the tests read (TEST_REDIS_URL, TEST_REDIS_CLUSTER_URL,
# TEST_DATABASE_URL, TEST_DATABASE_READ_URL) to the file named by $1, if given.
set -euo pipefail

ROOT=${SERVICES_DIR:-/opt/statsbot-services}
CHROOT=$ROOT/trixie
PG_PORT=${TEST_PG_PORT:-5433}
REDIS_PORT=${TEST_REDIS_PORT:-6380}
CLUSTER_PORTS=(${TEST_REDIS_CLUSTER_PORTS:-7001 7002 7003})
STANDBY_PORT=${TEST_PG_STANDBY_PORT:-5434}
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

cluster_ok() { redis-cli -p "${CLUSTER_PORTS[0]}" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; }

start_redis_cluster() {
  if cluster_ok; then log "redis cluster already up on ${CLUSTER_PORTS[*]}"; return; fi
  apt_install redis-server redis-tools
  local nodes=() port dir
  for port in "${CLUSTER_PORTS[@]}"; do
    nodes+=("127.0.0.1:$port")
    redis-cli -p "$port" ping >/dev/null 2>&1 && continue
    dir=$ROOT/redis-cluster/$port; mkdir -p "$dir"
    # No persistence: test data only; nodes.conf keeps the slot map across restarts.
    redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --cluster-enabled yes \
      --cluster-config-file nodes.conf --cluster-node-timeout 5000 --appendonly no --save '' \
      --daemonize yes --logfile "$dir/redis.log" --pidfile "$dir/redis.pid"
  done
  for port in "${CLUSTER_PORTS[@]}"; do
    for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  done
  # Nodes restarted with their nodes.conf rejoin by themselves; fresh ones need the slots assigned.
  for _ in $(seq 30); do cluster_ok && break; sleep 0.1; done
  if ! cluster_ok; then
    if [ "$(redis-cli -p "${CLUSTER_PORTS[0]}" cluster info | grep -c '^cluster_slots_assigned:0')" = 1 ]; then
      redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$ROOT/redis-cluster/create.log" 2>&1 \
        || { tail -20 "$ROOT/redis-cluster/create.log" >&2; exit 1; }
    fi
    for _ in $(seq 100); do cluster_ok && break; sleep 0.1; done
  fi
  cluster_ok || { log "redis cluster did not form (see $ROOT/redis-cluster)"; exit 1; }
  log "redis cluster up on ${CLUSTER_PORTS[*]}"
}

pg_ready() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT" 2>/dev/null; }
standby_ready() { pg_isready -q -h 127.0.0.1 -p "$STANDBY_PORT" 2>/dev/null; }

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

start_standby() {
  # Streaming replication needs the primary to accept replication connections from loopback.
  local hba=$CHROOT/etc/postgresql/17/main/pg_hba.conf
  local main_conf=$CHROOT/etc/postgresql/17/main/postgresql.conf
  if ! grep -q '^host replication all 127.0.0.1/32 trust' "$hba" || ! grep -q '^wal_keep_size' "$main_conf"; then
    grep -q '^host replication all 127.0.0.1/32 trust' "$hba" || echo 'host replication all 127.0.0.1/32 trust' >>"$hba"
    # Keep enough WAL for the standby to catch up after a burst (benchmarks write gigabytes).
    grep -q '^wal_keep_size' "$main_conf" || echo 'wal_keep_size = 2GB' >>"$main_conf"
    chroot "$CHROOT" pg_ctlcluster 17 main reload
  fi
  if standby_ready; then log "postgres standby already up on $STANDBY_PORT"; return; fi
  local conf=$CHROOT/etc/postgresql/17/replica data=/var/lib/postgresql/17/replica
  if [ ! -f "$CHROOT$data/standby.signal" ]; then
    log "creating the hot standby (pg_basebackup of the primary)"
    chroot "$CHROOT" pg_dropcluster 17 replica >/dev/null 2>&1 || true
    chroot "$CHROOT" pg_createcluster 17 replica -p "$STANDBY_PORT" >/dev/null
    # The same settings as the primary (a standby needs max_connections >= the primary's).
    sed -n '/^# statsbot-ci/,$p' "$CHROOT/etc/postgresql/17/main/postgresql.conf" \
      | sed "s/^port = .*/port = $STANDBY_PORT/" >>"$conf/postgresql.conf"
    echo 'hot_standby = on' >>"$conf/postgresql.conf"
    cp "$hba" "$conf/pg_hba.conf"
    rm -rf "${CHROOT:?}$data"
    chroot --userspec=postgres:postgres "$CHROOT" pg_basebackup -h 127.0.0.1 -p "$PG_PORT" -U postgres \
      -D "$data" -R -X stream -c fast >"$ROOT/basebackup.log" 2>&1 || { tail -20 "$ROOT/basebackup.log" >&2; exit 1; }
  fi
  chroot "$CHROOT" pg_ctlcluster 17 replica start
  for _ in $(seq 100); do standby_ready && break; sleep 0.2; done
  standby_ready || { log "postgres standby did not start"; exit 1; }
  log "postgres hot standby up on $STANDBY_PORT"
}

need_root
start_redis
start_redis_cluster
start_postgres
start_standby
psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='statsbot_test'" | grep -q 1 \
  || psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE statsbot_test"
if [ -n "$ENV_OUT" ]; then
  {
    echo "TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
    echo "TEST_REDIS_CLUSTER_URL=redis://127.0.0.1:${CLUSTER_PORTS[0]}/0"
    echo "TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:$PG_PORT/statsbot_test"
    echo "TEST_DATABASE_READ_URL=postgresql+asyncpg://postgres@127.0.0.1:$STANDBY_PORT/statsbot_test"
  } >"$ENV_OUT"
fi
