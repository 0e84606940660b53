"""Decimal helpers: parsing, cent rounding and JSON/text formatting of money."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0")


def dec(value: float | int | str | Decimal) -> Decimal:
    """A Decimal from config floats or API strings; str() first so 0.0572 stays 0.0572."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError("a boolean is not an amount")
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"'{value}' is not a decimal amount") from None
    if not result.is_finite():
        raise ValueError(f"'{value}' is not a finite amount")
    return result


def cents(value: Decimal) -> Decimal:
    """Round half-up to the cent: 1.298 -> 1.30, 1.145 -> 1.15."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def round_to(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def plain(value: Decimal) -> Decimal:
    """Drop trailing zeros without switching to exponent notation (0.0080 -> 0.008, 20 -> 20)."""
    normal = value.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral_value() else normal


def json_money(value: Decimal | None) -> float | None:
    """Amounts in JSON: numbers with two decimals (float(Decimal('22.64')) prints as 22.64)."""
    return None if value is None else float(cents(value))


def json_number(value: Decimal | None) -> float | int | None:
    """Unit prices and quantities in JSON: the exact figure as a number (0.0572, 100, 0.2)."""
    if value is None:
        return None
    value = plain(value)
    return int(value) if value == value.to_integral_value() else float(value)


def eur(value: Decimal | None) -> str:
    """Text form of an amount: '22.64', or 'unknown'."""
    return "unknown" if value is None else f"{cents(value):.2f}"


def figure(value: Decimal) -> str:
    """Text form of a vCPU, GB or MB figure, to 3 decimals without needless zeros: 1.5, 0.125, 0."""
    text = f"{value.quantize(Decimal('0.001')):f}".rstrip("0").rstrip(".")
    return text or "0"


def number(value: Decimal) -> str:
    """Text form of a quantity or unit price without needless zeros: 100, 0.2, 0.0572."""
    return format(plain(value), "f")
