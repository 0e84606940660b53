#!/usr/bin/env bash
# hetzner-platform app step (rendered; runs as `sudo bash -s` with this script on stdin).
#
# Installs one release of the compose project under /opt/<project>/releases/<id>, pulls its images,
# runs the migrations in a one-off container, switches the `current` link, starts it with
# `docker compose up -d --wait` and checks HTTP health through the proxy. On any failure the previous
# release is started again and the script exits non-zero with the health output.
# The release id is a hash of the rendered files, so an unchanged, healthy release is left alone.
# Secrets arrive base64-encoded in this script (stdin only), go to the release's env file (0600) and
# are only ever read by docker compose: nothing here prints them.
# HP_ROOT (unset in production; sudo resets the environment) prefixes every host path for tests.
set -euo pipefail
umask 022

#@@SETTINGS@@

ROOT="${HP_ROOT:-}"
BASE="$ROOT$RELEASES_BASE"
# Registry logins (root only) for every docker and compose call below.
export DOCKER_CONFIG="$ROOT$DOCKER_CONFIG_DIR"
RELEASES="$BASE/releases"
CURRENT="$BASE/current"
TARGET="$RELEASES/$RELEASE"
PREVIOUS=""
ASIDE=""
STAGING=""
HEALTH_OUTPUT=""

#@@COLOURS@@

#@@LIB@@

# docker_login USER SERVER HOST: the token, base64, on stdin; SERVER "" is Docker Hub (docker's default).
docker_login() {
    log "logging in to $3 as $1"
    if ! base64 -d | docker --config "$DOCKER_CONFIG" login --username "$1" --password-stdin ${2:+"$2"} >/dev/null; then
        log "docker login to $3 as $1 failed"
        exit 1
    fi
}

#@@FUNCTIONS@@

services_running() {
    local running svc colour
    running=$(compose "$1" ps --services --status running 2>/dev/null) || return 1
    for svc in "${RECREATE[@]}"; do
        grep -qxF -- "$svc" <<<"$running" || return 1
    done
    [ "${#BLUE_GREEN[@]}" -gt 0 ] || return 0
    # Blue-green services run in the live colour's project, which must be this release.
    colour=$(live_colour)
    [ -n "$colour" ] && [ "$(cat "$BASE/colour-$colour" 2>/dev/null)" = "$RELEASE" ] || return 1
    running=$(colour_compose "$1" "$colour" ps --services --status running 2>/dev/null) || return 1
    for svc in "${BLUE_GREEN[@]}"; do
        grep -qxF -- "$svc" <<<"$running" || return 1
    done
}

health_ok() {
    local body err code
    if [ "$HEALTH_MODE" = none ]; then
        HEALTH_OUTPUT="no HTTP check on this server (docker compose --wait decides)"
        return 0
    fi
    body=$(mktemp)
    err=$(mktemp)
    if [ "$HEALTH_MODE" = local ]; then
        code=$(curl -sS -k -o "$body" -w '%{http_code}' --max-time "$HEALTH_TIMEOUT" \
            --resolve "$HEALTH_HOST:$HEALTH_PORT:127.0.0.1" "https://$HEALTH_HOST:$HEALTH_PORT$HEALTH_PATH" 2>"$err") || true
    else
        code=$(curl -sS -o "$body" -w '%{http_code}' --max-time "$HEALTH_TIMEOUT" "$HEALTH_URL" 2>"$err") || true
    fi
    HEALTH_OUTPUT="GET $HEALTH_DESC -> HTTP ${code:-000}: $(head -c 2000 "$body" | tr -d '\000') $(head -c 500 "$err")"
    rm -f "$body" "$err"
    case "${code:-000}" in
        2[0-9][0-9] | 3[0-9][0-9]) return 0 ;;
    esac
    return 1
}

wait_healthy() {
    local attempt
    for ((attempt = 1; attempt <= HEALTH_RETRIES; attempt++)); do
        if health_ok; then
            return 0
        fi
        sleep "$HEALTH_INTERVAL"
    done
    return 1
}

log_failure() {  # REASON, and the last health output
    log "FAILED: release $RELEASE: $1"
    if [ -n "$HEALTH_OUTPUT" ]; then
        log "health: $HEALTH_OUTPUT"
    fi
}

restore_aside() {  # the same release was re-deployed (new env): put the previous copy back
    if [ -n "$ASIDE" ]; then
        rm -rf "$TARGET"
        mv "$ASIDE" "$TARGET"
    fi
}

rollback() {
    log_failure "$1"
    restore_aside
    if [ -n "$PREVIOUS" ] && [ -d "$RELEASES/$PREVIOUS" ]; then
        switch_to "$PREVIOUS"
        if compose "$RELEASES/$PREVIOUS" up -d --remove-orphans --wait --wait-timeout "$WAIT_TIMEOUT"; then
            log "rolled back: release $PREVIOUS is current and running again"
        else
            log "rolled back to release $PREVIOUS, but it did not become healthy either"
        fi
    else
        rm -f "$CURRENT"
        log "no previous release to go back to; the containers of $RELEASE are left for inspection"
    fi
    exit 1
}

