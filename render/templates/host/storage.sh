# ---- step "storage": Hetzner volumes of this server, by id in fstab (nofail), formatted only if blank --
# fstab lines for a volume replace any line with the same device or mount point, in place; lines the
# platform does not manage are left alone.
hp_storage_fstab() {
  awk '
    NR == FNR { if ($0 !~ /^[[:space:]]*(#|$)/) { n++; want[n] = $0; dev[n] = $1; mp[n] = $2 }; next }
    /^[[:space:]]*(#|$)/ { print; next }
    {
      hit = 0
      for (i = 1; i <= n; i++) if ($1 == dev[i] || $2 == mp[i]) { hit = i; break }
      if (!hit) { print; next }
      if (!done[hit]) { print want[hit]; done[hit] = 1 }
    }
    END { for (i = 1; i <= n; i++) if (!done[i]) print want[i] }
  ' <(hp_payload "$HP_FSTAB") "$HP_FSTAB" >"$HP_TMP/fstab"
  hp_put "$HP_TMP/fstab" "$HP_FSTAB" 0644
  if hp_file_changed && hp_systemd; then systemctl daemon-reload; fi
}

hp_storage_wait_device() {
  local dev=$1 i
  for i in $(seq 1 60); do
    [ -b "$dev" ] && return 0
    if [ "$i" = 1 ] && command -v udevadm >/dev/null 2>&1; then udevadm settle --timeout=10 || true; fi
    sleep 1
  done
  hp_die "volume device $dev did not appear (is the volume attached to this server?)"
}

hp_storage_volume() {
  local name=$1 id=$2 mount_point=$3 fstype=$4 dev source found dir
  [ "$id" != 0 ] || hp_die "the id of volume $name was unknown when this script was rendered"
  dev="/dev/disk/by-id/scsi-0HC_Volume_$id"
  hp_mkdir "$mount_point" 0755
  if hp_skip mount; then
    hp_skipped "format and mount of volume $name ($dev) (HP_SKIP=mount)"
  else
    hp_storage_wait_device "$dev"
    found=$(blkid -p -o value -s TYPE "$dev" 2>/dev/null || true)
    if [ -z "$found" ]; then
      if [ -n "$(blkid -p -o value -s PTTYPE "$dev" 2>/dev/null || true)" ]; then
        hp_die "volume $name ($dev) has a partition table but no file system: not formatting it"
      fi
      "mkfs.$fstype" -q "$dev" >/dev/null
      hp_changed "formatted volume $name ($dev) as $fstype"
    elif [ "$found" != "$fstype" ]; then
      hp_die "volume $name ($dev) holds $found, the config says $fstype: not reformatting it"
    else
      hp_unchanged "file system of volume $name ($fstype)"
    fi
    if mountpoint -q "$mount_point"; then
      source=$(findmnt -rn -o SOURCE --mountpoint "$mount_point")
      [ "$(readlink -f "$source")" = "$(readlink -f "$dev")" ] ||
        hp_die "$mount_point is mounted from $source, not from volume $name ($dev)"
      hp_unchanged "mount $mount_point"
    else
      mount "$mount_point"
      hp_changed "mounted volume $name on $mount_point"
    fi
  fi
  for dir in "${HP_DATA_DIRS[@]}"; do
    hp_mkdir "$mount_point/$dir" 0755
  done
}

hp_step() {
  local entry name id mount_point fstype
  hp_storage_fstab
  for entry in "${HP_VOLUMES[@]}"; do
    IFS='|' read -r name id mount_point fstype <<<"$entry"
    hp_storage_volume "$name" "$id" "$mount_point" "$fstype"
  done
}
