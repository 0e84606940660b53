"""Budget, pricing and capacity settings (`budget`, `pricing`, `capacity`)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from config.base import MAX_EUR, ConfigModel

# Default thresholds as shares of monthlyEur: warn at 80 %, critical at 90 %.
WARN_SHARE = 0.8
CRITICAL_SHARE = 0.9


class BudgetConfig(ConfigModel):
    monthly_eur: Annotated[float, Field(gt=0, le=MAX_EUR)]
    warn_eur: Annotated[float, Field(gt=0, le=MAX_EUR)] | None = None
    critical_eur: Annotated[float, Field(gt=0, le=MAX_EUR)] | None = None
    enforce: bool = False

    @model_validator(mode="after")
    def _order(self) -> BudgetConfig:
        # The order is checked on the exact defaults; the properties round them to cents for the reports.
        warn = self._threshold(self.warn_eur, WARN_SHARE, rounded=False)
        critical = self._threshold(self.critical_eur, CRITICAL_SHARE, rounded=False)
        if not warn <= critical <= self.monthly_eur:
            raise ValueError(
                f"thresholds must satisfy warnEur ({warn:g}) <= criticalEur ({critical:g}) <= monthlyEur ({self.monthly_eur:g})"
            )
        return self

    def _threshold(self, explicit: float | None, share: float, *, rounded: bool = True) -> float:
        """The threshold the stack file sets, else `share` of monthlyEur."""
        if explicit is not None:
            return explicit
        default = self.monthly_eur * share
        return round(default, 2) if rounded else default

    @property
    def warn(self) -> float:
        return self._threshold(self.warn_eur, WARN_SHARE)

    @property
    def critical(self) -> float:
        return self._threshold(self.critical_eur, CRITICAL_SHARE)


class ExtraCostLine(ConfigModel):
    # Printed in the plan and in the pull-request cost table: one line, no table separator.
    item: Annotated[str, Field(min_length=1, max_length=120)]
    monthly_eur: Annotated[float, Field(ge=0, le=MAX_EUR)]
    note: Annotated[str, Field(max_length=300)] | None = None

    @field_validator("item", "note")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and re.search(r"[\x00-\x1f\x7f|]", value):
            raise ValueError("must be one line without control characters or '|' (it is a cell of the cost table)")
        return value


class PricingConfig(ConfigModel):
    # The day the estimate is for; None: today. Decides which price epoch applies.
    as_of: dt.date | None = None
    vat_rate_percent: Annotated[float, Field(ge=0, le=50)] | None = None
    # Bounds far above any real stack keep every cost line a finite Decimal.
    expected_snapshot_gb: Annotated[float, Field(ge=0, le=1_000_000)] = 0
    expected_traffic_tb: Annotated[float, Field(ge=0, le=100_000)] = 0
    extra_lines: list[ExtraCostLine] = Field(default_factory=list)
    # Manual price overrides, e.g. {"server:cx33": 6.49} for a grandfathered contract price.
    overrides: dict[str, Annotated[float, Field(ge=0, le=MAX_EUR)]] = Field(default_factory=dict)
    # `pulumi up`/`preview` only: read GET /v1/pricing and /v1/datacenters with the provider's token. The CLI
    # ignores it: `plan --live-prices` / `cost --live` ask for live prices, and without them no network call.
    live: bool = False


class CapacityConfig(ConfigModel):
    reserve_ram_gb: Annotated[float, Field(ge=0, le=4096)] = 1.0
    reserve_vcpu: Annotated[float, Field(ge=0, le=1024)] = 0.5