prune() {
    local name budget=$((KEEP - 1)) file rel
    if [ -n "$PREVIOUS" ] && [ "$PREVIOUS" != "$RELEASE" ]; then
        budget=$((budget - 1))
    fi
    local colours
    colours=" $(cat "$BASE"/colour-* 2>/dev/null | tr '\n' ' ' || true) "
    while IFS= read -r name; do
        case "$name" in
            "$RELEASE" | "$PREVIOUS") continue ;;
        esac
        case "$colours" in
            *" $name "*) continue ;;  # a colour's release stays while its containers may be started again
        esac
        if [ "$budget" -gt 0 ]; then
            budget=$((budget - 1))
        else
            rm -rf "${RELEASES:?}/$name"
        fi
    done < <(find "$RELEASES" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -printf '%T@ %f\n' | sort -rn | cut -d' ' -f2)
    # Config files no kept release refers to.
    [ -d "$BASE/files" ] || return 0
    while IFS= read -r file; do
        rel=${file#"$ROOT"}
        if ! grep -qxF -- "$rel" "$RELEASES"/*/MANIFEST 2>/dev/null; then
            rm -f "$file"
        fi
    done < <(find "$BASE/files" -type f)
    find "$BASE/files" -mindepth 1 -type d -empty -delete
}

cleanup() {
    if [ -n "$STAGING" ]; then
        rm -rf "$STAGING"
    fi
}

# --- blue-green ---------------------------------------------------------------------------------------
NEW_COLOUR=""
LIVE_BEFORE=""
COLOUR_RELEASE_BEFORE=""

# Before the switch nothing users reach has changed: stop the new colour, keep the previous release.
abort_before_switch() {
    log_failure "$1"
    if [ -n "$LIVE_BEFORE" ] && [ "$(live_colour)" != "$LIVE_BEFORE" ] && [ -d "$RELEASES/$PREVIOUS" ]; then
        write_live "$LIVE_BEFORE" "$RELEASES/$PREVIOUS"  # the proxy refused the switch: keep its file as it was
        set_state "$LIVE_STATE" "$LIVE_BEFORE"
    fi
    if [ -n "$NEW_COLOUR" ]; then
        if [ -n "$COLOUR_RELEASE_BEFORE" ]; then
            set_state "colour-$NEW_COLOUR" "$COLOUR_RELEASE_BEFORE"
        fi
        colour_compose "$TARGET" "$NEW_COLOUR" stop >/dev/null 2>&1 || true
        log "the stopped $NEW_COLOUR containers of $RELEASE are left for inspection (docker logs)"
    fi
    restore_aside
    if [ -n "$PREVIOUS" ] && [ -d "$RELEASES/$PREVIOUS" ]; then
        switch_to "$PREVIOUS"
        compose "$RELEASES/$PREVIOUS" up -d --remove-orphans --wait --wait-timeout "$WAIT_TIMEOUT" "${RECREATE[@]}" >/dev/null 2>&1 ||
            log "the previous release's other services did not all come back healthy"
        log "kept: release $PREVIOUS ($(live_colour)) is current and still serving"
    fi
    exit 1
}

# The new release as the idle colour next to the live one; traffic moves only once it is healthy.
deploy_blue_green() {
    local live started switched
    started=$SECONDS
    live=$(live_colour)
    LIVE_BEFORE=$live
    NEW_COLOUR=$(other_colour "${live:-green}")
    COLOUR_RELEASE_BEFORE=$(cat "$BASE/colour-$NEW_COLOUR" 2>/dev/null || true)
    systemctl stop "hp-retire-$PROJECT-$NEW_COLOUR.timer" >/dev/null 2>&1 || true
    if [ ! -f "$ROOT$LIVE_DIR/$LIVE_FILE" ]; then
        write_live "$NEW_COLOUR" "$TARGET"  # the first blue-green deploy: the proxy starts with it
    fi
    log "release $RELEASE: starting ${PREPARE[*]}"
    compose "$TARGET" up -d --remove-orphans --wait --wait-timeout "$WAIT_TIMEOUT" "${PREPARE[@]}" ||
        abort_before_switch "containers did not start or become healthy"
    if [ -n "$MIGRATE_SERVICE" ]; then
        log "release $RELEASE: running migrations once, before the switch, in a one-off '$MIGRATE_SERVICE' container"
        compose "$TARGET" run --rm --no-TTY "$MIGRATE_SERVICE" "${MIGRATE_ARGS[@]}" || abort_before_switch "migrations failed"
    fi
    log "release $RELEASE: starting the $NEW_COLOUR colour (${BLUE_GREEN[*]}) next to ${live:-nothing}"
    colour_compose "$TARGET" "$NEW_COLOUR" up -d --no-deps --wait --wait-timeout "$WAIT_TIMEOUT" "${BLUE_GREEN[@]}" ||
        abort_before_switch "the $NEW_COLOUR colour did not start or become healthy"
    colour_healthy "$NEW_COLOUR" || abort_before_switch "the $NEW_COLOUR colour failed its health check $HEALTH_RETRIES times"
    switch_to "$RELEASE"
    set_state "colour-$NEW_COLOUR" "$RELEASE"
    cut_over "$NEW_COLOUR" "$TARGET" || abort_before_switch "the proxy did not accept the switch to $NEW_COLOUR"
    switched=$SECONDS
    log "release $RELEASE: traffic switched to $NEW_COLOUR after $((switched - started)) s"
    # The other services (workers) follow; the pre-blue-green container of a switched service goes.
    compose "$TARGET" up -d --remove-orphans --wait --wait-timeout "$WAIT_TIMEOUT" "${RECREATE[@]}" ||
        log "WARNING: release $RELEASE: ${RECREATE[*]} did not all become healthy"
    compose "$TARGET" rm --stop --force "${BLUE_GREEN[@]}" >/dev/null 2>&1 || true
    if ! wait_healthy; then
        log_failure "health check through the proxy failed $HEALTH_RETRIES times; hp-rollback switches back"
        HP_DEPLOY_LOCKED=1 "$TARGET/hp-rollback" || true
        exit 1
    fi
    if [ -n "$ASIDE" ]; then
        rm -rf "$ASIDE"
    fi
    prune
    log "release $RELEASE is live on $NEW_COLOUR (deploy $((SECONDS - started)) s). $HEALTH_OUTPUT"
    echo "hetzner-platform step=app changed=1"
}

main() {
    local dir
    mkdir -p "$RELEASES"
    exec 9>"$BASE/.deploy.lock"
    if ! flock -w 600 9; then
        log "another deploy holds $BASE/.deploy.lock"
        exit 1
    fi
    for dir in "${DATA_DIRS[@]}"; do
        mkdir -p "$ROOT$dir"
    done
    install_files
    bootstrap_certificates
    mkdir -p "$(dirname "$ROOT$ROLLBACK_BIN")"
    ln -sfn "$BASE/current/hp-rollback" "$ROOT$ROLLBACK_BIN"
    install -d -m 0700 "$DOCKER_CONFIG"
    registry_login
    if [ -L "$CURRENT" ]; then
        PREVIOUS=$(basename "$(readlink "$CURRENT")")
    fi

    STAGING=$(mktemp -d "$RELEASES/.staging-$RELEASE.XXXXXX")
    trap cleanup EXIT
    stage_release "$STAGING"
    write_env "$STAGING/.env"
    write_secret_files "$STAGING"
    chmod 755 "$STAGING"

    if [ "$PREVIOUS" = "$RELEASE" ] && [ -d "$TARGET" ] &&
        cmp -s "$STAGING/.env" "$TARGET/.env" &&
        cmp -s "$STAGING/docker-compose.yml" "$TARGET/docker-compose.yml" &&
        services_running "$TARGET" && health_ok; then
        log "release $RELEASE is current, running and healthy"
        echo "hetzner-platform step=app changed=0"
        return 0
    fi

    if [ -e "$TARGET" ]; then
        if [ "$PREVIOUS" = "$RELEASE" ]; then
            ASIDE="$RELEASES/.previous-$RELEASE"
            rm -rf "$ASIDE"
            mv "$TARGET" "$ASIDE"
        else
            rm -rf "$TARGET"
        fi
    fi
    mv "$STAGING" "$TARGET"
    STAGING=""
    chmod 755 "$TARGET/hp-rollback"
    touch "$TARGET"

    log "release $RELEASE (previous: ${PREVIOUS:-none}): pulling images"
    compose "$TARGET" pull --quiet || rollback "docker compose pull failed"
    if [ "${#BLUE_GREEN[@]}" -gt 0 ]; then
        deploy_blue_green
        return 0
    fi
    if [ -n "$MIGRATE_SERVICE" ]; then
        log "release $RELEASE: running migrations in a one-off '$MIGRATE_SERVICE' container"
        compose "$TARGET" run --rm --no-TTY "$MIGRATE_SERVICE" "${MIGRATE_ARGS[@]}" || rollback "migrations failed"
    fi
    switch_to "$RELEASE"
    log "release $RELEASE: starting containers"
    compose "$TARGET" up -d --remove-orphans --wait --wait-timeout "$WAIT_TIMEOUT" ||
        rollback "containers did not start or become healthy"
    wait_healthy || rollback "health check failed $HEALTH_RETRIES times"
    if [ -n "$ASIDE" ]; then
        rm -rf "$ASIDE"
    fi
    prune
    log "release $RELEASE is live. $HEALTH_OUTPUT"
    echo "hetzner-platform step=app changed=1"
}

main "$@"
