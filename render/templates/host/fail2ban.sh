# ---- step "fail2ban": sshd jail on the SSH port (systemd journal backend) and the recidive jail ----
# HP_F2B_FILES (fail2ban.d and jail.d drop-ins) come from spec/host_paths.py.

hp_f2b_rollback() {
  local file
  for file in "${HP_F2B_FILES[@]}"; do hp_restore "$file"; done
  hp_die "$1; the previous fail2ban configuration was restored"
}

hp_step() {
  local file changed=0 output
  command -v fail2ban-client >/dev/null 2>&1 || hp_die "fail2ban is not installed (the base step installs it)"
  for file in "${HP_F2B_FILES[@]}"; do
    hp_install_file "$file"
    if hp_file_changed; then changed=1; fi
  done
  # -t only fails on hard errors; a value fail2ban cannot parse is merely a warning: treat it as one.
  if ! output=$(fail2ban-client -t 2>&1); then
    hp_f2b_rollback "fail2ban-client -t rejected the configuration: $output"
  fi
  if grep -q 'Wrong value' <<<"$output"; then
    hp_f2b_rollback "fail2ban-client -t: $(grep 'Wrong value' <<<"$output" | head -n 3)"
  fi
  hp_log "validated: fail2ban-client -t"
  if ! hp_systemd; then
    hp_skipped "fail2ban restart (systemd is not running)"
    return 0
  fi
  hp_service_enable fail2ban.service
  if [ "$changed" = 1 ]; then
    systemctl restart fail2ban.service
    hp_log "restarted: fail2ban"
  elif ! systemctl is-active --quiet fail2ban.service; then
    systemctl start fail2ban.service
    hp_changed "started fail2ban"
  fi
}
