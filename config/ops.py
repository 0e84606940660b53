"""Operations settings: backups, restore drills, cleanup, alerts. Extended by the ops layer."""

from __future__ import annotations

from config.base import ConfigModel


class OpsConfig(ConfigModel):
    enabled: bool = True
