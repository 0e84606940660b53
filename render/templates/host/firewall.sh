# ---- step "firewall": UFW policy and rules, plus DOCKER-USER rules in after.rules/after6.rules ----
# Rules are kept as the exact lines `ufw show added` prints, so the current state compares directly
# with the desired one: missing rules are added, unknown rules deleted, nothing else is touched.
# HP_UFW_FILES (after.rules, after6.rules) come from spec/host_paths.py.

hp_ufw_default() { sed -n "s/^$1=\"\{0,1\}\([A-Za-z]*\)\"\{0,1\}[[:space:]]*$/\1/p" /etc/default/ufw; }

hp_ufw_rule() {
  # The rule text is rendered from validated config (ports, CIDRs, fixed comments): eval only
  # splits it the way `ufw show added` quotes it.
  eval "ufw $1" >/dev/null
}

hp_ufw_policy() {
  local key=$1 want=$2 direction=$3 verb=$4
  if [ "$(hp_ufw_default "$key")" = "$want" ]; then
    hp_unchanged "ufw default $verb $direction"
  else
    ufw default "$verb" "$direction" >/dev/null
    hp_changed "ufw default $verb $direction"
    HP_UFW_RELOAD=1
  fi
}

hp_ufw_rules() {
  local rule current top
  current=$(ufw show added | sed -n 's/^ufw //p')
  for rule in "${HP_UFW_RULES[@]}"; do
    if grep -qxF -- "$rule" <<<"$current"; then
      hp_unchanged "ufw $rule"
      continue
    fi
    top=""
    if [ "${#HP_UFW_TOP[@]}" -gt 0 ] && printf '%s\n' "${HP_UFW_TOP[@]}" | grep -xF -- "$rule" >/dev/null; then top=1; fi
    if [ -n "$top" ]; then hp_ufw_rule "prepend $rule"; else hp_ufw_rule "$rule"; fi
    hp_changed "ufw $rule"
  done
  while IFS= read -r rule; do
    [ -n "$rule" ] || continue
    if ! printf '%s\n' "${HP_UFW_RULES[@]}" | grep -xF -- "$rule" >/dev/null; then
      hp_ufw_rule "delete $rule"
      hp_changed "ufw delete $rule"
    fi
  done <<<"$current"
}

hp_ufw_rollback() {
  local file
  for file in "${HP_UFW_FILES[@]}"; do hp_restore "$file"; done
  ufw reload >/dev/null 2>&1 || true
  hp_die "$1; the previous after.rules files were restored"
}

hp_step() {
  local file errors
  HP_UFW_RELOAD=0
  command -v ufw >/dev/null 2>&1 || hp_die "ufw is not installed (the base step installs it)"
  if ! grep -q '^IPV6=yes' /etc/default/ufw; then
    sed -i 's/^IPV6=.*/IPV6=yes/' /etc/default/ufw
    hp_changed "/etc/default/ufw IPV6=yes"
    HP_UFW_RELOAD=1
  fi
  hp_ufw_policy DEFAULT_INPUT_POLICY DROP incoming deny
  hp_ufw_policy DEFAULT_OUTPUT_POLICY ACCEPT outgoing allow
  hp_ufw_policy DEFAULT_FORWARD_POLICY DROP routed deny
  hp_ufw_rules
  for file in "${HP_UFW_FILES[@]}"; do
    hp_install_file "$file"
    if hp_file_changed; then HP_UFW_RELOAD=1; fi
  done
  if ufw status | grep '^Status: active' >/dev/null; then
    if [ "$HP_UFW_RELOAD" = 1 ]; then
      errors=$(ufw reload 2>&1) || hp_ufw_rollback "ufw reload failed: $errors"
      hp_log "reloaded: ufw"
    fi
  else
    errors=$(ufw --force enable 2>&1) || hp_ufw_rollback "ufw enable failed: $errors"
    hp_changed "ufw enabled"
  fi
  hp_service_enable ufw.service
}
