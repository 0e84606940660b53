"""The application stack (`app`): its services, the reverse proxy, registries, jobs and the deploy policy.

One `ServiceConfig` per compose service (config/app_service.py, with app_expose.py, app_files.py and the
value checks of app_values.py); the proxy's settings are in config/app_proxy.py. Everything the host
receives for the app (compose file, postgresql.conf, redis.conf, proxy config, deploy script) is rendered
from this model by `render/app.py`.

Checks come in three layers so every problem is reported with its own config path:
- field and model validators (one service at a time);
- `AppConfig.role_issues(served_roles)` and the service checks here: across services;
- config/app_stack_rules.py: checks that need other stack sections (servers, dns, load balancer).

`spec.service_homes.placement(stack)` says which services (including the proxy) run on which server: the
capacity check and the compose renderer both use it, so they can never disagree.
"""

from __future__ import annotations

import re
import shlex
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from config.app_expose import RedirectConfig
from config.app_files import RedisTuning
from config.app_jobs import JobConfig
from config.app_proxy import ProxyConfig
from config.app_registries import REGISTRY_RE, RegistryConfig
from config.app_service import ResourceLimits, ServiceConfig
from config.app_values import (
    CERTBOT_IMAGES,
    EMAIL_RE,
    RESERVED_SERVICE_NAMES,
    SECRET_REF_RE,
    SERVICE_NAME_RE,
    check_secret_name,
    check_tag,
    image_is_pinned,
    plain_secret_problem,
)
from config.base import ConfigModel
from config.compose_file import closest
from config.errors import ConfigIssue
from config.formats import check_domain
from config.paths import check_host_dir
from config.swarm import Engine, SwarmConfig


class DeployConfig(ConfigModel):
    # The HTTP health check after `up --wait`: attempts, seconds between them, seconds per request.
    health_retries: Annotated[int, Field(ge=1, le=600)] = 30
    health_interval_s: Annotated[int, Field(ge=1, le=60)] = 2
    health_timeout_s: Annotated[int, Field(ge=1, le=120)] = 10
    # Seconds `docker compose up --wait` waits for every container to be running/healthy.
    wait_timeout_s: Annotated[int, Field(ge=10, le=3600)] = 300
    # Release directories kept under /opt/<project>/releases (current and previous always kept).
    keep_releases: Annotated[int, Field(ge=2, le=50)] = 5
    # Blue-green: seconds in-flight requests get on the old colour after the switch, and minutes its
    # stopped containers are kept for `hp-rollback` (config/deploy_strategy.py).
    drain_timeout_s: Annotated[int, Field(ge=1, le=3600)] = 30
    keep_previous_minutes: Annotated[int, Field(ge=0, le=10080)] = 1440


