# ---- step "base": packages, time zone, NTP, journald limits, sysctl tuning, swap file -------------
hp_base_packages() {
  local pkg missing=()
  for pkg in "${HP_PACKAGES[@]}"; do
    hp_installed "$pkg" || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    hp_unchanged "packages (${#HP_PACKAGES[@]} installed)"
    return 0
  fi
  if hp_skip packages; then
    hp_skipped "install of ${missing[*]} (HP_SKIP=packages)"
    return 0
  fi
  hp_apt update
  hp_apt install -y --no-install-recommends "${missing[@]}" >/dev/null
  hp_changed "packages installed: ${missing[*]}"
}

hp_base_timezone() {
  [ -f "/usr/share/zoneinfo/$HP_TIMEZONE" ] || hp_die "time zone $HP_TIMEZONE is unknown here (is tzdata installed?)"
  hp_symlink "../usr/share/zoneinfo/$HP_TIMEZONE" /etc/localtime
  hp_install_file "$HP_TIMEZONE_FILE"
}

hp_base_ntp() {
  if [ "$HP_NTP" = chrony ]; then
    hp_install_file "$HP_CHRONY_FILE"
    if hp_file_changed && hp_systemd && command -v chronyc >/dev/null 2>&1; then
      chronyc reload sources >/dev/null 2>&1 || systemctl try-restart chrony.service
    fi
    hp_installed chrony && hp_service_enable chrony.service
  else
    hp_install_file "$HP_TIMESYNCD_FILE"
    if hp_installed systemd-timesyncd; then
      hp_service_enable systemd-timesyncd.service
      if hp_file_changed && hp_systemd; then systemctl try-restart systemd-timesyncd.service; fi
    fi
  fi
}

hp_base_journald() {
  hp_install_file "$HP_JOURNALD_FILE"
  if hp_file_changed && hp_systemd; then
    systemctl restart systemd-journald.service
    hp_log "restarted: systemd-journald"
  fi
}

# hp_sysctl_get KEY: the kernel's value with whitespace normalised (tcp_rmem prints tabs).
hp_sysctl_get() {
  local raw
  raw=$(sysctl -n "$1" 2>/dev/null) || return 1
  printf '%s' "$raw" | tr -s '[:space:]' ' ' | sed 's/^ //; s/ $//'
}

hp_base_sysctl() {
  local file=$HP_SYSCTL_FILE key value current
  hp_install_file "$file"
  hp_install_file "$HP_MODULES_FILE"
  if hp_skip sysctl; then
    hp_skipped "runtime sysctl values (HP_SKIP=sysctl); $file applies at boot"
    return 0
  fi
  while IFS='=' read -r key value; do
    key=$(printf '%s' "$key" | tr -d '[:space:]')
    value=$(printf '%s' "$value" | tr -s '[:space:]' ' ' | sed 's/^ //; s/ $//')
    [ -n "$key" ] || continue
    if ! current=$(hp_sysctl_get "$key"); then
      hp_warn "sysctl $key does not exist on this kernel; left to the file"
      continue
    fi
    if [ "$current" = "$value" ]; then
      continue
    fi
    # procps exits 0 even when the kernel refuses a write (e.g. a key that is read-only in a
    # container's network namespace): only the value read back counts.
    sysctl -q -w "$key=$value" >/dev/null 2>&1 || true
    if [ "$(hp_sysctl_get "$key")" = "$value" ]; then
      hp_changed "sysctl $key = $value (was $current)"
    else
      hp_warn "sysctl -w $key=$value failed (kept $current)"
    fi
  done < <(grep -Ev '^[[:space:]]*(#|;|$)' "$file")
  hp_log "checked: runtime sysctl values"
}

hp_base_swap() {
  local unit=$HP_SWAP_UNIT link
  link="$(dirname "$HP_SWAP_UNIT")/swap.target.wants/$(basename "$HP_SWAP_UNIT")"
  local want size type
  if [ "$HP_SWAP_GB" -eq 0 ]; then
    if grep -q '^/swapfile ' /proc/swaps && ! hp_skip swap; then
      swapoff /swapfile
      hp_changed "swap off: /swapfile"
    fi
    hp_remove "$link"
    hp_remove "$unit"
    if ! hp_skip swap; then hp_remove /swapfile; fi
    return 0
  fi
  hp_install_file "$unit"
  if hp_file_changed && hp_systemd; then systemctl daemon-reload; fi
  hp_symlink "$unit" "$link"
  if hp_skip swap; then
    hp_skipped "swap file /swapfile of ${HP_SWAP_GB} GiB (HP_SKIP=swap)"
    return 0
  fi
  want=$((HP_SWAP_GB * 1024 * 1024 * 1024))
  size=$(stat -c %s /swapfile 2>/dev/null || echo 0)
  type=$(blkid -p -o value -s TYPE /swapfile 2>/dev/null || true)
  if [ "$size" -eq "$want" ] && [ "$type" = swap ]; then
    hp_unchanged "/swapfile (${HP_SWAP_GB} GiB)"
  else
    if grep -q '^/swapfile ' /proc/swaps; then swapoff /swapfile; fi
    rm -f /swapfile
    if ! fallocate -l "${HP_SWAP_GB}G" /swapfile 2>/dev/null; then
      dd if=/dev/zero of=/swapfile bs=1M count=$((HP_SWAP_GB * 1024)) status=none
    fi
    chmod 0600 /swapfile
    mkswap /swapfile >/dev/null
    hp_changed "/swapfile (${HP_SWAP_GB} GiB)"
  fi
  if grep -q '^/swapfile ' /proc/swaps; then
    hp_unchanged "swap on: /swapfile"
  else
    if hp_systemd; then systemctl start swapfile.swap; else swapon /swapfile; fi
    hp_changed "swap on: /swapfile"
  fi
}

hp_step() {
  hp_base_packages
  hp_base_timezone
  hp_base_ntp
  hp_base_journald
  hp_base_sysctl
  hp_base_swap
}
