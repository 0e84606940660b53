#!/usr/bin/env bash
# hetzner-platform app step for app.engine swarm (rendered; `sudo bash -s` with this script on stdin).
#
# Every server: creates the bind-mount directories of the tasks the swarm may place on it.
# The first manager (DEPLOY=1) also: installs the swarm config files, creates the swarm secrets (named
# <project>_<key>_<sha256 of the value>, value on docker's stdin, never argv), runs
# `docker stack deploy --prune` and waits until every service runs its desired tasks and no update is
# in flight. An update whose new tasks do not turn healthy is rolled back by the swarm itself
# (update_config failure_action rollback); this script then fails and says so.
# Secret values arrive base64-encoded in this script; nothing here prints them.
# HP_ROOT (unset in production) prefixes host paths for tests.
set -euo pipefail
umask 022

#@@SETTINGS@@

ROOT="${HP_ROOT:-}"
BASE="$ROOT$RELEASES_BASE"
CHANGED=0
log() { printf 'app: %s\n' "$*"; }

#@@LIB@@

# swarm_secret KEY: the value (base64) on stdin becomes the swarm secret <project>_<key>_<hash>, whose
# name is exported as HP_SECRET_<KEY> for the stack file.
swarm_secret() {
    local key=$1 value digest name variable
    value=$(base64 -d; printf x)
    value=${value%x}
    digest=$(printf '%s' "$value" | sha256sum | cut -c1-12)
    name="${PROJECT}_$(printf '%s' "$key" | tr '[:upper:]' '[:lower:]')_$digest"
    if ! docker secret inspect "$name" >/dev/null 2>&1; then
        printf '%s' "$value" | docker secret create "$name" - >/dev/null
        log "secret $key: created $name"
        CHANGED=$((CHANGED + 1))
    fi
    variable="HP_SECRET_$(printf '%s' "$key" | tr '[:lower:]' '[:upper:]')"
    export "$variable=$name"
    CURRENT_SECRETS+=("$name")
}

# interpolated NAME: a secret docker stack deploy fills into the stack file (a URL with a password).
interpolated() {
    local value
    value=$(base64 -d; printf x)
    export "$1=${value%x}"
}

#@@FUNCTIONS@@

make_data_dirs() {
    local dir
    for dir in "${DATA_DIRS[@]}"; do
        if [ ! -d "$ROOT$dir" ]; then
            mkdir -p "$ROOT$dir"
            log "created $dir"
            CHANGED=$((CHANGED + 1))
        fi
    done
}

# Each service: "<name> <running>/<desired> <update state>"; global services count their nodes.
service_states() {
    local id
    for id in $(docker stack services -q "$PROJECT"); do
        docker service inspect --format \
            '{{.Spec.Name}} {{if .UpdateStatus}}{{.UpdateStatus.State}}{{else}}none{{end}}' "$id"
    done
}

converged() {
    local line name state desired running
    service_states >"$STATE_FILE" || return 1
    while read -r line; do
        name=${line%% *}
        state=${line##* }
        case "$state" in
            updating | rollback_started | paused | rollback_paused) return 1 ;;
        esac
        desired=$(docker service ls --filter "name=$name" --format '{{.Name}} {{.Replicas}}' | awk -v n="$name" '$1 == n {print $2}')
        running=${desired%%/*}
        desired=${desired#*/}
        desired=${desired%% *}
        [ -n "$running" ] && [ "$running" = "$desired" ] || return 1
    done <"$STATE_FILE"
}

deploy_stack() {
    local before after deadline rolled
    STATE_FILE=$(mktemp)
    trap 'rm -f "$STATE_FILE"' EXIT
    install_files
    CURRENT_SECRETS=()
    create_secrets
    export_interpolated
    mkdir -p "$BASE/stack"
    stage_stack >"$BASE/stack/stack.yml.new"
    mv -f "$BASE/stack/stack.yml.new" "$BASE/stack/stack.yml"
    before=$(docker stack services --format '{{.Name}} {{.Image}}' "$PROJECT" 2>/dev/null | sort | sha256sum)
    docker stack deploy --prune --with-registry-auth -c "$BASE/stack/stack.yml" "$PROJECT" >/dev/null
    after=$(docker stack services --format '{{.Name}} {{.Image}}' "$PROJECT" | sort | sha256sum)
    log "stack $PROJECT deployed ($(docker stack services -q "$PROJECT" | wc -l) services)"
    deadline=$((SECONDS + WAIT_TIMEOUT))
    sleep 2
    until converged; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "stack did not converge within ${WAIT_TIMEOUT}s:"
            cat "$STATE_FILE"
            docker stack ps --no-trunc --filter desired-state=running "$PROJECT" || true
            exit 1
        fi
        sleep 2
    done
    rolled=$(awk '$2 == "rollback_completed" {print $1}' "$STATE_FILE" | tr '\n' ' ')
    if [ -n "$rolled" ]; then
        log "the new release did not turn healthy: the swarm rolled back $rolled"
        exit 1
    fi
    [ "$before" = "$after" ] || CHANGED=$((CHANGED + 1))
    log "stack $PROJECT converged: $(awk '{print $1}' "$STATE_FILE" | tr '\n' ' ')"
    prune_secrets
}

# Old secret versions no service uses any more (docker refuses to remove one in use).
prune_secrets() {
    local name
    for name in $(docker secret ls --format '{{.Name}}' | grep "^${PROJECT}_" || true); do
        if ! printf '%s\n' "${CURRENT_SECRETS[@]}" | grep -x "$name" >/dev/null; then
            if docker secret rm "$name" >/dev/null 2>&1; then log "secret $name removed (no longer used)"; fi
        fi
    done
}

make_data_dirs
bootstrap_certificates
if [ "$DEPLOY" = 1 ]; then
    deploy_stack
fi
echo "hetzner-platform step=app changed=$CHANGED"
