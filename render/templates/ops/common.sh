# ---- hetzner-platform ops common (inlined into every hp-* script by render/ops.py) ----
# Settings come from $HP_CONF (non-secret, 0644) and $HP_ENV_FILE (secrets, 0600). Both are written
# as VAR=${VAR-value}, so a variable already set in the environment wins: that is how the tests
# point every probe and command at local fixtures.
# HP_CONF, HP_ENV_FILE and the HP_DEFAULT_* fallbacks come first, from spec/host_paths.py.
if [ -n "$HP_CONF" ] && [ -r "$HP_CONF" ]; then
  # shellcheck source=/dev/null
  . "$HP_CONF"
fi
if [ -n "$HP_ENV_FILE" ] && [ -r "$HP_ENV_FILE" ]; then
  # shellcheck source=/dev/null
  . "$HP_ENV_FILE"
fi
HP_PROJECT=${HP_PROJECT-app}
HP_ENVIRONMENT=${HP_ENVIRONMENT-prod}
HP_SERVER=${HP_SERVER-$(hostname -s 2>/dev/null || echo server)}
HP_STATE_DIR=${HP_STATE_DIR-$HP_DEFAULT_STATE_DIR}
HP_STATE_FILE=${HP_STATE_FILE-$HP_STATE_DIR/backup-state.json}
HP_TEXTFILE_DIR=${HP_TEXTFILE_DIR-$HP_DEFAULT_TEXTFILE_DIR}
HP_BACKUP_DIR=${HP_BACKUP_DIR-/var/backups/hetzner-platform}
HP_COMPOSE=${HP_COMPOSE-docker compose -p $HP_PROJECT}
HP_COMPOSE_PROJECT=${HP_COMPOSE_PROJECT-$HP_PROJECT}
HP_LIVE_COLOUR_FILE=${HP_LIVE_COLOUR_FILE-}
HP_PG_EXEC=${HP_PG_EXEC-$HP_COMPOSE exec -T postgres}
HP_PG_ARGS=${HP_PG_ARGS--U postgres}
HP_DRILL_EXEC=${HP_DRILL_EXEC-docker exec -i hp-restore-drill}
HP_DRILL_ARGS=${HP_DRILL_ARGS--h 127.0.0.1 -U postgres}
HP_TAG=${HP_TAG-$(basename "$0")}

hp_now() {
  if [ -n "${HP_NOW:-}" ]; then echo "$HP_NOW"; else date +%s; fi
}

hp_iso() {
  date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ
}

# hp_log LEVEL MESSAGE... : stderr (the journal when run by systemd, with the priority prefix) and,
# outside systemd, also syslog through logger so a manual run leaves a journal entry too.
hp_log() {
  local level=$1 prefix=6
  shift
  case $level in
    err) prefix=3 ;;
    warning) prefix=4 ;;
    notice) prefix=5 ;;
  esac
  if [ -n "${JOURNAL_STREAM:-}" ]; then
    printf '<%s>%s\n' "$prefix" "$*" >&2
  else
    printf '%s %s[%s]: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$HP_TAG" "$level" "$*" >&2
    if [ "${HP_SYSLOG:-1}" = 1 ] && command -v logger >/dev/null 2>&1; then
      logger -t "$HP_TAG" -p "user.$level" -- "$*" 2>/dev/null || true
    fi
  fi
}

hp_die() {
  hp_log err "$*"
  exit 1
}

# hp_exec PREFIX CONNECTION TOOL [ARGS...]: run TOOL behind PREFIX (the words that reach it: docker
# compose exec, docker exec; empty for local binaries) with the CONNECTION words before ARGS.
hp_exec() {
  local -a prefix=() conn=()
  read -r -a prefix <<< "$1"
  read -r -a conn <<< "$2"
  local tool=$3
  shift 3
  "${prefix[@]}" "$tool" "${conn[@]}" "$@"
}

# A PostgreSQL client tool against the application database (hp_pg) or the throwaway drill server
# (hp_pg_drill): hp_pg TOOL [ARGS...].
hp_pg() { hp_exec "$HP_PG_EXEC" "$HP_PG_ARGS" "$@"; }
hp_pg_drill() { hp_exec "$HP_DRILL_EXEC" "$HP_DRILL_ARGS" "$@"; }

# The newest complete backup directory, hourly or daily (their names sort by time); empty if none.
hp_newest_backup() {
  local newest
  newest=$(find "$HP_BACKUP_DIR/hourly" "$HP_BACKUP_DIR/daily" -mindepth 1 -maxdepth 1 -type d ! -name '.*' \
    -printf '%f %p\n' 2>/dev/null | sort -r | head -n 1 || true)
  printf '%s' "${newest#* }"
}

hp_compose() {
  local -a cmd=()
  read -r -a cmd <<< "$HP_COMPOSE"
  "${cmd[@]}" "$@"
}

# The live blue-green colour's own compose project (<project>-<colour>, render/blue_green.py); nothing
# without one. A second --project-name after HP_COMPOSE's wins (the last value of a flag counts).
hp_live_compose() {
  local colour
  colour=$(cat "$HP_LIVE_COLOUR_FILE" 2> /dev/null || true)
  [[ $colour =~ ^(blue|green)$ ]] || return 0
  hp_compose --project-name "$HP_COMPOSE_PROJECT-$colour" "$@"
}

# Merge into the JSON state file under a lock: hp_state_update [jq options...] FILTER
hp_state_update() {
  mkdir -p "$(dirname "$HP_STATE_FILE")"
  (
    flock -w 120 8 || exit 1
    local current tmp
    if [ -s "$HP_STATE_FILE" ] && jq -e 'type == "object"' "$HP_STATE_FILE" >/dev/null 2>&1; then
      current=$(cat "$HP_STATE_FILE")
    else
      current='{"version": 1}'
    fi
    tmp=$(mktemp "$HP_STATE_FILE.XXXXXX")
    if printf '%s' "$current" | jq "$@" > "$tmp"; then
      chmod 0644 "$tmp"
      mv -f "$tmp" "$HP_STATE_FILE"
    else
      rm -f "$tmp"
      exit 1
    fi
  ) 8>"$HP_STATE_FILE.lock"
}

hp_state_get() {
  if [ -s "$HP_STATE_FILE" ]; then
    jq -r "$1 // empty" "$HP_STATE_FILE" 2>/dev/null || true
  fi
}

# Node-exporter textfile metrics (best effort: monitoring must never break a backup).
hp_metric_file() {
  local name=$1 content=$2
  [ -n "$HP_TEXTFILE_DIR" ] || return 0
  mkdir -p "$HP_TEXTFILE_DIR" 2>/dev/null || return 0
  if printf '%s\n' "$content" > "$HP_TEXTFILE_DIR/.$name.prom.tmp" 2>/dev/null; then
    chmod 0644 "$HP_TEXTFILE_DIR/.$name.prom.tmp" 2>/dev/null || true
    mv -f "$HP_TEXTFILE_DIR/.$name.prom.tmp" "$HP_TEXTFILE_DIR/$name.prom" 2>/dev/null || true
  fi
}
# ---- end of common ----
