"""Uniqueness and cross-references across the stack: every name another field refers to must exist (the
closest existing name is suggested), and names that become one resource or host name must stay distinct."""

from __future__ import annotations

import base64
import binascii

from config.compose_file import closest
from config.errors import ConfigIssue
from config.schema import StackConfig
from config.stack_views import placement_names, service_fqdn


def reference_issues(stack: StackConfig) -> list[ConfigIssue]:
    return (
        _backup_services(stack) + _duplicate_keys(stack) + _dns_slugs(stack) + _service_slugs(stack)
        + _routes(stack) + _volume_servers(stack)
    )


def _backup_services(stack: StackConfig) -> list[ConfigIssue]:
    """A misspelled service here silently turns dumps and the restore drill off while the backup state
    still says good."""
    issues: list[ConfigIssue] = []
    services = set(stack.app.services)
    for kind, name in (("postgres", stack.ops.backup.postgres.service), ("redis", stack.ops.backup.redis.service)):
        if name is not None and name not in services:
            issues.append(ConfigIssue(f"ops.backup.{kind}.service", f"no service named '{name}' in app.services{closest(name, services)}"))
    return issues


def key_blob(line: str) -> bytes | None:
    parts = line.split()
    try:
        return base64.b64decode(parts[1], validate=True) if len(parts) > 1 else None
    except (binascii.Error, ValueError):
        return None


def _duplicate_keys(stack: StackConfig) -> list[ConfigIssue]:
    """Hetzner refuses the same public key twice in one project (uniqueness_error)."""
    issues: list[ConfigIssue] = []
    seen: dict[bytes, int] = {}
    for index, line in enumerate(stack.ssh.public_keys):
        blob = key_blob(line)
        if blob is None:
            continue
        if blob in seen:
            issues.append(ConfigIssue(
                f"ssh.publicKeys[{index}]", f"the same key as ssh.publicKeys[{seen[blob]}] (only the comment differs)"))
        seen.setdefault(blob, index)
    return issues


def dns_resource_slug(fqdn: str) -> str:
    """The part of a DNS record's Pulumi resource name taken from its name (components/dns.py)."""
    return fqdn.replace(".", "-")


def _dns_slugs(stack: StackConfig) -> list[ConfigIssue]:
    if stack.dns is None:
        return []
    issues: list[ConfigIssue] = []
    seen: dict[str, str] = {}
    for index, record in enumerate(stack.dns.records):
        fqdn = stack.dns.fqdn(record)
        slug = dns_resource_slug(fqdn)
        if slug in seen and seen[slug] != fqdn:
            issues.append(ConfigIssue(
                f"dns.records[{index}].name", f"{fqdn} and {seen[slug]} get the same resource name ({slug}): rename one"
            ))
        seen.setdefault(slug, fqdn)
    return issues


def _service_slugs(stack: StackConfig) -> list[ConfigIssue]:
    """`a-b` and `a_b` are one node in the diagram and one name once `_` becomes `-` in host names."""
    issues: list[ConfigIssue] = []
    seen: dict[str, str] = {}
    for name in stack.app.services:
        slug = name.replace("_", "-")
        if slug in seen:
            issues.append(ConfigIssue(f"app.services.{name}", f"differs from service '{seen[slug]}' only in - versus _"))
        seen.setdefault(slug, name)
    return issues


def _routes(stack: StackConfig) -> list[ConfigIssue]:
    """Two routes for one host name and path, one spelled as a label and one as a full name: nginx
    refuses the config, Traefik gets two identical rules."""
    issues: list[ConfigIssue] = []
    seen: dict[tuple[str, str], str] = {}
    for name, service in stack.app.exposed().items():
        assert service.expose is not None
        key = (service_fqdn(stack, service.expose.host), service.expose.path or "")
        if key in seen and service.expose.host != stack.app.services[seen[key]].expose.host:  # type: ignore[union-attr]
            issues.append(ConfigIssue(
                f"app.services.{name}.expose.host", f"{key[0]}{key[1]} is already routed to '{seen[key]}'"
            ))
        seen.setdefault(key, name)
    return issues


def _volume_servers(stack: StackConfig) -> list[ConfigIssue]:
    """A volume on a server without the stateful services leaves the data on the root disk of another."""
    stateful = [name for name, service in stack.app.services.items() if service.stateful]
    if not stateful:
        return []
    where = placement_names(stack)
    issues: list[ConfigIssue] = []
    for name in stack.volumes:
        server = stack.volume_server(name)
        if server in where and not any(service in stateful for service in where[server]):
            homes = sorted({s for s, names in where.items() if any(n in stateful for n in names)})
            issues.append(ConfigIssue(
                f"volumes.{name}.server",
                f"server {server} runs none of the stateful services ({', '.join(stateful)}); they run on "
                f"{', '.join(homes)}: attach the volume there",
            ))
    return issues
