# ---- step "docker": Docker CE + compose plugin from download.docker.com, pinned major, daemon.json --
HP_DOCKER_KEYRING=/etc/apt/keyrings/docker.asc
HP_DOCKER_SOURCES=/etc/apt/sources.list.d/docker.sources
HP_DOCKER_DAEMON_JSON=/etc/docker/daemon.json

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

hp_docker_packages() {
  local pkg missing=() version conflicting=()
  for pkg in docker.io docker-doc docker-compose podman-docker containerd runc; do
    if hp_installed "$pkg"; then conflicting+=("$pkg"); fi
  done
  if [ "${#conflicting[@]}" -gt 0 ]; then
    hp_apt remove -y "${conflicting[@]}" >/dev/null
    hp_changed "removed distribution packages that conflict with Docker CE: ${conflicting[*]}"
  fi
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
    *) hp_die "Docker CE is installed from download.docker.com for Ubuntu and Debian only, not '${ID:-unknown}'" ;;
  esac
  [ -n "${VERSION_CODENAME:-}" ] || hp_die "/etc/os-release has no VERSION_CODENAME"
  hp_install_file "$HP_DOCKER_DAEMON_JSON"
  daemon_changed=$HP_FILE_CHANGED
  hp_install_file /etc/apt/preferences.d/docker-ce
  if hp_skip docker; then
    hp_skipped "Docker CE repository, packages and daemon restart (HP_SKIP=docker)"
    return 0
  fi
  install -d -m 0755 /etc/apt/keyrings
  hp_docker_key
  hp_docker_sources
  hp_docker_packages
  hp_docker_daemon "$daemon_changed"
  hp_docker_group
}
