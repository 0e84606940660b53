"""Every validation rule with a good and a bad example; errors name the config path."""

from __future__ import annotations

from typing import Any

import pytest

from config.errors import ConfigError
from config.loader import validate_config
from tests.stacks import FIVE_MISTAKE_PATHS, PHASE2, PROD, STAGING, five_mistakes, variant


def issues_of(values: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        validate_config(values)
    return {issue.path: issue.reason for issue in caught.value.issues}


@pytest.mark.parametrize("values", [PROD, STAGING, PHASE2], ids=["prod", "staging", "phase2"])
def test_reference_stacks_are_valid(values: dict[str, Any]) -> None:
    config = validate_config(values)
    assert config.project == "chrono"


BAD_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("retired type suggests current", variant(PROD, servers={"app": {"serverType": "cx32"}}),
     "servers.app.serverType", "use 'cx33'"),
    ("unknown type", variant(PROD, servers={"app": {"serverType": "cx99"}}), "servers.app.serverType", "unknown server type"),
    ("type not sold in region", variant(PROD, servers={"app": {"serverType": "cpx31"}}),
     "servers.app.serverType", "use 'cpx32'"),
    ("unknown location", variant(PROD, location="nbg9"), "location", "unknown location"),
    ("volume too small", variant(PROD, volumes={"data": {"sizeGb": 5}}), "volumes.data.sizeGb", "10..10240"),
    ("volume too big", variant(PROD, volumes={"data": {"sizeGb": 20000}}), "volumes.data.sizeGb", "10..10240"),
    ("ssh port is https", variant(PROD, ssh={**PROD["ssh"], "port": 443}), "ssh.port", "reserved for HTTPS"),
    ("ssh port out of range", variant(PROD, ssh={**PROD["ssh"], "port": 70000}), "ssh.port", "less than or equal to 65535"),
    ("bad cidr", variant(PROD, ssh={**PROD["ssh"], "adminCidrs": ["10.0.0.300/24"]}), "ssh.adminCidrs", "not a valid CIDR"),
    ("cidr with host bits", variant(PROD, ssh={**PROD["ssh"], "adminCidrs": ["203.0.113.7/24"]}), "ssh.adminCidrs", "host bits"),
    ("bad public key", variant(PROD, ssh={**PROD["ssh"], "publicKeys": ["not a key"]}), "ssh.publicKeys[0]", "OpenSSH public key"),
    ("root admin", variant(PROD, ssh={**PROD["ssh"], "adminUser": "root"}), "ssh.adminUser", "not root"),
    ("bad domain", variant(PROD, dns={**PROD["dns"], "zone": "exa_mple..com"}), "dns.zone", "not a valid domain"),
    ("proxied needs auto ttl", variant(PROD, dns={**PROD["dns"], "ttl": 300}), "dns", "ttl 1"),
    ("bad ttl", variant(PROD, dns={**PROD["dns"], "proxied": False, "ttl": 30}), "dns.ttl", "60..86400"),
    ("protection mismatch", variant(PROD, servers={"app": {"serverType": "cx33", "deleteProtection": True,
                                                            "rebuildProtection": False}}),
     "servers.app", "must be equal"),
    ("lb without network", variant(PROD, network=None), "loadBalancer.usePrivateIp", "needs a private network"),
    ("lb without targets", variant(PROD, servers={"app": {"serverType": "cx33", "roles": ["db"]}}),
     "loadBalancer.targetRole", "no server has the 'web' role"),
    ("lb listens on ssh port", variant(PROD, loadBalancer={"services": [
        {"protocol": "tcp", "listenPort": 2222, "destinationPort": 2222}]}),
     "loadBalancer.services[0].listenPort", "SSH port"),
    ("unknown lb type", variant(PROD, loadBalancer={"type": "lb99"}), "loadBalancer.type", "unknown load balancer type"),
    ("http health check on the redirecting port", variant(PROD, loadBalancer={"healthCheck": {"protocol": "http", "port": 80}}),
     "loadBalancer.healthCheck.port", "cannot see the app"),
    ("http health check on the TLS port", variant(PROD, loadBalancer={"healthCheck": {"protocol": "http", "port": 443}}),
     "loadBalancer.healthCheck.port", "Use protocol tcp"),
    # Without a port, http means through the proxy (issue 19), which needs an exposed service: this stack has none.
    ("http health check without an app to route to", variant(PROD, loadBalancer={"healthCheck": {"protocol": "http"}}),
     "loadBalancer.healthCheck.protocol", "checks the app through the hosts' proxy"),
    ("https lb service", variant(PROD, loadBalancer={"services": [
        {"protocol": "https", "listenPort": 443, "destinationPort": 443}]}),
     "loadBalancer.services[0].protocol", "needs a certificate there"),
    ("floating ip on missing server", variant(PROD, floatingIp={"server": "nope"}), "floatingIp.server", "no server named"),
    ("volume on missing server", variant(PROD, volumes={"data": {"sizeGb": 10, "server": "nope"}}), "volumes.data.server",
     "no server named"),
    ("subnet outside range", variant(PROD, network={"ipRange": "10.0.0.0/16", "subnet": "10.9.0.0/24"}), "network",
     "not inside ipRange"),
    ("public network range", variant(PROD, network={"ipRange": "8.8.0.0/16", "subnet": "8.8.1.0/24"}), "network.ipRange",
     "private IPv4"),
    ("several servers without network", variant(PHASE2, network=None, loadBalancer=None), "network", "private network"),
    ("budget order", variant(PROD, budget={"monthlyEur": 50, "warnEur": 48, "criticalEur": 45}), "budget", "warnEur"),
    ("typo key", variant(PROD, enviroment="prod"), "enviroment", "unknown config key"),
    ("typo nested key", variant(PROD, servers={"app": {"serverTyp": "cx33"}}), "servers.app.serverTyp", "unknown key"),
    ("bad image", variant(PROD, servers={"app": {"serverType": "cx33", "image": "centos-7"}}), "servers.app.image",
     "not supported"),
    ("bad environment", variant(PROD, environment="production"), "environment", "'prod', 'staging' or 'dev'"),
    ("missing required", variant(PROD, budget=None), "budget", "required key is missing"),
]


