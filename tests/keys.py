"""The SSH public keys every test uses, in one home, so no test spells a key itself.

The valid ones are ed25519 keys that ssh-keygen -l accepts and whose private halves nobody has; the malformed
ones are what the stack file's key check must refuse, as ssh-keygen does."""

from __future__ import annotations

# The admin key's type and base64 body, without a comment (a test adds comments of its own to it).
ADMIN_KEY_MATERIAL = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKk3uLd5xR0nJz1yWmRt8gq2m4hV9bT7sPqN6cF0aE1Z"
ADMIN_KEY = f"{ADMIN_KEY_MATERIAL} ops@test"
SECOND_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBm2V5cG8nXq4Lr1pT0wYzK7sD3fH6jQ9eR2uA5iN8oX second@test"
THIRD_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq9sR3tU5vW7xY1zA3bC5dE7fG9hI1jK3lM5nO7pQ9r third@test"
# A placeholder of the shape a template might ship: 32 bytes of text, which ssh-keygen takes for a key.
PLACEHOLDER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAReplaceWithYourOwnPublicKeyxxxxxxxxxxxxxxx ops@example"

# Keys ssh-keygen refuses: a body too short for an ed25519 key, and a truncated RSA key.
MALFORMED_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKey x"
TRUNCATED_RSA_KEY = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAAQC7 x"
