# ---- step "ssh": sshd hardening drop-in, validated before reload, rolled back if invalid ----------
# HP_SSHD_FILES (the port and hardening drop-ins) and HP_SSH_SOCKET_DROPIN come from spec/host_paths.py.

hp_ssh_rollback() {
  local file
  for file in "${HP_SSHD_FILES[@]}"; do hp_restore "$file"; done
  hp_die "$1; the previous sshd configuration was restored"
}

# The values the rest of the platform relies on must be the effective ones: a drop-in that sorts
# before ours (sshd keeps the first value it reads) would silently override them.
hp_ssh_check_effective() {
  local effective expect
  effective=$(sshd -T -C "user=$HP_ADMIN_USER,host=localhost,addr=127.0.0.1" 2>&1) ||
    hp_ssh_rollback "sshd -T failed: $effective"
  for expect in "port $HP_SSH_PORT" "permitrootlogin no" "passwordauthentication no" \
    "kbdinteractiveauthentication no" "pubkeyauthentication yes"; do
    grep -qx "$expect" <<<"$effective" || hp_ssh_rollback "effective sshd setting is not '$expect'"
  done
  grep -Eq "^allowusers( .*)? $HP_ADMIN_USER( |$)" <<<"$effective" ||
    hp_ssh_rollback "effective AllowUsers does not include $HP_ADMIN_USER"
}

hp_step() {
  local file changed=0 errors
  command -v sshd >/dev/null 2>&1 || hp_die "sshd is not installed"
  grep -Eiq '^[[:space:]]*Include[[:space:]]+/etc/ssh/sshd_config\.d/\*\.conf' /etc/ssh/sshd_config ||
    hp_die "/etc/ssh/sshd_config does not include /etc/ssh/sshd_config.d/*.conf"
  for file in "${HP_SSHD_FILES[@]}"; do
    hp_install_file "$file"
    if hp_file_changed; then changed=1; fi
  done
  # sshd -t needs its privilege separation directory (normally created by ssh.service).
  if [ ! -d /run/sshd ]; then install -d -m 0755 /run/sshd; fi
  if ! errors=$(sshd -t 2>&1); then
    hp_ssh_rollback "sshd -t rejected the configuration: $errors"
  fi
  hp_ssh_check_effective
  hp_log "validated: sshd -t and sshd -T (port $HP_SSH_PORT, key-only, AllowUsers $HP_ADMIN_USER)"

  # Ubuntu 24.04 starts sshd from ssh.socket: the listening port lives in the socket unit.
  hp_install_file "$HP_SSH_SOCKET_DROPIN"
  local socket_changed=$HP_FILE_CHANGED
  if ! hp_systemd; then
    hp_skipped "sshd reload (systemd is not running)"
    return 0
  fi
  if [ "$socket_changed" = 1 ]; then
    systemctl daemon-reload
    if systemctl is-enabled --quiet ssh.socket 2>/dev/null; then
      systemctl restart ssh.socket
      hp_log "restarted: ssh.socket (port $HP_SSH_PORT)"
    fi
  fi
  if [ "$changed" = 1 ]; then
    if systemctl is-active --quiet ssh.service; then
      systemctl reload ssh.service
      hp_log "reloaded: ssh.service"
    else
      hp_log "ssh.service is not running: the next connection starts sshd with the new configuration"
    fi
  fi
}
