"""Which server types can be ordered in a location: the live answer when one was read, else the catalogue.

Suggestions (the cheapest type that fits, a rescale, a phase-2 split) come only from orderable types: a
plan must not propose a type whose order Hetzner may refuse.

  live      GET /v1/datacenters: `server_types.available` (ids) of every datacenter in the location,
            named through the ids in /v1/pricing (read only with --live-prices / cost --live)
  catalogue the type is sold in the location's region and its family is not marked unavailable
            (families.<name>.availability in config/data/hetzner-catalogue.yaml, with the date it was seen)
"""

from __future__ import annotations

from collections.abc import Mapping

from config.catalogue import Catalogue

NOT_AVAILABLE = "not_available"


class Availability:
    def __init__(self, catalogue: Catalogue, live_available: Mapping[str, frozenset[str]] | None = None) -> None:
        self.catalogue = catalogue
        self.live_available = live_available

    def is_live(self, location: str) -> bool:
        return self.live_available is not None and location in self.live_available

    def orderable(self, server_type: str, location: str) -> bool:
        if self.live_available is not None and location in self.live_available:
            return server_type in self.live_available[location]
        info = self.catalogue.server_types.get(server_type)
        if info is None or self.catalogue.region_of(location) not in info.regions:
            return False
        return self.catalogue.family_availability.get(info.family) != NOT_AVAILABLE

    def source(self, location: str) -> str:
        if self.is_live(location):
            return "orderable per live /v1/datacenters"
        return f"orderable per catalogue {self.catalogue.taken_on}"
