"""Checks for values by the format they end up in (a `docker run` line in a root systemd unit, a timer's
OnCalendar=, curl's --config, postgresql.conf, DNS). Each returns the value or raises ValueError with the
reason; the models in config/ call them from their field validators."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from config.base import DNS_LABEL_RE

# --- OCI image references ---------------------------------------------------------------------------
# The grammar of github.com/distribution/reference v0.5.0 regexp.go (the parser behind `docker pull`;
# separator, domainNameComponent, ipv6address, optionalPort, tag and digestPat as there; Go's \w is ASCII):
#   reference := name [ ":" tag ] [ "@" digest ];  name := [domain "/"] path-component ["/" path-component]*
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_IMAGE_RE = re.compile(
    rf"^(?P<name>(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)(?::{_TAG})?(?:@{_DIGEST})?$",
    re.ASCII,
)
MAX_IMAGE_NAME = 255  # distribution/reference: NameTotalLengthMax


def check_image(value: str) -> str:
    """An image reference `docker pull` accepts: no spaces, newlines, flags or shell characters."""
    match = _IMAGE_RE.fullmatch(value)
    if match is None or len(match.group("name")) > MAX_IMAGE_NAME:
        raise ValueError(
            f"{value!r} is not an image reference such as postgres:15-alpine or ghcr.io/org/app:1.2@sha256:<hex>"
        )
    return value


# --- systemd calendar expressions --------------------------------------------------------------------
# A strict subset of systemd.time(7) "Calendar Events": [weekdays] [[year-]month-day] [hour:minute[:second]]
# [UTC], or one of the shorthands. Every component is `*`, a number, a range `a..b`, a repetition `x/n`,
# or a comma list of those; numbers are checked against the component's range. The render tests feed
# every accepted default to `systemd-analyze calendar`; the fuzzer does so for generated expressions.
CALENDAR_SHORTHANDS = (
    "minutely", "hourly", "daily", "monthly", "weekly", "yearly", "annually", "quarterly", "semiannually",
)
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_LIMITS = {"year": (1970, 2199), "month": (1, 12), "day": (1, 31), "hour": (0, 23), "minute": (0, 59), "second": (0, 59)}
_NUMBER = r"\d{1,4}"
# systemd refuses a repetition after `*` ("*/5"); it must follow a number ("0/5").
_ITEM_RE = re.compile(rf"^(?:\*|(?P<a>{_NUMBER})(?:\.\.(?P<b>{_NUMBER}))?(?:/(?P<step>{_NUMBER}))?)$", re.ASCII)
MAX_CALENDAR = 128


def _calendar_component(text: str, unit: str) -> None:
    low, high = _LIMITS[unit]
    for item in text.split(","):
        match = _ITEM_RE.fullmatch(item)
        if match is None:
            raise ValueError(f"'{item}' is not a {unit} value")
        for group in ("a", "b"):
            number = match.group(group)
            if number is not None and not low <= int(number) <= high:
                raise ValueError(f"{unit} {number} is outside {low}..{high}")
        if match.group("a") and match.group("b") and int(match.group("a")) > int(match.group("b")):
            raise ValueError(f"range {item} runs backwards")
        step = match.group("step")
        if step is not None and int(step) == 0:
            raise ValueError(f"repetition /{step} must be at least 1")
        # systemd refuses a repetition whose first step already leaves the range ("12/12" hours).
        if step is not None and int(match.group("a")) + int(step) > high:
            raise ValueError(f"repetition {item} steps past {high}")


def _weekdays(text: str) -> None:
    for item in text.lower().split(","):
        for day in item.split(".."):
            if day not in _DAYS and day not in _DAY_NAMES:
                raise ValueError(f"'{day}' is not a weekday (Mon..Sun)")


def check_calendar(value: str) -> str:
    """A systemd OnCalendar= expression (the subset above); raises ValueError otherwise."""
    hint = "such as '*-*-* 02:15:00', '*:0/5', 'Mon *-*-* 03:00' or 'daily'"
    if len(value) > MAX_CALENDAR or not value.strip() or value != value.strip() or re.search(r"\s{2,}|[^\x21-\x7e ]", value):
        raise ValueError(f"{value!r} is not a systemd OnCalendar expression {hint}")
    if value.lower() in CALENDAR_SHORTHANDS:
        return value
    parts = value.split(" ")
    try:
        if parts and parts[-1] == "UTC":
            parts = parts[:-1]
        if parts and re.fullmatch(r"[A-Za-z.,]+", parts[0]):
            _weekdays(parts.pop(0))
        if parts and "-" in parts[0]:
            fields = parts.pop(0).split("-")
            if len(fields) == 2:
                fields = ["*", *fields]
            if len(fields) != 3:
                raise ValueError("a date is year-month-day or month-day")
            for text, unit in zip(fields, ("year", "month", "day"), strict=True):
                _calendar_component(text, unit)
        if parts and ":" in parts[0]:
            fields = parts.pop(0).split(":")
            if len(fields) not in (2, 3):
                raise ValueError("a time is hour:minute or hour:minute:second")
            for text, unit in zip(fields, ("hour", "minute", "second"), strict=False):
                _calendar_component(text, unit)
        if parts or value.strip() in ("", "UTC"):
            raise ValueError(f"unexpected '{' '.join(parts) or value}'")
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a systemd OnCalendar expression {hint} ({exc})") from None
    return value


# --- URLs handed to curl ---------------------------------------------------------------------------------
_URL_FORBIDDEN_RE = re.compile(r"[\x00-\x20\x7f\"'\\`<>{}|^]", re.ASCII)


def check_webhook_url(value: str) -> str:
    """An http(s) URL safe inside curl's `url = "..."` config line: no control characters, spaces,
    quotes or backslashes (each would end the quoted string or add an option line)."""
    bad = _URL_FORBIDDEN_RE.search(value)
    if bad is not None:
        raise ValueError(f"the URL holds the character {bad.group()!r}, which is not allowed in a webhook URL")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not a URL ({exc})") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("must be an http(s) URL such as https://hooks.slack.com/services/...")
    del port
    return value


# --- postgresql.conf values ------------------------------------------------------------------------
def check_postgres_value(key: str, value: str | int | float | bool) -> str | int | float | bool:
    """A value written as `key = '<value>'`: postgresql.conf treats a backslash inside quotes as an escape
    (a trailing one swallows the closing quote), so quotes, backslashes and control characters are refused."""
    if isinstance(value, str) and re.search(r"['\\\x00-\x1f\x7f]", value):
        raise ValueError(f"the value of '{key}' must be one line without quotes, backslashes or control characters")
    return value


# --- DNS names ---------------------------------------------------------------------------------------------
MAX_DNS_NAME = 253


def check_dns_length(name: str) -> str:
    if len(name.rstrip(".")) > MAX_DNS_NAME:
        raise ValueError(f"'{name}' is {len(name)} characters long; a DNS name has at most {MAX_DNS_NAME}")
    return name


def check_domain(value: str) -> str:
    """A domain name (a zone, a site, a certificate's name), lower-cased and without the trailing dot:
    two or more valid labels, a top-level label that is not a number, at most 253 characters."""
    value = value.lower().rstrip(".")
    labels = value.split(".")
    if len(labels) < 2 or not all(DNS_LABEL_RE.fullmatch(label) for label in labels):
        raise ValueError(f"'{value}' is not a valid domain name")
    if labels[-1].isdigit():
        raise ValueError(f"'{value}' is not a valid domain name (top-level label is numeric)")
    return check_dns_length(value)
