"""Block storage: a volume per config entry, attached to its server. Mounted over SSH by id."""

from __future__ import annotations

import pulumi
import pulumi_hcloud as hcloud

from components.naming import fixed_name_options
from spec.resources import PlatformSpec, VolumeSpec


class Volume(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        spec: PlatformSpec,
        volume: VolumeSpec,
        server_id: pulumi.Output[int],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("hetzner-platform:storage:Volume", name, None, opts)
        self.volume = hcloud.Volume(
            volume.resource_name,
            name=volume.resource_name,
            size=volume.size_gb,
            location=volume.location,
            format=volume.format,
            # automount mounts by an unstable path; the storage step writes an fstab line by-id instead.
            automount=False,
            delete_protection=volume.protected,
            labels={**spec.labels, "volume": volume.name},
            opts=fixed_name_options(self),
        )
        self.volume_id: pulumi.Output[int] = self.volume.id.apply(int)
        self.attachment = hcloud.VolumeAttachment(
            f"{volume.resource_name}-attachment",
            server_id=server_id,
            volume_id=self.volume_id,
            automount=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"volumeId": self.volume_id, "linuxDevice": self.volume.linux_device})
