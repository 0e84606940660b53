"""The SSH public keys every test stack uses: valid ed25519 keys (ssh-keygen -l accepts them) whose private
halves nobody has. One home, so a stack in any suite names the same admin key."""

from __future__ import annotations

ADMIN_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKk3uLd5xR0nJz1yWmRt8gq2m4hV9bT7sPqN6cF0aE1Z ops@test"
SECOND_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBm2V5cG8nXq4Lr1pT0wYzK7sD3fH6jQ9eR2uA5iN8oX second@test"
THIRD_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq9sR3tU5vW7xY1zA3bC5dE7fG9hI1jK3lM5nO7pQ9r third@test"
