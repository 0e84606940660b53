# ---- step "swarm-node" (runs on the first manager): one node's labels, role and availability -----------
# The node is found by its advertised private address, so nothing depends on host names.
hp_node_id() {
  local id
  for id in $(docker node ls -q); do
    docker node inspect --format "$HP_FORMAT_NODE" "$id"
  done | awk -v a="$HP_SWARM_ADDRESS" '$2 == a || $3 == a ":'"$HP_SWARM_PORT"'" {print $1; exit}'
}

hp_step() {
  local id="" label key current role availability _
  for _ in $(seq 1 60); do
    id=$(hp_node_id)
    [ -n "$id" ] && break
    sleep 1
  done
  [ -n "$id" ] || hp_die "no swarm node advertises $HP_SWARM_ADDRESS"
  current=" $(docker node inspect --format "$HP_FORMAT_LABELS" "$id")"
  for label in "${HP_SWARM_LABELS[@]}"; do
    if [[ "$current" == *" $label "* ]]; then
      hp_unchanged "label $label"
    else
      docker node update --label-add "$label" "$id" >/dev/null
      hp_changed "label $label"
    fi
  done
  for key in $(printf '%s\n' "$current" | tr ' ' '\n' | sed -n "s/^\($HP_SWARM_LABEL_PREFIX\.[^=]*\)=.*/\1/p"); do
    if ! printf '%s\n' "${HP_SWARM_LABELS[@]}" | grep "^$key=" >/dev/null; then
      docker node update --label-rm "$key" "$id" >/dev/null
      hp_changed "label $key removed"
    fi
  done
  role=$(docker node inspect --format "$HP_FORMAT_ROLE" "$id")
  if [ "$role" != "$HP_SWARM_ROLE" ]; then
    if [ "$HP_SWARM_ROLE" = manager ]; then docker node promote "$id" >/dev/null; else docker node demote "$id" >/dev/null; fi
    hp_changed "role $HP_SWARM_ROLE"
  fi
  availability=$(docker node inspect --format "$HP_FORMAT_AVAILABILITY" "$id")
  if [ "$availability" != active ]; then
    docker node update --availability active "$id" >/dev/null
    hp_changed "availability active"
  fi
}
