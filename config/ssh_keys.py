"""OpenSSH public key lines checked the way `ssh-keygen -l -f` reads them: the base64 blob must decode,
name the same key type as the line, and hold the fields of that type with nothing left over.

Wire format: RFC 4253 section 6.6 (ssh-rsa), RFC 5656 section 3.1 (ecdsa-sha2-*), RFC 8709 section 4
(ssh-ed25519) and OpenSSH's PROTOCOL.u2f (sk-ssh-ed25519@openssh.com).
"""

from __future__ import annotations

import base64
import binascii
import struct

KEY_TYPES = (
    "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
)
# Uncompressed EC point sizes (0x04 || X || Y) per curve.
_EC_POINT_BYTES = {"nistp256": 65, "nistp384": 97, "nistp521": 133}
ED25519_KEY_BYTES = 32
RSA_MIN_BITS = 1024  # OpenSSH's SSH_RSA_MINIMUM_MODULUS_SIZE: ssh-keygen and sshd refuse smaller keys


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.offset = data, 0

    def string(self) -> bytes:
        if self.offset + 4 > len(self.data):
            raise ValueError("the key data ends early")
        (length,) = struct.unpack(">I", self.data[self.offset : self.offset + 4])
        start, self.offset = self.offset + 4, self.offset + 4 + length
        if self.offset > len(self.data):
            raise ValueError("the key data ends early")
        return self.data[start : self.offset]

    def done(self) -> bool:
        return self.offset == len(self.data)


def _check_blob(key_type: str, blob: bytes) -> None:
    reader = _Reader(blob)
    inner = reader.string().decode("ascii", "replace")
    if inner != key_type:
        raise ValueError(f"the line says {key_type} but the key data holds {inner}")
    if key_type in ("ssh-ed25519", "sk-ssh-ed25519@openssh.com"):
        if len(reader.string()) != ED25519_KEY_BYTES:
            raise ValueError(f"an ed25519 key is {ED25519_KEY_BYTES} bytes")
        if key_type.startswith("sk-"):
            reader.string()  # the FIDO application, e.g. "ssh:"
    elif key_type == "ssh-rsa":
        exponent, modulus = reader.string(), reader.string()
        bits = int.from_bytes(modulus, "big").bit_length()
        if not exponent or bits < RSA_MIN_BITS:
            raise ValueError(f"an RSA key needs at least {RSA_MIN_BITS} bits (this one has {bits})")
    else:
        curve = reader.string().decode("ascii", "replace")
        point = reader.string()
        if key_type != f"ecdsa-sha2-{curve}" or len(point) != _EC_POINT_BYTES[curve] or point[:1] != b"\x04":
            raise ValueError("the ECDSA curve or point does not match the key type")
    if not reader.done():
        raise ValueError("extra bytes after the key")


def check_public_key(line: str) -> str:
    """The key line with surrounding whitespace removed; ValueError with the reason otherwise."""
    line = line.strip()
    parts = line.split(maxsplit=2)
    if len(parts) < 2 or parts[0] not in KEY_TYPES:
        raise ValueError(f"not an OpenSSH public key line ('<type> <base64> [comment]', type one of {', '.join(KEY_TYPES)})")
    if any(ord(char) < 32 or ord(char) == 127 for char in line):
        raise ValueError("the key line holds a control character")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the key data is not valid base64") from None
    try:
        _check_blob(parts[0], blob)
    except (ValueError, KeyError, UnicodeError) as exc:
        raise ValueError(f"ssh-keygen would not accept this key: {exc}") from None
    return line
