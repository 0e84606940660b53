"""The storage step: each volume of this server in fstab by its stable id, formatted only if blank."""

from __future__ import annotations

from collections.abc import Sequence

from config.schema import StackConfig
from render.host_script import HostFile, build_step
from render.steps import HostRuntime, HostStep
from spec.host_paths import FSTAB
from spec.resources import VolumeSpec

UNKNOWN_ID = 0  # rendered before the volume exists (the script refuses to run then)


def device(volume_id: int) -> str:
    return f"/dev/disk/by-id/scsi-0HC_Volume_{volume_id}"


def fstab_lines(config: StackConfig, volumes: Sequence[VolumeSpec], runtime: HostRuntime) -> str:
    timeout = config.host.volume_device_timeout_s
    lines = [
        f"{device(runtime.volume_ids.get(v.name, UNKNOWN_ID))} {v.mount_point} {v.format} "
        f"defaults,nofail,discard,x-systemd.device-timeout={timeout}s 0 2"
        for v in volumes
    ]
    return "\n".join(lines) + "\n"


def storage_step(config: StackConfig, server: str, runtime: HostRuntime, volumes: Sequence[VolumeSpec]) -> HostStep:
    entries = [f"{v.name}|{runtime.volume_ids.get(v.name, UNKNOWN_ID)}|{v.mount_point}|{v.format}" for v in volumes]
    missing = [f"id of volume {v.name}" for v in volumes if v.name not in runtime.volume_ids]
    return build_step(
        "storage",
        server=server,
        values={"HP_VOLUMES": entries, "HP_DATA_DIRS": config.host.volume_data_dirs, "HP_FSTAB": FSTAB},
        files=[HostFile(FSTAB, fstab_lines(config, volumes, runtime))],
        missing_runtime=missing,
    )
