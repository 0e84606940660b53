# ---- step "upgrades": unattended-upgrades for security origins only, never touching Docker --------
# HP_UPGRADE_FILES (apt periodic, unattended-upgrades, needrestart) come from spec/host_paths.py.

hp_step() {
  local file errors
  hp_installed unattended-upgrades || hp_warn "unattended-upgrades is not installed (the base step installs it)"
  for file in "${HP_UPGRADE_FILES[@]}"; do
    hp_install_file "$file"
  done
  if ! errors=$(apt-config dump 2>&1 >/dev/null) || grep -q '^E:' <<<"$errors"; then
    for file in "${HP_UPGRADE_FILES[@]}"; do hp_restore "$file"; done
    hp_die "apt-config rejected the configuration: $errors"
  fi
  hp_log "validated: apt-config dump"
  if hp_systemd; then
    hp_service_enable apt-daily.timer
    hp_service_enable apt-daily-upgrade.timer
  fi
}
