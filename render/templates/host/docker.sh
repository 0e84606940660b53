# ---- step "docker": the engine + compose plugin (Docker CE, or the OS archive's docker.io), daemon.json --
# HP_DOCKER_KEYRING, HP_DOCKER_SOURCES, HP_DOCKER_PREFERENCES and HP_DOCKER_DAEMON_JSON come from
# spec/host_paths.py.

hp_docker_key() {
  local tmp="$HP_TMP/docker.asc" fingerprints
  export GNUPGHOME="$HP_TMP/gnupg"
  mkdir -p "$GNUPGHOME"
  chmod 0700 "$GNUPGHOME"
  if [ -s "$HP_DOCKER_KEYRING" ] &&
    gpg --batch --show-keys --with-colons "$HP_DOCKER_KEYRING" 2>/dev/null | grep "^fpr:*$HP_DOCKER_KEY_FINGERPRINT:" >/dev/null; then
    hp_unchanged "$HP_DOCKER_KEYRING"
    return 0
  fi
  curl -fsSL --retry 5 --retry-delay 2 -o "$tmp" "https://download.docker.com/linux/$ID/gpg"
  fingerprints=$(gpg --batch --show-keys --with-colons "$tmp" 2>/dev/null | sed -n 's/^fpr:*\([0-9A-F]*\):*$/\1/p')
  grep -qx "$HP_DOCKER_KEY_FINGERPRINT" <<<"$fingerprints" ||
    hp_die "the key from download.docker.com does not have the expected fingerprint $HP_DOCKER_KEY_FINGERPRINT"
  hp_put "$tmp" "$HP_DOCKER_KEYRING" 0644
}

hp_docker_sources() {
  hp_payload docker.sources.template | sed -e "s/@OS_ID@/$ID/g" -e "s/@CODENAME@/$VERSION_CODENAME/g" >"$HP_TMP/docker.sources"
  hp_put "$HP_TMP/docker.sources" "$HP_DOCKER_SOURCES" 0644
}

# hp_docker_remove_conflicts: the other source's packages hold the same binaries and units.
hp_docker_remove_conflicts() {
  local pkg conflicting=()
  for pkg in "${HP_DOCKER_CONFLICTS[@]}"; do
    if hp_installed "$pkg"; then conflicting+=("$pkg"); fi
  done
  if [ "${#conflicting[@]}" -gt 0 ]; then
    hp_apt remove -y "${conflicting[@]}" >/dev/null
    hp_changed "removed packages that conflict with $HP_DOCKER_SOURCE: ${conflicting[*]}"
  fi
}

hp_docker_ce_packages() {
  local pkg missing=() version
  hp_docker_remove_conflicts
  for pkg in "${HP_DOCKER_PACKAGES[@]}"; do
    hp_installed "$pkg" || missing+=("$pkg")
  done
  version=$(dpkg-query -W -f='${Version}' docker-ce 2>/dev/null || true)
  case "$version" in
    "5:$HP_DOCKER_MAJOR."*) ;;
    *) missing+=(docker-ce docker-ce-cli) ;;
  esac
  if [ "${#missing[@]}" -eq 0 ]; then
    hp_unchanged "Docker CE $version"
    return 0
  fi
  hp_apt update
  hp_apt install -y --no-install-recommends --allow-downgrades "${HP_DOCKER_PACKAGES[@]}" >/dev/null
  version=$(dpkg-query -W -f='${Version}' docker-ce)
  case "$version" in
    "5:$HP_DOCKER_MAJOR."*) hp_changed "Docker CE $version installed" ;;
    *) hp_die "apt installed docker-ce $version, not major $HP_DOCKER_MAJOR" ;;
  esac
}

# The distribution's engine (docker.io) and, on Ubuntu, its compose v2 package: no version pin, the
# archive's security updates apply.
hp_docker_archive_packages() {
  local pkg missing=()
  hp_docker_remove_conflicts
  # Left over from source docker-ce: Docker's repository would offer docker-ce again.
  hp_remove "$HP_DOCKER_SOURCES"
  hp_remove "$HP_DOCKER_PREFERENCES"
  for pkg in "${HP_DOCKER_PACKAGES[@]}"; do
    hp_installed "$pkg" || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    hp_unchanged "${HP_DOCKER_PACKAGES[*]} $(dpkg-query -W -f='${Version}' docker.io)"
    return 0
  fi
  hp_apt update
  hp_apt install -y --no-install-recommends "${missing[@]}" >/dev/null
  hp_changed "installed from the OS archive: ${missing[*]} (docker.io $(dpkg-query -W -f='${Version}' docker.io))"
}

