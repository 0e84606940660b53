# ---- step "wait": the server has finished first boot (cloud-init done) --------------------------
hp_step() {
  local rc=0
  if [ -r /etc/os-release ]; then
    # shellcheck disable=SC1091
    . /etc/os-release
    hp_log "os: ${PRETTY_NAME:-unknown}"
    case "${ID:-}" in
      ubuntu | debian) ;;
      *) hp_warn "untested OS '${ID:-unknown}': hetzner-platform supports Ubuntu 24.04 and Debian 12" ;;
    esac
  fi
  if ! command -v cloud-init >/dev/null 2>&1; then
    hp_log "cloud-init: not installed, nothing to wait for"
    return 0
  fi
  cloud-init status --wait >/dev/null 2>&1 || rc=$?
  case "$rc" in
    0) hp_log "cloud-init: done" ;;
    2)
      # cloud-init >= 23.4: finished, with recoverable errors or deprecation warnings.
      hp_warn "cloud-init finished with recoverable errors:"
      cloud-init status --long >&2 || true
      ;;
    *)
      cloud-init status --long >&2 || true
      hp_die "cloud-init failed (exit $rc): see /var/log/cloud-init.log"
      ;;
  esac
  if [ -e /var/lib/cloud/instance/boot-finished ]; then hp_log "cloud-init: boot finished"; fi
}
