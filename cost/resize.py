"""Safe vertical resize, the plan: each server type change against the last deployment, checked
(spec/resize_checks.py) and priced, and the one refusal message for all of them.

A server type change ("rescale") on Hetzner powers the server off, changes its type and boots it again;
a rescale is billed like a new order. components/deployment_guard.py compares the server types of the
last deployment (the stack's own `servers` output) with the config and, on a refusal, stops the whole
run before any resource is registered; with `snapshotBeforeResize` it takes the snapshot of
components/resize_snapshot.py first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from config.catalogue import Catalogue, load_catalogue
from cost.prices import PriceBook
from spec.order_dates import recorded_order_date
from spec.resize_checks import check_resize
from spec.resources import ServerSpec


@dataclass(frozen=True)
class ResizeSummary:
    """What a type change costs and does to the disk. Prices are EUR net per month."""

    server: str
    old_type: str
    new_type: str
    location: str
    old_epoch: str
    new_epoch: str
    old_monthly_eur: Decimal | None
    new_monthly_eur: Decimal | None
    backup_share: Decimal  # 0.2 with backups, 0 without
    keep_disk: bool
    old_disk_gb: int | None
    new_disk_gb: int | None
    new_epoch_start: dt.date
    ordered_on: dt.date | None
    # Whether ordered_on came from servers.<name>.orderedOn (the user must update it after a rescale); a
    # date recorded by the last deployment is updated by the program itself (spec/order_dates.py).
    ordered_on_in_config: bool = True

    @property
    def delta_eur(self) -> Decimal | None:
        if self.old_monthly_eur is None or self.new_monthly_eur is None:
            return None
        return self.new_monthly_eur - self.old_monthly_eur

    @property
    def delta_with_backups_eur(self) -> Decimal | None:
        delta = self.delta_eur
        return None if delta is None else _cents(delta * (1 + self.backup_share))

    @property
    def disk_after_gb(self) -> int | None:
        if self.old_disk_gb is None or self.new_disk_gb is None:
            return self.new_disk_gb if not self.keep_disk else self.old_disk_gb
        return self.old_disk_gb if self.keep_disk else max(self.old_disk_gb, self.new_disk_gb)

    def text(self) -> str:
        old = _money(self.old_monthly_eur)
        new = _money(self.new_monthly_eur)
        parts = [f"resize {self.server}: {self.old_type} -> {self.new_type} in {self.location}: "
                 f"EUR {old} ({self.old_epoch}) -> EUR {new}/month net ({self.new_epoch})"]
        if self.delta_eur is not None:
            change = f"{_signed(self.delta_eur)}/month"
            if self.backup_share:
                change += f", {_signed(self.delta_with_backups_eur)} with backups"
            parts.append(change)
        parts.append(f"a rescale is a new order, so {self.new_type} is billed at the {self.new_epoch} price")
        if self.ordered_on_in_config and self.ordered_on is not None and self.ordered_on < self.new_epoch_start:
            parts.append(f"update servers.{self.server}.orderedOn to the resize date so the plan prices it the same way")
        if self.keep_disk and self.old_disk_gb is not None:
            parts.append(f"keepDisk: the disk stays at {self.old_disk_gb} GB, a later downgrade stays possible")
        elif self.old_disk_gb is not None and self.new_disk_gb is not None and self.new_disk_gb > self.old_disk_gb:
            parts.append(f"the disk grows to {self.new_disk_gb} GB for good: no downgrade below {self.new_disk_gb} GB later")
        return "; ".join(parts)


def resize_summary(
    old_type: str,
    new_type: str,
    location: str,
    *,
    keep_disk: bool = False,
    backups: bool = False,
    ordered_on: dt.date | None = None,
    as_of: dt.date | None = None,
    server: str = "server",
    catalogue: Catalogue | None = None,
) -> ResizeSummary:
    """The monthly cost before and after a type change, from the catalogue.

    Before: the old type at the epoch of the server's order date (a server keeps the price of its order).
    After: the new type at the epoch of a NEW order on `as_of` (from 2026-06-15 that is p2: Hetzner bills
    a rescale like a new order).
    """
    catalogue = catalogue or load_catalogue()
    as_of = as_of or dt.date.today()
    old_epoch = catalogue.server_epoch(as_of, ordered_on)
    new_epoch = catalogue.server_epoch(as_of, as_of)
    book = PriceBook(catalogue)

    def monthly(name: str, epoch: str) -> Decimal | None:
        if name not in catalogue.server_types:
            return None
        return book.server_monthly(name, location, epoch).amount

    old = catalogue.server_types.get(old_type)
    new = catalogue.server_types.get(new_type)
    share = catalogue.backup_percentage / 100 if backups else Decimal(0)
    return ResizeSummary(
        server=server,
        old_type=old_type,
        new_type=new_type,
        location=location,
        old_epoch=old_epoch,
        new_epoch=new_epoch,
        old_monthly_eur=monthly(old_type, old_epoch),
        new_monthly_eur=monthly(new_type, new_epoch),
        backup_share=share,
        keep_disk=keep_disk,
        old_disk_gb=old.disk_gb if old else None,
        new_disk_gb=new.disk_gb if new else None,
        new_epoch_start=catalogue.epoch_starts[new_epoch],
        ordered_on=ordered_on,
    )


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


def _money(value: Decimal | None) -> str:
    return "unknown" if value is None else f"{_cents(value):.2f}"


def _signed(value: Decimal | None) -> str:
    if value is None:
        return "unknown"
    return f"+{_cents(value):.2f}" if value >= 0 else f"{_cents(value):.2f}"


@dataclass(frozen=True)
class PlannedResize:
    spec: ServerSpec
    old_type: str
    problems: tuple[str, ...]
    summary: ResizeSummary


def plan_resizes(specs: Mapping[str, ServerSpec], previous: Mapping[str, Any] | None) -> dict[str, PlannedResize]:
    """The type changes between the last deployment's `servers` output and the specs, each checked."""
    planned: dict[str, PlannedResize] = {}
    for name, spec in sorted(specs.items()):
        before = (previous or {}).get(name)
        old_type = before.get("type") if isinstance(before, Mapping) else None
        if not isinstance(old_type, str) or old_type.lower() == spec.server_type:
            continue
        disk = before.get("diskGb") if isinstance(before, Mapping) else None
        current_disk = int(disk) if isinstance(disk, int | float) and not isinstance(disk, bool) else None
        problems = check_resize(old_type, spec.server_type, spec.location, spec.keep_disk, current_disk_gb=current_disk)
        # Before the resize the server is billed by its order date: the stack file's, else the one the last
        # deployment recorded.
        summary = resize_summary(
            old_type.lower(), spec.server_type, spec.location, keep_disk=spec.keep_disk, backups=spec.backups,
            ordered_on=spec.ordered_on or recorded_order_date(before), server=name,
        )
        summary = replace(summary, ordered_on_in_config=spec.ordered_on is not None)
        planned[name] = PlannedResize(spec, old_type.lower(), tuple(problems), summary)
    return planned


def refusal_message(planned: Mapping[str, PlannedResize]) -> str | None:
    """One message listing every refused change, or None when every change may go ahead."""
    refused = {name: p for name, p in sorted(planned.items()) if p.problems}
    if not refused:
        return None
    lines = ["Resize guard: refusing to change the server type of "
             + ", ".join(f"{name} ({p.old_type} -> {p.spec.server_type})" for name, p in refused.items())
             + ". No server was changed."]
    for name, p in refused.items():
        lines += [f"  servers.{name}.serverType {p.old_type} -> {p.spec.server_type}:"]
        lines += [f"    - {problem}" for problem in p.problems]
    lines.append("Fix servers.<name>.serverType / keepDisk in the stack file and run again.")
    return "\n".join(lines)
