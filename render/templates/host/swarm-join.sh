# ---- step "swarm-join": this server joins the swarm of the first manager ------------------------------
# The join token arrives inside this script (stdin of `sudo bash -s`, a Pulumi secret) and goes to the
# Docker API over its socket on curl's stdin, never onto a command line (POST /swarm/join,
# https://docs.docker.com/reference/api/engine/version/v1.43/#tag/Swarm/operation/SwarmJoin).
hp_step() {
  local state
  state=$(docker info --format "$HP_FORMAT_STATE" 2>/dev/null) || hp_die "docker is not running"
  if [ "$state" = active ]; then
    hp_unchanged "swarm: member"
    return 0
  fi
  ip -o -4 addr show dev "$HP_SWARM_INTERFACE" 2>/dev/null | grep " inet $HP_SWARM_ADDRESS/" >/dev/null ||
    hp_die "private address $HP_SWARM_ADDRESS is not on $HP_SWARM_INTERFACE (app.swarm.privateInterface)"
  local body status
  body=$(printf '{"ListenAddr": "%s:%s", "AdvertiseAddr": "%s", "DataPathAddr": "%s", "RemoteAddrs": ["%s:%s"], "JoinToken": "%s"}' \
    "$HP_SWARM_ADDRESS" "$HP_SWARM_PORT" "$HP_SWARM_ADDRESS" "$HP_SWARM_ADDRESS" "$HP_SWARM_LEADER" "$HP_SWARM_PORT" "$HP_SWARM_TOKEN")
  status=$(printf '%s' "$body" | curl -sS -o /dev/null -w '%{http_code}' --unix-socket /var/run/docker.sock \
    -H 'Content-Type: application/json' --data-binary @- -X POST http://localhost/swarm/join) || hp_die "docker API unreachable"
  [ "$status" = 200 ] || hp_die "joining the swarm at $HP_SWARM_LEADER failed (HTTP $status)"
  hp_changed "swarm: joined $HP_SWARM_LEADER as $HP_SWARM_ROLE"
}
