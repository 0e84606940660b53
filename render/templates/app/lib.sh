# ---- shared by deploy.sh and swarm-deploy.sh (render/app_templates.py inserts it at the LIB marker) ----

# install_file PATH: write stdin (base64) to the content-addressed PATH unless it is already intact.
install_file() {
    local path="$ROOT$1" expected tmp
    expected=$(basename "$(dirname "$1")")
    if [ -f "$path" ] && [ "$(sha256sum "$path" | cut -c1-12)" = "$expected" ]; then
        cat >/dev/null
        return 0
    fi
    mkdir -p "$(dirname "$path")"
    tmp=$(mktemp "$path.XXXXXX")
    base64 -d >"$tmp"
    chmod 644 "$tmp"
    mv -f "$tmp" "$path"
}

# nginx only: a self-signed placeholder per host so nginx starts before certbot's first run.
bootstrap_certificates() {
    local host dir
    for host in "${CERT_HOSTS[@]}"; do
        [ -e "$ROOT$CERT_DIR/live/$host/fullchain.pem" ] && continue
        dir="$ROOT$CERT_DIR/selfsigned/$host"
        mkdir -p "$dir" "$ROOT$CERT_DIR/live"
        (umask 077 && openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=$host" \
            -keyout "$dir/privkey.pem" -out "$dir/fullchain.pem" >/dev/null 2>&1)
        ln -sfn "../selfsigned/$host" "$ROOT$CERT_DIR/live/$host"
    done
}
