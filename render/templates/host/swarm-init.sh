# ---- step "swarm-init": this server initialises the swarm on its private address (the first manager) ---
# Then it prints the join tokens on one line for the Pulumi program, which keeps them as secrets only.
hp_swarm_state() { docker info --format "$HP_FORMAT_STATE" 2>/dev/null; }

hp_swarm_check_address() {
  ip -o -4 addr show dev "$HP_SWARM_INTERFACE" 2>/dev/null | grep " inet $HP_SWARM_ADDRESS/" >/dev/null ||
    hp_die "private address $HP_SWARM_ADDRESS is not on $HP_SWARM_INTERFACE (app.swarm.privateInterface)"
}

hp_step() {
  local state
  state=$(hp_swarm_state) || hp_die "docker is not running"
  if [ "$state" = active ]; then
    hp_unchanged "swarm: active"
  else
    hp_swarm_check_address
    docker swarm init --advertise-addr "$HP_SWARM_ADDRESS" --listen-addr "$HP_SWARM_ADDRESS:$HP_SWARM_PORT" \
      --data-path-addr "$HP_SWARM_ADDRESS" >/dev/null
    hp_changed "swarm: initialised on $HP_SWARM_ADDRESS"
  fi
  printf '%s {"worker": "%s", "manager": "%s"}\n' "$HP_SWARM_TOKENS_MARK" \
    "$(docker swarm join-token -q worker)" "$(docker swarm join-token -q manager)"
}