# hp_docker_compose_download: the compose v2 plugin from HP_DOCKER_COMPOSE_URL, installed only when its
# sha256 is HP_DOCKER_COMPOSE_SHA256 (Debian 12's archive has no compose v2 package).
hp_docker_compose_download() {
  local tmp="$HP_TMP/docker-compose" actual
  [ -n "$HP_DOCKER_COMPOSE_URL" ] || return 0
  if [ -f "$HP_DOCKER_COMPOSE_PATH" ] &&
    [ "$(sha256sum "$HP_DOCKER_COMPOSE_PATH" | cut -d' ' -f1)" = "$HP_DOCKER_COMPOSE_SHA256" ] &&
    [ "$(stat -c '%a %u %g' -- "$HP_DOCKER_COMPOSE_PATH")" = "755 0 0" ]; then
    hp_unchanged "$HP_DOCKER_COMPOSE_PATH (sha256 $HP_DOCKER_COMPOSE_SHA256)"
    return 0
  fi
  curl -fsSL --retry 5 --retry-delay 2 -o "$tmp" "$HP_DOCKER_COMPOSE_URL" ||
    hp_die "could not download the compose plugin from $HP_DOCKER_COMPOSE_URL"
  actual=$(sha256sum "$tmp" | cut -d' ' -f1)
  [ "$actual" = "$HP_DOCKER_COMPOSE_SHA256" ] ||
    hp_die "the compose plugin from $HP_DOCKER_COMPOSE_URL has sha256 $actual, not $HP_DOCKER_COMPOSE_SHA256"
  hp_put "$tmp" "$HP_DOCKER_COMPOSE_PATH" 0755
}

hp_docker_daemon() {
  local daemon_changed=$1 errors
  if ! hp_systemd; then
    hp_skipped "docker daemon (re)start (systemd is not running)"
    return 0
  fi
  hp_service_enable docker.service
  if [ "$daemon_changed" = 1 ] && dockerd --help 2>/dev/null | grep -- '--validate' >/dev/null; then
    if ! errors=$(dockerd --validate --config-file "$HP_DOCKER_DAEMON_JSON" 2>&1); then
      hp_restore "$HP_DOCKER_DAEMON_JSON"
      hp_die "dockerd --validate rejected daemon.json: $errors"
    fi
  fi
  if ! systemctl is-active --quiet docker.service; then
    systemctl start docker.service
    hp_changed "started docker"
  elif [ "$daemon_changed" = 1 ]; then
    # live-restore keeps running containers alive across a daemon restart.
    systemctl restart docker.service
    hp_log "restarted: docker (daemon.json changed)"
  fi
}

hp_docker_group() {
  getent group docker >/dev/null || return 0
  if id -nG "$HP_ADMIN_USER" 2>/dev/null | tr ' ' '\n' | grep -x docker >/dev/null; then
    hp_unchanged "$HP_ADMIN_USER in group docker"
  else
    usermod -aG docker "$HP_ADMIN_USER"
    hp_changed "$HP_ADMIN_USER added to group docker"
  fi
}

hp_step() {
  local daemon_changed
  # shellcheck disable=SC1091
  . /etc/os-release
  case "${ID:-}" in
    ubuntu | debian) ;;
    *) hp_die "Docker is installed for Ubuntu and Debian only, not '${ID:-unknown}'" ;;
  esac
  [ -n "${VERSION_CODENAME:-}" ] || hp_die "/etc/os-release has no VERSION_CODENAME"
  hp_install_file "$HP_DOCKER_DAEMON_JSON"
  daemon_changed=$HP_FILE_CHANGED
  if [ "$HP_DOCKER_SOURCE" = docker-ce ]; then
    hp_install_file "$HP_DOCKER_PREFERENCES"
  fi
  if hp_skip docker; then
    hp_skipped "Docker ($HP_DOCKER_SOURCE) repository, packages and daemon restart (HP_SKIP=docker)"
    return 0
  fi
  if [ "$HP_DOCKER_SOURCE" = docker-ce ]; then
    install -d -m 0755 "$(dirname "$HP_DOCKER_KEYRING")"
    hp_docker_key
    hp_docker_sources
    hp_docker_ce_packages
  else
    hp_docker_archive_packages
  fi
  hp_docker_compose_download
  hp_docker_daemon "$daemon_changed"
  hp_docker_group
  docker compose version >/dev/null 2>&1 || hp_die "docker compose (the v2 CLI plugin) does not run"
}
