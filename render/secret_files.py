"""Secret files a release mounts into containers, for programs that take a secret only from their config
or their command line (Redis' requirepass). The values are written by the deploy script at deploy time,
next to the release's env file; what the plan shows and writes holds placeholders only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# `redis-conf`: a redis.conf fragment `requirepass "<value>"`; `raw`: the value as it is.
SecretFormat = Literal["redis-conf", "raw"]
SECRETS_DIR = "secrets"  # inside the release directory, mode 0500


@dataclass(frozen=True)
class SecretFile:
    path: str  # relative to the release directory, under SECRETS_DIR
    secret: str  # the appSecrets name whose value it holds
    format: SecretFormat
    owner_uid: int  # the container user that reads it (mode 0400)


def _redis_quoted(value: str) -> str:
    """A redis.conf double-quoted string (sdssplitargs: backslash escapes, \\xHH for control bytes)."""
    out = []
    for char in value:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def secret_file_content(file: SecretFile, value: str) -> str:
    if "\0" in value:
        raise ValueError(f"secret {file.secret}: NUL bytes cannot go into {file.path}")
    if file.format == "redis-conf":
        return f"requirepass {_redis_quoted(value)}\n"
    return value
