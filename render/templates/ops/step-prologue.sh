#!/usr/bin/env bash
# hetzner-platform step: ops. Idempotent: writes only files whose content or mode differ.
# Nothing secret is printed: file contents travel base64-encoded on stdin, only paths are echoed.
set -euo pipefail
umask 077
export DEBIAN_FRONTEND=noninteractive
HP_ROOT=${HP_ROOT:-}
HP_SKIP=${HP_SKIP:-}
changed=0
units_changed=0
exporter_changed=0

put_file() {  # PATH MODE BASE64
  local path=$HP_ROOT$1 mode=$2 tmp
  tmp=$(mktemp)
  printf '%s' "$3" | base64 -d > "$tmp"
  if [ -f "$path" ] && cmp -s "$tmp" "$path" && [ "$(stat -c %a "$path")" = "${mode#0}" ]; then
    rm -f "$tmp"
    return 0
  fi
  mkdir -p "$(dirname "$path")"
  install -m "$mode" "$tmp" "$path"
  rm -f "$tmp"
  changed=$((changed + 1))
  case $1 in
    *.service | *.timer) units_changed=1 ;;  # the step installs no other kind of unit
  esac
  case $1 in
    */hp-node-exporter.service) exporter_changed=1 ;;
  esac
  echo "hetzner-platform step=ops updated $1"
}

skip() {  # HP_SKIP holds words such as "systemctl,apt"
  case $HP_SKIP in
    *"$1"*) return 0 ;;
  esac
  return 1
}
