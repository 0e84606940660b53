# ---- hetzner-platform step library (render/templates/host/lib.sh) -------------------------------
# A step script is: this library, the values rendered from the stack config, the files it installs
# (embedded verbatim in hp_payload) and the step body. It ends with `hp_run </dev/null`, so bash has
# read the whole script before anything runs and no command can swallow the rest of the script from
# stdin (the script itself arrives on stdin: `sudo bash -s`).
#
# Output contract: one line per thing the step looked at, "changed: X", "unchanged: X" or
# "skipped: X", then "hetzner-platform step=<name> changed=<N>". A second run prints changed=0.
# Nothing secret is ever printed.
#
# HP_SKIP (comma separated) switches off what cannot run in a container or offline:
#   packages  no apt-get update/install of missing base packages (they are listed instead)
#   sysctl    no runtime `sysctl -w` (the sysctl.d file is still installed)
#   swap      no swap file creation or swapon (the swap unit is still installed and enabled)
#   docker    no Docker repository key, apt source, package install or daemon restart
#             (daemon.json and the version pin are still installed)
#   mount     no waiting for the volume device, mkfs or mount (fstab lines and directories still)
#   network   no live `ip addr add` of the floating IP (the persistent config is still installed)
set -Eeuo pipefail
umask 022
export LC_ALL=C DEBIAN_FRONTEND=noninteractive
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

HP_KNOWN_SKIPS="packages sysctl swap docker mount network"
HP_CHANGED=0
HP_FILE_CHANGED=0
HP_TMP=""
HP_PENDING=""
HP_SKIP_LIST=$(printf '%s' "${HP_SKIP:-}" | tr ' ;' ',,')

hp_log() { printf '%s\n' "$*"; }
hp_warn() { printf 'warning: %s\n' "$*" >&2; }
hp_die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}
hp_changed() {
  HP_CHANGED=$((HP_CHANGED + 1))
  hp_log "changed: $*"
}
hp_unchanged() { hp_log "unchanged: $*"; }
hp_skipped() { hp_log "skipped: $*"; }

hp_on_exit() {
  local status=$?
  if [ -n "$HP_PENDING" ]; then rm -f -- "$HP_PENDING"; fi
  if [ -n "$HP_TMP" ]; then rm -rf -- "$HP_TMP"; fi
  if [ "$status" -ne 0 ]; then
    printf 'hetzner-platform step=%s failed exit=%s changed=%s\n' "$HP_STEP" "$status" "$HP_CHANGED" >&2
  fi
}
hp_on_error() { printf 'error: line %s: command failed (exit %s): %s\n' "$2" "$1" "$3" >&2; }
trap hp_on_exit EXIT
trap 'hp_on_error "$?" "$LINENO" "$BASH_COMMAND"' ERR

# hp_skip TOKEN: true when HP_SKIP lists TOKEN.
hp_skip() {
  case ",$HP_SKIP_LIST," in
    *",$1,"*) return 0 ;;
  esac
  return 1
}

hp_check_skips() {
  local token tokens
  IFS=, read -r -a tokens <<<"$HP_SKIP_LIST"
  for token in "${tokens[@]}"; do
    [ -n "$token" ] || continue
    case " $HP_KNOWN_SKIPS " in
      *" $token "*) ;;
      *) hp_die "unknown HP_SKIP token '$token' (known: $HP_KNOWN_SKIPS)" ;;
    esac
  done
  if [ -n "$HP_SKIP_LIST" ]; then hp_log "HP_SKIP=$HP_SKIP_LIST"; fi
}

hp_systemd() { [ -d /run/systemd/system ]; }

hp_installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = 'install ok installed' ]; }

hp_apt() { apt-get -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -qq "$@"; }

# hp_backup PATH: remember PATH as it was before this run (once), for hp_restore.
hp_backup() {
  local path=$1 saved
  saved="$HP_TMP/backup$path"
  if [ -e "$saved" ] || [ -e "$saved.absent" ]; then return 0; fi
  mkdir -p "$(dirname "$saved")"
  if [ -e "$path" ]; then cp -a -- "$path" "$saved"; else : >"$saved.absent"; fi
}

