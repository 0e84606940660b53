"""Things the plan tells the user about choices the platform makes for them (printed as `note:`)."""

from __future__ import annotations

from config.app_values import image_is_pinned
from config.schema import StackConfig
from config.stack_views import service_fqdn
from spec.dns import caa_names
from spec.web_sources import web_source_notes


def plan_notes(config: StackConfig) -> list[str]:
    notes: list[str] = []
    dns = config.dns
    if dns is not None and dns.caa_letsencrypt:
        names = caa_names(dns)
        apex = " (the zone apex: no other CA may then issue for any name in the zone)" if dns.zone in names else ""
        notes.append(
            f"CAA 0 issue \"letsencrypt.org\" on {', '.join(names)}{apex}: only Let's Encrypt may issue certificates "
            "for these names and the names below them; set dns.caaLetsencrypt false to leave CAA alone"
        )
    notes += web_source_notes(config)
    floating = sorted(name for name, service in config.app.services.items() if service.image and not image_is_pinned(service.image))
    if floating:
        notes.append(
            f"app.services {', '.join(floating)}: the image has no tag and app.release is not set, so it runs "
            "':latest', which can change under a restart; set app.release (or the service's tag)"
        )
    if dns is not None and config.app.exposed():
        served = {service_fqdn(config, host) for host in config.app.served_hosts()}
        for record in dns.records:
            name = dns.fqdn(record)
            if "*" not in name and name not in served:
                notes.append(
                    f"dns.records '{record.name}': {name} points at the stack but no service serves it and it has no "
                    "certificate; add it to an expose.hosts list or to app.redirects (e.g. {from: www, to: '@'})"
                )
    return notes
