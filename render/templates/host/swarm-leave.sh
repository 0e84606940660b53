# ---- step "swarm-leave" (runs on the first manager, before the server is deleted) ---------------------
# Drain the node so the swarm moves its tasks elsewhere, wait for them to stop, then remove it, so the
# server's deletion never takes running tasks (or a manager's vote) with it unannounced.
hp_step() {
  local id="" ref running _
  for ref in $(docker node ls -q); do
    if docker node inspect --format "$HP_FORMAT_NODE" "$ref" |
      awk -v a="$HP_SWARM_ADDRESS" '$2 == a || $3 == a ":'"$HP_SWARM_PORT"'" {found = 1} END {exit !found}'; then
      id=$ref
    fi
  done
  if [ -z "$id" ]; then
    hp_unchanged "swarm: no node advertises $HP_SWARM_ADDRESS"
    return 0
  fi
  docker node update --availability drain "$id" >/dev/null
  hp_changed "node $id drained"
  for _ in $(seq 1 "$HP_SWARM_DRAIN_TIMEOUT"); do
    running=$(docker node ps "$id" --filter desired-state=running -q | wc -l)
    [ "$running" = 0 ] && break
    sleep 1
  done
  if [ "$(docker node inspect --format "$HP_FORMAT_ROLE" "$id")" = manager ]; then
    docker node demote "$id" >/dev/null
    hp_changed "node $id demoted"
  fi
  docker node rm --force "$id" >/dev/null
  hp_changed "node $id removed from the swarm"
}
