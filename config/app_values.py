"""Values of the app section, parsed and checked one at a time: memory sizes, durations, paths, names,
image tags, host names, secrets written in plain text; and the names and images the platform reserves."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field

from config.base import DNS_LABEL_RE
from config.formats import check_dns_length

_MEMORY_RE = re.compile(r"^(\d+(?:\.\d+)?) ?([kKmMgG])?[bB]?$", re.ASCII)
_UNIT_MB = {"k": 1 / 1024, "m": 1, "g": 1024, None: 1 / (1024 * 1024)}
_REDIS_MEMORY_RE = re.compile(r"^(\d+) ?(b|k|kb|m|mb|g|gb)?$", re.IGNORECASE | re.ASCII)
_REDIS_UNITS = {"b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3}
PG_SIZE_RE = re.compile(r"^\d+(kB|MB|GB|TB)$", re.ASCII)
_DURATION_RE = re.compile(r"^(\d+(ms|us|s|m|h))+$", re.ASCII)
SERVICE_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$", re.ASCII)
_SECRET_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$", re.ASCII)
ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$", re.ASCII)
VOLUME_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$", re.ASCII)
_ABS_PATH_RE = re.compile(r"^/[A-Za-z0-9._/@+-]*$", re.ASCII)
PG_SETTING_RE = re.compile(r"^[a-z_][a-z0-9_.]*$", re.ASCII)
REDIS_SETTING_RE = re.compile(r"^[a-z][a-z0-9-]*$", re.ASCII)
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", re.ASCII)
# `${NAME}` in an environment value refers to a secret; compose interpolates it from the env file.
SECRET_REF_RE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}", re.ASCII)
# Environment names that hold a secret ("DB_PASSWORD", "STRIPE_API_KEY"); *_FILE/_PATH name a file.
_SECRET_NAME_RE = re.compile(
    r"(^|_)(PASSWORD|PASSWD|PASS|SECRET|TOKEN|APIKEY|CREDENTIALS?)(_|$)|(^|_)(API|PRIVATE|ACCESS|SECRET|MASTER)_KEY(_|$)",
    re.ASCII,
)
_NOT_SECRET_SUFFIXES = ("_FILE", "_PATH", "_DIR", "_URL_PATH", "_LENGTH", "_EXPIRY", "_TTL", "_ENABLED")
# scheme://user:password@host with a literal password (a `${NAME}` reference is fine).
_URL_PASSWORD_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/:@\s]*:(?P<password>[^@\s]+)@", re.ASCII)


def plain_secret_problem(key: str, value: str | int | float | bool) -> str | None:
    """Why a plain environment value looks like a secret (it would sit in the 0644 compose file), or None."""
    if not isinstance(value, str) or not value or SECRET_REF_RE.fullmatch(value.strip()):
        return None
    hint = "secrets go in secretEnv (values from appSecrets.<NAME>) and are referred to as ${NAME}"
    if _SECRET_NAME_RE.search(key.upper()) and not key.upper().endswith(_NOT_SECRET_SUFFIXES) and "${" not in value:
        return f"{key} looks like a secret written in plain text: {hint}"
    match = _URL_PASSWORD_RE.match(value)
    if match is not None and not SECRET_REF_RE.fullmatch(match.group("password")):
        return f"the URL holds a password in plain text: {hint}, e.g. postgresql://user:${{DB_PASSWORD}}@db/app"
    return None

ProxyKind = Literal["traefik", "nginx"]
# How a service moves to a new release (config/deploy_strategy.py).
Strategy = Literal["recreate", "blue-green"]
# Names the renderer uses for its own compose services.
RESERVED_SERVICE_NAMES = ("traefik", "nginx", "certbot")
# The Cloudflare token the proxy needs for Let's Encrypt DNS-01; supplied by the Pulumi wiring.
CLOUDFLARE_TOKEN_SECRET = "CF_DNS_API_TOKEN"
DEFAULT_PROXY_IMAGES = {"traefik": "traefik:v3.3", "nginx": "nginx:1.27-alpine"}
CERTBOT_IMAGES = {"http-01": "certbot/certbot:v3.1.0", "dns-01": "certbot/dns-cloudflare:v3.1.0"}
# Compose keys a service may add through `extra` (everything else has a typed field or is the platform's).
EXTRA_COMPOSE_KEYS = (
    "cap_add", "cap_drop", "security_opt", "pid", "user", "working_dir", "labels", "ulimits", "tmpfs",
    "read_only", "init", "sysctls", "stop_signal", "group_add", "hostname", "shm_size",
)
POSTGRES_PORT = 5432
REDIS_PORT = 6379


def memory_mb(value: str) -> float:
    """Compose-style memory ("1.5G", "512M", "256m") in MiB."""
    match = _MEMORY_RE.fullmatch(value)
    if not match:
        raise ValueError(f"'{value}' is not a memory size such as 512M or 1.5G")
    number, unit = match.groups()
    return float(number) * _UNIT_MB[unit.lower() if unit else None]


def redis_memory_bytes(value: str) -> int:
    """Redis memory notation ("512mb", "8gb", "1000000") in bytes; k/m/g are powers of 1000 as in redis."""
    match = _REDIS_MEMORY_RE.fullmatch(value)
    if not match:
        raise ValueError(f"'{value}' is not a redis memory size such as 512mb or 8gb")
    number, unit = match.groups()
    return int(number) * _REDIS_UNITS[(unit or "b").lower()]


def check_duration(value: str | int) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{value!r} is not a duration such as 10s, 1m30s or 500ms")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{value} is not a duration")
        return f"{value}s"
    if not _DURATION_RE.fullmatch(value):
        raise ValueError(f"'{value}' is not a duration such as 10s, 1m30s or 500ms")
    return value


def check_abs_path(value: str) -> str:
    if not _ABS_PATH_RE.fullmatch(value) or value.rstrip("/") == "" or ".." in value.split("/"):
        raise ValueError(f"'{value}' must be an absolute path (letters, digits and . _ - / @ +)")
    return value.rstrip("/")


def check_secret_name(value: str) -> str:
    if not _SECRET_RE.fullmatch(value):
        raise ValueError(f"'{value}' is not a secret name: use UPPER_SNAKE_CASE such as DB_PASSWORD")
    return value


Duration = Annotated[str, Field(min_length=1)]


_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def check_tag(value: object) -> object:
    """A Docker tag. `pulumi config set --path` stores an integer such as 7 as a number ("integers are
    treated as numbers. All other values are treated as strings",
    https://www.pulumi.com/docs/iac/cli/commands/pulumi_config_set/): taken as "7". An unquoted 1.10 in
    YAML is a float that lost a digit, so a float is refused with the way to write it as text."""
    if value is None:
        return None
    if isinstance(value, (bool, float)):
        raise ValueError(f"{value!r} is not text: quote it in YAML, or pulumi config set --path ... --type string")
    text = str(value)
    if not _TAG_RE.match(text):
        raise ValueError(f"'{text}' is not an image tag (letters, digits, _ . -; at most 128; not starting with . or -)")
    return text


def image_is_pinned(image: str) -> bool:
    """True when the reference names a tag or digest (`redis:7`, `x@sha256:...`; a registry port is not a tag)."""
    return "@" in image or ":" in image.rsplit("/", 1)[-1]


def check_host(value: str) -> str:
    value = value.lower().rstrip(".")
    if value != "@" and not all(DNS_LABEL_RE.fullmatch(label) for label in value.split(".")):
        raise ValueError(f"'{value}' is not a host: use '@', a subdomain such as 'api' or a full name")
    return check_dns_length(value)