# hp_restore PATH: put PATH back as it was before this run.
hp_restore() {
  local path=$1 saved
  saved="$HP_TMP/backup$path"
  if [ -e "$saved" ]; then
    cp -a -- "$saved" "$path"
    hp_log "restored: $path"
  elif [ -e "$saved.absent" ]; then
    rm -f -- "$path"
    hp_log "restored: $path (removed)"
  fi
}

# hp_put SOURCE PATH MODE: install SOURCE as PATH (root:root, MODE) only if content, mode or owner
# differ; atomic (temp file in the same directory, then rename). Sets HP_FILE_CHANGED to 0 or 1.
hp_put() {
  local src=$1 path=$2 mode=$3 dir
  HP_FILE_CHANGED=0
  if [ -f "$path" ] && [ ! -L "$path" ] && cmp -s -- "$src" "$path" &&
    [ "$(stat -c '%a %u %g' -- "$path")" = "${mode#0} 0 0" ]; then
    hp_unchanged "$path"
    return 0
  fi
  dir=$(dirname -- "$path")
  mkdir -p -- "$dir"
  hp_backup "$path"
  HP_PENDING=$(mktemp "$dir/.hetzner-platform.XXXXXX")
  cat -- "$src" >"$HP_PENDING"
  chmod "$mode" "$HP_PENDING"
  chown 0:0 "$HP_PENDING"
  mv -f -- "$HP_PENDING" "$path"
  HP_PENDING=""
  HP_FILE_CHANGED=1
  hp_changed "$path"
}

# hp_install_file PATH: install the embedded file for PATH with its rendered mode.
hp_install_file() {
  local path=$1 mode
  mode=$(hp_payload_mode "$path")
  hp_payload "$path" >"$HP_TMP/payload"
  hp_put "$HP_TMP/payload" "$path" "$mode"
}

# hp_remove PATH: delete PATH if it exists.
hp_remove() {
  if [ -e "$1" ] || [ -L "$1" ]; then
    hp_backup "$1"
    rm -f -- "$1"
    hp_changed "$1 (removed)"
  fi
}

# hp_symlink TARGET LINK: make LINK point to TARGET.
hp_symlink() {
  local target=$1 link=$2
  if [ -L "$link" ] && [ "$(readlink -- "$link")" = "$target" ]; then
    hp_unchanged "$link"
    return 0
  fi
  mkdir -p -- "$(dirname -- "$link")"
  ln -sfn -- "$target" "$link"
  hp_changed "$link -> $target"
}

# hp_mkdir PATH MODE: create PATH (root:root, MODE) if missing; fix its mode if it differs.
hp_mkdir() {
  local path=$1 mode=$2
  if [ -d "$path" ]; then
    if [ "$(stat -c '%a' -- "$path")" != "${mode#0}" ]; then
      chmod "$mode" "$path"
      hp_changed "$path (mode $mode)"
    else
      hp_unchanged "$path/"
    fi
    return 0
  fi
  mkdir -p -- "$path"
  chmod "$mode" "$path"
  hp_changed "$path/"
}

# hp_service_enable UNIT: enable UNIT (systemd only; does not start it).
hp_service_enable() {
  hp_systemd || return 0
  if systemctl is-enabled --quiet "$1" 2>/dev/null; then return 0; fi
  systemctl enable --quiet "$1"
  hp_changed "enabled $1"
}

# hp_file_changed: true when the last hp_put/hp_install_file changed its file.
hp_file_changed() { [ "$HP_FILE_CHANGED" = 1 ]; }

hp_done() { hp_log "hetzner-platform step=$HP_STEP changed=$HP_CHANGED"; }

hp_run() {
  if [ -n "$HP_MISSING_RUNTIME" ]; then
    hp_die "rendered before these values were known: $HP_MISSING_RUNTIME (a plan preview, not for running)"
  fi
  HP_TMP=$(mktemp -d /tmp/hetzner-platform.XXXXXX)
  hp_check_skips
  hp_step
  hp_done
}
