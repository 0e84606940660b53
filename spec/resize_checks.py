"""Safe vertical resize: refuse a server type change Hetzner cannot do (or cannot undo), snapshot first.

A server type change ("rescale") on Hetzner powers the server off, changes its type and boots it again.
Three things can go wrong that the provider only reports halfway through an update, or never:

* the new type is retired, unknown or not sold in the stack's location;
* the new type has a smaller disk than the server's current disk: Hetzner cannot shrink a disk, whatever
  `keepDisk` says (terraform-provider-hcloud#80); a downgrade only works when the disk was kept at its
  small size on the way up (`keepDisk: true` on the upgrade);
* the new type has another CPU architecture (x86 <-> arm): a rescale cannot change it, the installed
  image would not boot.

`check_resize` names every one of them; cost/resize.py prices the change and collects the refusals.
"""

from __future__ import annotations

from config.catalogue import load_catalogue


def check_resize(
    old_type: str, new_type: str, location: str, keep_disk: bool, *, current_disk_gb: int | None = None
) -> list[str]:
    """Every reason the change old_type -> new_type cannot be done in place; empty when it can.

    `current_disk_gb` is the server's real disk size when known (it stays at the old type's size
    after a rescale with keepDisk); without it the old type's nominal disk is assumed.
    """
    old_type, new_type = old_type.lower(), new_type.lower()
    if old_type == new_type:
        return []
    catalogue = load_catalogue()
    problems: list[str] = []
    problem = catalogue.server_type_problem(new_type, location)
    if problem is not None:
        problems.append(problem)
    old = catalogue.server_types.get(old_type)
    new = catalogue.server_types.get(new_type)
    if old is None or new is None:
        # A retired or unknown type has no specs in the catalogue: nothing more can be checked.
        return problems
    if old.arch != new.arch:
        problems.append(
            f"architecture change {old.arch} -> {new.arch} ({old_type} -> {new_type}): a rescale cannot change "
            f"the CPU architecture, the installed image would not boot; create a new server of the other "
            f"architecture and move the data instead"
        )
    # Hetzner cannot shrink a disk, and keep_disk does not help here: it only keeps the disk small on an
    # UPGRADE (UpgradeDisk=false in ChangeType, terraform-provider-hcloud internal/server/resource.go,
    # resourceServerUpdate) so that a later downgrade stays possible. A downgrade works only when the disk
    # the server has NOW fits the new type; otherwise Hetzner refuses ("not sufficient disk space",
    # terraform-provider-hcloud#80) AFTER the provider powered the server off, and it stays off.
    # The current size comes from the last deployment's `diskGb` output; without it the old type's nominal
    # disk is assumed (the size the server has unless it was scaled up with keepDisk).
    disk = current_disk_gb if current_disk_gb is not None else old.disk_gb
    if new.disk_gb < disk:
        known = "its disk is" if current_disk_gb is not None else f"its disk is presumably (the {old_type} size)"
        hint = (
            f"pick a type with at least {disk} GB"
            if current_disk_gb is not None
            else f"pick a type with at least {disk} GB, or deploy once with the current type so the stack records the real disk size"
        )
        problems.append(
            f"disk shrink: {known} {disk} GB and {new_type} has {new.disk_gb} GB; Hetzner cannot shrink a disk, "
            f"so this downgrade is impossible whatever keepDisk says (keepDisk only keeps the disk small on the way "
            f"up); {hint}"
        )
    return problems
