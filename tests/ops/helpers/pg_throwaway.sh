#!/usr/bin/env bash
# Test stand-in for the restore drill's `docker run --rm postgres`: a fresh initdb cluster on
# 127.0.0.1. Used through HP_DRILL_START_CMD / HP_DRILL_STOP_CMD.
#   pg_throwaway.sh start DIR PORT | stop DIR
# HP_TEST_PG_TEMPLATE: an initdb'd data directory (owned by postgres) to copy instead of initdb.
# Never runs the server as root (runuser -u postgres when root); stops it by the PID it wrote.
set -euo pipefail
action=$1
dir=$2
as_pg=()
if [ "$(id -u)" = 0 ]; then as_pg=(runuser -u postgres --); fi
case $action in
  start)
    port=$3
    mkdir -p "$dir"
    chmod 0755 "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
    # A prepared empty cluster (HP_TEST_PG_TEMPLATE) is copied: much faster than initdb per drill.
    if [ -n "${HP_TEST_PG_TEMPLATE:-}" ] && [ -d "$HP_TEST_PG_TEMPLATE" ]; then
      cp -a "$HP_TEST_PG_TEMPLATE" "$dir/data"
    else
      "${as_pg[@]}" initdb --no-sync -D "$dir/data" -U postgres --auth=trust > "$dir/initdb.log" 2>&1
    fi
    "${as_pg[@]}" pg_ctl -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off" start > /dev/null
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      pid=$(head -n 1 "$dir/data/postmaster.pid")
      # Immediate shutdown: the throwaway cluster is deleted anyway.
      kill -QUIT "$pid" 2> /dev/null || true
      for _ in $(seq 1 100); do
        kill -0 "$pid" 2> /dev/null || break
        sleep 0.1
      done
    fi
    rm -rf -- "$dir"
    ;;
  *) echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
