# ---- step "network": the floating IP, persistent across reboots and present now ----------------
# Ubuntu (netplan): HP_NETPLAN_FILE. Debian: HP_IFUPDOWN_FILE (/etc/network/interfaces.d/) with
# ifupdown, else netplan if present, else a drop-in for the systemd-networkd .network file that
# manages the interface.
# The live address is added with `ip addr`, never by re-applying the network configuration, so the
# SSH session running this step is never cut.
# The paths (HP_NETPLAN_FILE, HP_IFUPDOWN_FILE, HP_NETWORKD_DROPIN_NAME) come from spec/host_paths.py.

hp_network_netplan() {
  local errors
  hp_install_file "$HP_NETPLAN_FILE"
  if hp_file_changed && command -v netplan >/dev/null 2>&1; then
    if ! errors=$(netplan generate 2>&1); then
      hp_restore "$HP_NETPLAN_FILE"
      hp_die "netplan generate rejected $HP_NETPLAN_FILE: $errors"
    fi
    hp_log "validated: netplan generate"
  fi
}

hp_network_ifupdown() {
  hp_install_file "$HP_IFUPDOWN_FILE"
  grep -Eq '^[[:space:]]*(source|source-directory)[[:space:]]+/etc/network/interfaces\.d' /etc/network/interfaces ||
    hp_warn "/etc/network/interfaces does not source /etc/network/interfaces.d: $HP_IFUPDOWN_FILE is not read at boot"
}

hp_network_networkd() {
  local network_file dropin
  network_file=$(networkctl status "$HP_FIP_IFACE" 2>/dev/null | sed -n 's/^ *Network File: *//p' | head -n 1)
  case "$network_file" in
    /*.network) ;;
    *) hp_die "systemd-networkd does not manage $HP_FIP_IFACE: cannot make the floating IP persistent" ;;
  esac
  dropin="/etc/systemd/network/$(basename "$network_file").d/$HP_NETWORKD_DROPIN_NAME"
  hp_payload "$HP_NETWORKD_PAYLOAD" >"$HP_TMP/networkd.conf"
  hp_put "$HP_TMP/networkd.conf" "$dropin" 0644
}

hp_step() {
  # shellcheck disable=SC1091
  . /etc/os-release
  if [ "${ID:-}" = ubuntu ]; then
    hp_network_netplan
  elif [ -f /etc/network/interfaces ] && command -v ifup >/dev/null 2>&1; then
    hp_network_ifupdown
  elif command -v netplan >/dev/null 2>&1 && [ -d /etc/netplan ]; then
    hp_network_netplan
  elif hp_systemd && systemctl is-active --quiet systemd-networkd.service; then
    hp_network_networkd
  else
    hp_die "no netplan, ifupdown or systemd-networkd found: cannot make the floating IP persistent"
  fi
  if hp_skip network; then
    hp_skipped "live address $HP_FIP_ADDRESS/$HP_FIP_PREFIX on $HP_FIP_IFACE (HP_SKIP=network)"
    return 0
  fi
  ip link show dev "$HP_FIP_IFACE" >/dev/null 2>&1 ||
    hp_die "interface $HP_FIP_IFACE does not exist (set host.publicInterface)"
  if ip -o addr show dev "$HP_FIP_IFACE" | grep -F " $HP_FIP_ADDRESS/$HP_FIP_PREFIX " >/dev/null; then
    hp_unchanged "address $HP_FIP_ADDRESS/$HP_FIP_PREFIX on $HP_FIP_IFACE"
  else
    ip addr add "$HP_FIP_ADDRESS/$HP_FIP_PREFIX" dev "$HP_FIP_IFACE"
    hp_changed "address $HP_FIP_ADDRESS/$HP_FIP_PREFIX on $HP_FIP_IFACE"
  fi
}