@pytest.mark.parametrize(("case", "values", "path", "fragment"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_value_is_reported_with_its_path(case: str, values: dict[str, Any], path: str, fragment: str) -> None:
    issues = issues_of(values)
    assert path in issues, f"{case}: expected an issue at {path}, got {issues}"
    assert fragment in issues[path], f"{case}: {issues[path]!r} does not mention {fragment!r}"


def test_five_mistakes_are_all_reported_at_once() -> None:
    assert set(FIVE_MISTAKE_PATHS) <= set(issues_of(five_mistakes()))


def test_protection_defaults_follow_environment() -> None:
    prod = validate_config(PROD)
    staging = validate_config(STAGING)
    assert prod.servers["app"].protected("prod") is True
    assert staging.servers["app"].protected("staging") is False
    explicit = validate_config(variant(PROD, servers={"app": {"serverType": "cx33", "protection": False}}))
    assert explicit.servers["app"].protected("prod") is False


def domain_fields(domain: str) -> dict[str, dict[str, Any]]:
    """The same domain in every field that takes one: {config path: stack values}."""
    return {
        "dns.zone": variant(PROD, dns={**PROD["dns"], "zone": domain}),
        "floatingIp.dnsPtr": variant(PROD, floatingIp={**PROD["floatingIp"], "dnsPtr": domain}),
        "app.domain": variant(PROD, app={"domain": domain}),
        "ops.alerts.tlsDomains": variant(PROD, ops={"alerts": {"tlsDomains": [domain]}}),
    }


@pytest.mark.parametrize("domain", ["exa_mple.com", "example", "example.123", "-example.com", "a" * 64 + ".com"])
def test_every_domain_field_refuses_the_same_names(domain: str) -> None:
    """One rule (config.formats.check_domain) for every field that takes a domain name."""
    for path, values in domain_fields(domain).items():
        assert "not a valid domain name" in issues_of(values).get(path, ""), f"{path} accepted {domain!r}"


def test_every_domain_field_accepts_and_normalises_the_same_names() -> None:
    for values in domain_fields("Shop.Example.COM.").values():
        config = validate_config(values)
        assert "shop.example.com" in (
            config.dns.zone if config.dns else None,
            config.floating_ip.dns_ptr if config.floating_ip else None,
            config.app.domain,
            *(config.ops.alerts.tls_domains or []),
        )