class AppConfig(ConfigModel):
    # compose: one compose project per server; swarm: one Docker Swarm stack across the servers (config/swarm.py).
    engine: Engine = "compose"
    swarm: SwarmConfig = Field(default_factory=SwarmConfig)
    # The version to ship: every service whose image has no tag runs this tag (unless it sets its own tag).
    # `pulumi config set --path hetzner-platform:app.release 1.4.3`
    release: str | None = None
    services: dict[str, ServiceConfig] = Field(default_factory=dict)
    # Scheduled jobs by name: a systemd timer per job runs a one-off container of the job's service.
    jobs: dict[str, JobConfig] = Field(default_factory=dict)
    # Private registries by host ("ghcr.io", "registry.gitlab.com", "docker.io" for Docker Hub).
    registries: dict[str, RegistryConfig] = Field(default_factory=dict)
    # Host names that only redirect (permanent) to another one, e.g. {from: www, to: "@"}.
    redirects: list[RedirectConfig] = Field(default_factory=list)
    proxy: ProxyConfig = Field(default_factory=ProxyConfig)
    acme_email: str | None = None
    # Base domain for expose.host when there is no `dns` section (with dns: dns.zone).
    domain: str | None = None
    # Where service volumes live on the host; default /mnt/data/<project>.
    data_dir: str | None = None
    # A compose file of your own (path relative to the Pulumi project directory): its services get
    # our limits, networks and secrets; host ports are stripped (only the proxy publishes).
    compose_file: str | None = None
    # Run before switching releases, in a one-off container of migrateService (default: the first
    # exposed service), e.g. "alembic upgrade head".
    migrate_command: str | list[str] | None = None
    migrate_service: str | None = None
    # Checked after deploy: a path on the primary host ("/api/v1/health") or a full URL.
    # Default: https://<first exposed host><its path>/health.
    health_url: str | None = None
    deploy: DeployConfig = Field(default_factory=DeployConfig)
    # Secrets the program may generate once (pulumi-random, letters and digits) when appSecrets.<NAME>
    # is not set; every other secret must be set. Never an htpasswd line or a third-party API key.
    generate_secrets: list[str] = Field(default_factory=list)

    @field_validator("release", mode="before")
    @classmethod
    def _release(cls, value: object) -> object:
        return check_tag(value)

    @model_validator(mode="after")
    def _apply_release(self) -> AppConfig:
        """Give every untagged image its tag (or the release) once, so every reader sees the image that runs."""
        resolved = {}
        for name, service in self.services.items():
            tag = service.tag or self.release
            if service.image and not image_is_pinned(service.image) and tag is not None:
                service = service.model_copy(update={"image": f"{service.image}:{tag}", "tag": None})
            resolved[name] = service
        # The models are frozen; this runs once, during validation.
        object.__setattr__(self, "services", resolved)
        return self

    @model_validator(mode="after")
    def _swarm_rolls_out_itself(self) -> AppConfig:
        """With app.engine swarm, `docker stack deploy` replaces tasks itself (start-first, app.swarm.update):
        every service without a strategy of its own is recreate, so no compose colours are rendered.
        An explicit blue-green is refused in config/swarm_checks.py."""
        if self.engine == "swarm":
            resolved = {name: service if service.strategy is not None else service.model_copy(update={"strategy": "recreate"})
                        for name, service in self.services.items()}
            object.__setattr__(self, "services", resolved)
        return self

    @field_validator("jobs")
    @classmethod
    def _job_names(cls, value: dict[str, JobConfig]) -> dict[str, JobConfig]:
        for name in value:
            if not SERVICE_NAME_RE.match(name):
                raise ValueError(f"job name '{name}' must be lowercase letters, digits, _ or -, starting with a letter")
        return value

    @field_validator("registries")
    @classmethod
    def _registries(cls, value: dict[str, RegistryConfig]) -> dict[str, RegistryConfig]:
        for host in value:
            if not REGISTRY_RE.match(host) or ("." not in host.split(":")[0] and not host.startswith("localhost")):
                raise ValueError(f"'{host}' is not a registry host such as ghcr.io or registry.gitlab.com:5050")
        return value

    @field_validator("generate_secrets")
    @classmethod
    def _generate(cls, value: list[str]) -> list[str]:
        for name in value:
            check_secret_name(name)
        return value

    @field_validator("services")
    @classmethod
    def _names(cls, value: dict[str, ServiceConfig]) -> dict[str, ServiceConfig]:
        for name in value:
            if not SERVICE_NAME_RE.fullmatch(name):
                raise ValueError(f"service name '{name}' must be lowercase letters, digits, _ or -, starting with a letter")
        return value

    @field_validator("acme_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL_RE.fullmatch(value):
            raise ValueError(f"'{value}' is not an e-mail address")
        return value

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        return None if value is None else check_domain(value)

    @field_validator("data_dir")
    @classmethod
    def _data_dir(cls, value: str | None) -> str | None:
        return None if value is None else check_host_dir(value)

    @field_validator("migrate_command")
    @classmethod
    def _migrate(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, str):
            try:
                if not shlex.split(value):
                    raise ValueError("migrateCommand is empty")
            except ValueError as exc:
                raise ValueError(f"migrateCommand cannot be split into words: {exc}") from None
        elif isinstance(value, list) and not value:
            raise ValueError("migrateCommand is empty")
        return value

    @field_validator("health_url")
    @classmethod
    def _health_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith("/"):
            if re.search(r"[\s'\"`$\\]", value):
                raise ValueError(f"'{value}' is not a URL path")
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"[\s'\"`$\\]", value):
            raise ValueError(f"'{value}' must be a path such as /health or an http(s) URL")
        return value

    # --- cross-service checks (no other stack section needed) ---------------------------------
    def role_issues(self, served_roles: set[str]) -> list[ConfigIssue]:
        issues = [
            ConfigIssue(f"app.services.{name}.role", f"no server has the '{service.role}' role")
            for name, service in self.services.items()
            if service.role not in served_roles and service.server is None
        ]
        return issues + self.service_issues()

    def service_issues(self) -> list[ConfigIssue]:
        """Rules across app's own fields: names, references between services, secrets, migrations."""
        issues: list[ConfigIssue] = []
        declared = self.declared_secrets()
        for name, service in self.services.items():
            issues += self._one_service_issues(name, service, declared)
        issues += self._generated_secret_issues(declared)
        issues += self._cycle_issues()
        issues += self._route_issues()
        for name, job in self.jobs.items():
            if job.service not in self.services:
                issues.append(ConfigIssue(f"app.jobs.{name}.service", f"no service named '{job.service}'"))
        issues += self._migration_issues()
        if self.exposed() and self.acme_email is None and self.proxy.acme:
            issues.append(ConfigIssue("app.acmeEmail", "required for Let's Encrypt when services are exposed"))
        return issues

    def _one_service_issues(self, name: str, service: ServiceConfig, declared: set[str]) -> list[ConfigIssue]:
        """A reserved name, a missing image, dependsOn targets and secrets in its environment."""
        issues: list[ConfigIssue] = []
        path = f"app.services.{name}"
        if name in RESERVED_SERVICE_NAMES:
            issues.append(ConfigIssue(path, f"'{name}' is reserved for the proxy the platform runs (app.proxy)"))
        if not service.image and self.compose_file is None:
            issues.append(ConfigIssue(f"{path}.image", "required key is missing (or set app.composeFile)"))
        for target, condition in service.depends_on.items():
            if target == name:
                issues.append(ConfigIssue(f"{path}.dependsOn.{target}", "a service cannot depend on itself"))
            elif target not in self.services:
                issues.append(ConfigIssue(
                    f"{path}.dependsOn.{target}", f"no service named '{target}'{closest(target, set(self.services))}"
                ))
            elif condition == "healthy" and self.services[target].default_healthcheck() is None:
                issues.append(ConfigIssue(
                    f"{path}.dependsOn.{target}", f"condition healthy needs a healthcheck on '{target}' (add one)"
                ))
        for key, value in service.environment.items():
            problem = plain_secret_problem(key, value)
            if problem is not None:
                issues.append(ConfigIssue(f"{path}.environment.{key}", problem))
            if isinstance(value, str):
                for ref in SECRET_REF_RE.findall(value):
                    if ref not in declared:
                        issues.append(ConfigIssue(
                            f"{path}.environment.{key}",
                            f"refers to ${{{ref}}}, which no service declares in secretEnv",
                        ))
        return issues

    def _generated_secret_issues(self, declared: set[str]) -> list[ConfigIssue]:
        """generateSecrets may name only secrets a service uses, and never a registry token or htpasswd line."""
        issues: list[ConfigIssue] = []
        htpasswd = {
            service.expose.basic_auth_secret for service in self.services.values()
            if service.expose is not None and service.expose.basic_auth_secret
        }
        registry_secrets = {registry.password_secret for registry in self.registries.values()}
        for index, name in enumerate(self.generate_secrets):
            if name in registry_secrets:
                issues.append(ConfigIssue(
                    f"app.generateSecrets[{index}]", f"{name} is a registry token (app.registries): set it, it cannot be generated"
                ))
            elif name not in declared:
                issues.append(ConfigIssue(f"app.generateSecrets[{index}]", f"no service uses a secret named {name}"))
            elif name in htpasswd:
                issues.append(ConfigIssue(
                    f"app.generateSecrets[{index}]", f"{name} is an htpasswd line (basicAuthSecret): set it, it cannot be generated"
                ))
        return issues

    def _migration_issues(self) -> list[ConfigIssue]:
        if self.migrate_command is not None:
            migrate_in = self.migrate_target()
            if migrate_in is None:
                return [ConfigIssue("app.migrateService", "migrateCommand needs a service to run in: set migrateService")]
            if migrate_in not in self.services:
                return [ConfigIssue(
                    "app.migrateService", f"no service named '{migrate_in}'{closest(migrate_in, set(self.services))}"
                )]
        elif self.migrate_service is not None:
            return [ConfigIssue("app.migrateService", "set migrateCommand too (the command to run)")]
        return []

    def _cycle_issues(self) -> list[ConfigIssue]:
        state: dict[str, int] = {}
        found: list[ConfigIssue] = []

        def visit(name: str, trail: list[str]) -> None:
            state[name] = 1
            for target in self.services[name].depends_on:
                if target not in self.services or target == name:
                    continue
                if state.get(target) == 1:
                    cycle = [*trail[trail.index(target):], target] if target in trail else [name, target]
                    found.append(ConfigIssue(f"app.services.{name}.dependsOn", f"dependency cycle: {' -> '.join(cycle)}"))
                elif state.get(target) is None:
                    visit(target, [*trail, target])
            state[name] = 2

        for name in self.services:
            if name not in state:
                visit(name, [name])
        return found

    def _route_issues(self) -> list[ConfigIssue]:
        issues: list[ConfigIssue] = []
        seen: dict[tuple[str, str], str] = {}
        for name, service in self.exposed().items():
            assert service.expose is not None
            for host in service.expose.names:
                key = (host, service.expose.path or "")
                if key in seen:
                    issues.append(ConfigIssue(
                        f"app.services.{name}.expose", f"host '{key[0]}' path '{key[1] or '/'}' is already routed to '{seen[key]}'"
                    ))
                seen[key] = name
        served = {host for host, _ in seen}
        sources = [redirect.from_ for redirect in self.redirects]
        for index, redirect in enumerate(self.redirects):
            path = f"app.redirects[{index}]"
            if redirect.from_ in served:
                issues.append(ConfigIssue(f"{path}.from", f"'{redirect.from_}' is served by a service; it cannot also redirect"))
            if sources.count(redirect.from_) > 1:
                issues.append(ConfigIssue(f"{path}.from", f"'{redirect.from_}' redirects twice"))
            if redirect.to not in served:
                issues.append(ConfigIssue(f"{path}.to", (
                    f"'{redirect.to}' is not a host of any exposed service (expose.host or expose.hosts), so the redirect "
                    "would lead nowhere"
                )))
        return issues

    def served_hosts(self) -> list[str]:
        """Every host the proxy answers with a certificate: exposed services' hosts, then redirect sources."""
        names: list[str] = []
        for service in self.exposed().values():
            assert service.expose is not None
            names += [host for host in service.expose.names if host not in names]
        return names + [redirect.from_ for redirect in self.redirects if redirect.from_ not in names]

    # --- derived views ------------------------------------------------------------------------
    def exposed(self) -> dict[str, ServiceConfig]:
        return {name: service for name, service in self.services.items() if service.expose is not None}

    def migrate_target(self) -> str | None:
        if self.migrate_service is not None:
            return self.migrate_service
        public = [name for name, service in self.exposed().items() if not service.admin_only]
        return public[0] if public else None

    def migrate_args(self) -> list[str]:
        if self.migrate_command is None:
            return []
        return shlex.split(self.migrate_command) if isinstance(self.migrate_command, str) else list(self.migrate_command)

    def declared_secrets(self) -> set[str]:
        names: set[str] = set()
        for service in self.services.values():
            names |= set(service.secret_env)
            if service.expose is not None and service.expose.basic_auth_secret:
                names.add(service.expose.basic_auth_secret)
            if isinstance(service.config_files, RedisTuning) and service.config_files.password_secret:
                names.add(service.config_files.password_secret)
        return names

    def resolved_data_dir(self, project: str) -> str:
        return self.data_dir or f"/mnt/data/{project}"

    def proxy_services(self) -> dict[str, ServiceConfig]:
        """The compose services the platform adds for the proxy (for capacity and rendering)."""
        proxy = self.proxy
        main = ServiceConfig(image=proxy.resolved_image, role="web", limits=proxy.limits, reservations=proxy.reservations)
        if proxy.kind == "traefik":
            return {"traefik": main}
        services = {"nginx": main}
        if proxy.acme:
            services["certbot"] = ServiceConfig(
                image=CERTBOT_IMAGES["http-01"], role="web",
                limits=ResourceLimits(cpus=0.1, memory="64M"), reservations=ResourceLimits(cpus=0.05, memory="32M"),
            )
        return services
