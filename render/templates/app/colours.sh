# --- blue-green colours (inlined into deploy.sh and hp-rollback; render/blue_green.py explains) ---------
# State under $BASE: $LIVE_STATE ("blue" | "green") and colour-<colour> (the release that colour runs).

log() { printf 'app: %s\n' "$*"; }

compose() {  # DIR ARGS...: the main compose project (recreate services and the proxy)
    local dir=$1
    shift
    docker compose --project-name "$PROJECT" --project-directory "$dir" \
        --file "$dir/docker-compose.yml" --env-file "$dir/.env" "$@"
}

switch_to() {  # RELEASE: the `current` link
    ln -sfn "releases/$1" "$BASE/.current.new"
    mv -Tf "$BASE/.current.new" "$CURRENT"
}

colour_compose() {  # DIR COLOUR ARGS...: the colour's compose project, from a release directory
    local dir=$1 colour=$2
    shift 2
    HP_COLOUR=$colour docker compose --project-name "$PROJECT-$colour" --project-directory "$dir" \
        --file "$dir/docker-compose.yml" --env-file "$dir/.env" "$@"
}

other_colour() { if [ "$1" = blue ]; then echo green; else echo blue; fi; }

live_colour() { cat "$BASE/$LIVE_STATE" 2>/dev/null || true; }

set_state() {  # NAME VALUE: one state file, replaced atomically
    printf '%s\n' "$2" >"$BASE/.$1.new"
    mv -f "$BASE/.$1.new" "$BASE/$1"
}

container_of() {  # PROJECT SERVICE: the id of the service's first running container
    docker ps -q --filter "label=com.docker.compose.project=$1" --filter "label=com.docker.compose.service=$2" | head -n 1
}

# The new colour's own /health over the edge network, before the proxy sends it anything.
colour_healthy() {  # COLOUR
    local attempt cid ip code body err
    [ -n "$BG_CHECK_SERVICE" ] || return 0
    for ((attempt = 1; attempt <= HEALTH_RETRIES; attempt++)); do
        cid=$(container_of "$PROJECT-$1" "$BG_CHECK_SERVICE")
        ip=""
        if [ -n "$cid" ]; then
            ip=$(docker inspect -f "{{with index .NetworkSettings.Networks \"${PROJECT}_edge\"}}{{.IPAddress}}{{end}}" "$cid")
        fi
        body=$(mktemp)
        err=$(mktemp)
        code=$(curl -sS -o "$body" -w '%{http_code}' --max-time "$HEALTH_TIMEOUT" -H "Host: $BG_CHECK_HOST" \
            "http://${ip:-0.0.0.0}:$BG_CHECK_PORT$BG_CHECK_PATH" 2>"$err") || true
        HEALTH_OUTPUT="GET http://$BG_CHECK_SERVICE-$1:$BG_CHECK_PORT$BG_CHECK_PATH (${ip:-no address}) -> HTTP ${code:-000}: $(head -c 2000 "$body" | tr -d '\000') $(head -c 500 "$err")"
        rm -f "$body" "$err"
        case "${code:-000}" in
            2[0-9][0-9]) return 0 ;;
        esac
        sleep "$HEALTH_INTERVAL"
    done
    return 1
}

proxy_workers() {  # host PIDs of the proxy's nginx workers (docker top runs ps on the host)
    local cid
    cid=$(container_of "$PROJECT" "$PROXY_SERVICE")
    [ -n "$cid" ] || return 0
    docker top "$cid" -eo pid,args | awk '$2 == "nginx:" && $3 == "worker" {print $1}'
}

# The live-colour file (and Traefik's app.yml) of release DIR for COLOUR, replaced atomically.
write_live() {  # COLOUR DIR
    local tmp
    mkdir -p "$ROOT$LIVE_DIR"
    if [ -f "$2/$RELEASE_TRAEFIK_APP" ]; then
        tmp=$(mktemp "$ROOT$LIVE_DIR/.app.XXXXXX")
        cp "$2/$RELEASE_TRAEFIK_APP" "$tmp"
        chmod 644 "$tmp"
        mv -f "$tmp" "$ROOT$LIVE_DIR/$TRAEFIK_APP_FILE"
    fi
    tmp=$(mktemp "$ROOT$LIVE_DIR/.live.XXXXXX")
    cp "$2/$RELEASE_LIVE_PREFIX$1" "$tmp"
    chmod 644 "$tmp"
    mv -f "$tmp" "$ROOT$LIVE_DIR/$LIVE_FILE"
}

# Point the proxy at COLOUR. nginx: validate, then a graceful reload (new workers take new requests, the
# old ones finish theirs); Traefik: its file provider watches the directory and reloads by itself.
switch_proxy() {  # COLOUR DIR
    local cid
    write_live "$1" "$2"
    set_state "$LIVE_STATE" "$1"
    if [ "$PROXY_KIND" = nginx ]; then
        cid=$(container_of "$PROJECT" "$PROXY_SERVICE")
        [ -n "$cid" ] || return 0
        OLD_WORKERS=$(proxy_workers | tr '\n' ' ' || true)
        docker exec "$cid" nginx -t -q || return 1
        docker exec "$cid" nginx -s reload
    fi
}

# In-flight requests finish on the old colour: nginx's old workers exit once their requests are done.
drain() {
    local deadline=$((SECONDS + DRAIN_TIMEOUT)) pid busy
    if [ "$PROXY_KIND" != nginx ]; then
        sleep "$DRAIN_TIMEOUT"
        return 0
    fi
    while [ "$SECONDS" -lt "$deadline" ]; do
        busy=""
        for pid in ${OLD_WORKERS:-}; do
            if kill -0 "$pid" 2>/dev/null; then busy=1; fi
        done
        [ -n "$busy" ] || return 0
        sleep 0.2
    done
    log "drain: old proxy workers still busy after ${DRAIN_TIMEOUT}s; stopping the old colour anyway"
}

# The stopped colour stays for KEEP_PREVIOUS_MINUTES (hp-rollback starts it in seconds), then a transient
# systemd timer removes its containers unless it is live again by then.
schedule_retire() {  # COLOUR
    local unit="hp-retire-$PROJECT-$1"
    command -v systemd-run >/dev/null 2>&1 || return 0
    systemctl stop "$unit.timer" >/dev/null 2>&1 || true
    systemd-run --quiet --unit "$unit" --on-active="${KEEP_PREVIOUS_MINUTES}m" --timer-property=AccuracySec=1min \
        "$ROLLBACK_BIN" --retire "$1" >/dev/null 2>&1 || log "could not schedule the removal of the $1 containers"
}

retire() {  # COLOUR: remove the stopped colour's containers (not while it is live)
    if [ "$(live_colour)" = "$1" ]; then
        log "colour $1 is live again; keeping it"
        return 0
    fi
    docker ps -aq --filter "label=com.docker.compose.project=$PROJECT-$1" | xargs -r docker rm -f >/dev/null
    rm -f "$BASE/colour-$1"
    log "removed the stopped $1 containers"
}

# Switch traffic from the live colour to COLOUR (already started and healthy), drain, stop the old one.
cut_over() {  # COLOUR DIR
    local colour=$1 old
    old=$(live_colour)
    switch_proxy "$colour" "$2" || return 1
    if [ -n "$old" ] && [ "$old" != "$colour" ]; then
        drain
        colour_compose "$2" "$old" stop >/dev/null 2>&1 || log "could not stop the $old containers"
        schedule_retire "$old"
    fi
}
