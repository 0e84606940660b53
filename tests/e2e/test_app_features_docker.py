"""Issue 19's app features on the real Docker engine of the booted host: a private registry login,
scheduled jobs, several host names and a redirect.

The harness and the order are test_real_docker.py's (`deploy_stack`: host steps, stand-in images,
app, ops, then every step again); the stack is a shop with one web service, and before its first
deploy the module adds, inside the host:
- a second docker-registry on 127.0.0.1:5001 that requires a login (htpasswd, images.py), with the
  stand-in web image pushed there as `acme/shop:1.0` and `:1.1` by a "CI" user, and no local copy, so
  the app step's `docker compose pull` works only after its `docker login --password-stdin` from
  `app.registries` (a pull without the login is tried first and must fail);
- a webhook sink (host_probes.py) that `alertWebhookUrl` points at, to read what a failed job sends;
- an argv/environment sampler (host_probes.py) that watches for the registry token during both deploys.

The stack: `app.release` 1.0 for the untagged private image, `expose.hosts: ["@", shop]`, a redirect
www -> @, and three jobs (one that reports from the live release, one that exits 3, one that runs past
its timeout), each started with `systemctl start` instead of waiting for its calendar.

Run: `.venv/bin/pytest tests/e2e/test_app_features_docker.py -m e2e -q -s` (as root).
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from config.loader import validate_config
from render.app import app_step
from render.jobs import job_unit_name
from render.steps import HostRuntime
from spec.host_paths import DOCKER_CONFIG_DIR
from tests.prerequisites import skip_or_fail

from . import images
from .conftest import BootHost, Report
from .container import BootedHost
from .docker_host import (  # noqa: F401 (e2e_rootfs: the Docker rootfs fixture, used by name)
    APP_SECRETS,
    DOMAIN,
    SERVER,
    DockerHost,
    deploy_stack,
    e2e_rootfs,
    ops_secrets,
    run_steps,
    stack_values,
)
from .host_probes import SINK_URL, ArgvSampler, WebhookSink, count_matches
from .rootfs import Rootfs
from .ssh import KeyPair, assert_safe_destination

pytestmark = pytest.mark.e2e

SHOP_IMAGE = f"{images.PRIVATE_REGISTRY}/acme/shop"  # untagged: app.release gives the tag
REGISTRY_USER = "shop-reader"
REGISTRY_TOKEN = "ghp_E2eShopReader" + secrets.token_hex(10)
CI_USER, CI_PASSWORD = "ci-push", "ci-" + secrets.token_hex(10)
SHOP_SECRETS = {"JWT_SECRET": APP_SECRETS["JWT_SECRET"], "REGISTRY_TOKEN": REGISTRY_TOKEN}
GREETING = "hello-from-the-release"
SERVED = ("@", "shop")  # expose.hosts of the web service
REDIRECT_FROM = "www"
ANONYMOUS_CONFIG = "/root/.hp-e2e-anonymous-docker"  # an empty docker config: a client that never logged in
JOBS: dict[str, dict[str, Any]] = {
    # Runs the live release's image with its environment on its network (the api answers by service name).
    "report": {
        "schedule": "*-*-* 03:00:00",
        "service": "api",
        "command": [
            "sh",
            "-c",
            'echo "report: image $(cat /www/version), live api $(wget -q -O - http://api:8000/version), '
            'greeting $APP_GREETING, jwt ${JWT_SECRET:+set}"',
        ],
    },
    "broken": {
        "schedule": "*-*-* 04:00:00",
        "service": "api",
        "command": ["sh", "-c", "echo 'broken: the report server is unreachable' >&2; exit 3"],
    },
    "slow": {"schedule": "Sun *-*-* 05:00:00", "service": "api", "command": ["sleep", "300"], "timeout": "5s"},
}


def fqdn(host: str) -> str:
    return DOMAIN if host == "@" else f"{host}.{DOMAIN}"


def shop_values(admin_key_line: str, admin_cidr: str, release: str = "1.0") -> dict[str, Any]:
    """test_real_docker's stack reduced to its web service, with issue 19's features switched on."""
    values = stack_values(admin_key_line, admin_cidr)
    app = values["app"]
    api = app["services"]["api"]
    api.pop("dependsOn")
    api.update(image=SHOP_IMAGE, environment={"APP_GREETING": GREETING}, expose={"port": 8000, "hosts": list(SERVED)})
    app["services"] = {"api": api}
    for key in ("migrateCommand", "migrateService"):
        app.pop(key)
    app.update(
        release=release,
        registries={images.PRIVATE_REGISTRY: {"username": REGISTRY_USER, "passwordSecret": "REGISTRY_TOKEN"}},
        redirects=[{"from": REDIRECT_FROM, "to": "@"}],
        jobs=JOBS,
    )
    values["dns"]["records"] = [{"name": name} for name in (*SERVED, REDIRECT_FROM)]
    return values


def token_forms() -> dict[str, str]:
    """The registry token as it could leak: itself, base64 as the deploy script carries it, and the
    base64 `user:token` docker keeps in config.json."""
    return {
        "registry token": REGISTRY_TOKEN,
        "registry token, base64": base64.b64encode(REGISTRY_TOKEN.encode()).decode(),
        "docker auth (base64 user:token)": base64.b64encode(f"{REGISTRY_USER}:{REGISTRY_TOKEN}".encode()).decode(),
    }


# ----------------------------------------------------------------------------------- fixtures
@dataclass
class Shop:
    stack: DockerHost
    admin_key: KeyPair
    sink: WebhookSink | None = None
    anonymous_pull: subprocess.CompletedProcess[str] | None = None  # before the first deploy
    sampler_hits: dict[str, int] = field(default_factory=dict)
    sampler_rounds: int = 0

    def container_names(self) -> list[str]:
        return self.stack.sudo("docker ps -a --format '{{.Names}}'").split()

    def job(self, name: str, timeout: float = 120.0) -> tuple[int, dict[str, str], str]:
        """`systemctl start` the job's service now: its rc, Result/ExecMainStatus and its journal."""
        unit = f"{job_unit_name(name)}.service"
        started = self.stack.root(f"systemctl start {unit}", timeout=timeout)
        shown = self.stack.sudo(f"systemctl show -p Result -p ExecMainStatus {unit}")
        props = dict(line.split("=", 1) for line in shown.splitlines() if "=" in line)
        journal = self.stack.sudo(f"journalctl --no-pager -o cat -u {unit}")
        return started.rc, props, journal


@pytest.fixture(scope="module")
def shop(booted_host_module: BootHost, admin_key: KeyPair, report: Report, e2e_rootfs: Rootfs) -> Shop:  # noqa: F811
    prelude: dict[str, Any] = {}

    def before_app(host: BootedHost) -> None:
        started = time.monotonic()
        images.start_private_registry(host, {REGISTRY_USER: REGISTRY_TOKEN, CI_USER: CI_PASSWORD})
        for tag in ("1.0", "1.1"):
            images.publish_private(host, images.ref("web", tag), f"{SHOP_IMAGE}:{tag}", CI_USER, CI_PASSWORD)
        prelude["anonymous_pull"] = host.nsenter(
            ["sh", "-c", f"install -d -m 0700 {ANONYMOUS_CONFIG} && docker --config {ANONYMOUS_CONFIG} pull {SHOP_IMAGE}:1.0"]
        )
        report.timings["private_registry"] = round(time.monotonic() - started, 2)
        prelude["sink"] = WebhookSink(host)
        prelude["sink"].start()
        prelude["sampler"] = ArgvSampler(host, token_forms())
        prelude["sampler"].start()

    stack = deploy_stack(
        booted_host_module, admin_key, report, e2e_rootfs, shop_values,
        app_secrets=SHOP_SECRETS, make_ops_secrets=lambda config: {**ops_secrets(config), "alertWebhookUrl": SINK_URL},
        before_app=before_app,
    )  # fmt: skip
    shop = Shop(stack, admin_key, prelude.get("sink"), prelude.get("anonymous_pull"))
    if "sampler" in prelude:
        shop.sampler_hits, shop.sampler_rounds = prelude["sampler"].stop()
    return shop


def test_first_and_second_run(shop: Shop) -> None:
    stack = shop.stack
    failed = [run.describe() for run in stack.first if run.rc != 0 or run.changed is None]
    assert not failed, "\n".join(failed) + stack.diagnostics
    not_idle = [run.describe() for run in stack.second if run.rc != 0 or run.changed != 0]
    assert not not_idle, "\n".join(not_idle)
    stack.report.check(f"first run of {len(stack.first)} steps rc 0; second run rc 0 and changed=0 (app logs in again)")


# ------------------------------------------------------------------------------ registry login
def test_private_image_pulls_only_after_the_deploys_login(shop: Shop) -> None:
    stack = shop.stack
    anonymous = shop.anonymous_pull
    assert anonymous is not None and anonymous.returncode != 0, anonymous
    assert "no basic auth credentials" in anonymous.stdout + anonymous.stderr, anonymous
    assert stack.sudo(f"curl -s -o /dev/null -w '%{{http_code}}' http://{images.PRIVATE_REGISTRY}/v2/").strip() == "401"
    # The running api is the private image, pulled by the deploy with the reader's login.
    image = stack.sudo(f"docker inspect -f '{{{{.Config.Image}}}}' {stack.container_ids()['api']}").strip()
    assert image == f"{SHOP_IMAGE}:1.0"
    # The registry logs `authorized request` only for a request with valid credentials (logrus quotes a value
    # only when it needs to); compose's user agent names it. The CI user's config was deleted after the push,
    # so root's docker config is the only login in the host.
    pulls = stack.sudo(
        f"journalctl --no-pager -o cat -u {images.PRIVATE_REGISTRY_UNIT} | grep -F 'msg=\"authorized request\"' "
        "| grep -E 'http\\.request\\.uri=\"?/v2/acme/shop/manifests/1\\.0\"? ' | grep -c -F 'UpstreamClient(compose/' || true"
    ).strip()
    assert int(pulls) >= 1, stack.sudo(f"journalctl --no-pager -o cat -u {images.PRIVATE_REGISTRY_UNIT} | tail -n 20")
    # The login lives in root's docker config only, and it is the reader's.
    modes = stack.sudo(f"stat -c '%a %U' {DOCKER_CONFIG_DIR} {DOCKER_CONFIG_DIR}/config.json").split("\n")
    assert modes[:2] == ["700 root", "600 root"], modes
    auth = json.loads(stack.sudo(f"cat {DOCKER_CONFIG_DIR}/config.json"))["auths"][images.PRIVATE_REGISTRY]["auth"]
    assert auth == token_forms()["docker auth (base64 user:token)"], "config.json holds another login"
    # Still no anonymous pull after the deploy: the registry decides, not a cached image.
    again = stack.root(f"docker --config {ANONYMOUS_CONFIG} pull {SHOP_IMAGE}:1.0")
    assert again.rc != 0 and "no basic auth credentials" in again.stdout + again.stderr, again
    stack.report.check(
        f"{SHOP_IMAGE}:1.0 behind htpasswd: anonymous pull refused before and after the deploy ('no basic auth credentials', "
        f"/v2/ 401); compose pulled it after the deploy's `docker login --password-stdin` ({pulls} authorized manifest "
        f"requests from compose in the registry log); {DOCKER_CONFIG_DIR} 0700, config.json 0600 root with {REGISTRY_USER}'s login"
    )


def test_registry_token_never_in_argv_output_or_journal(shop: Shop) -> None:
    stack = shop.stack
    forms = token_forms()
    outputs = "".join(run.stdout + run.stderr for run in (*stack.first, *stack.second))
    in_output = [label for label, value in forms.items() if value in outputs]
    assert not in_output, f"in the step output: {in_output}"
    hits = shop.sampler_hits
    assert hits.get("canary-argv", 0) > 0 and hits.get("canary-env", 0) > 0, f"the sampler missed its canaries: {hits}"
    in_processes = {label: count for label, count in hits.items() if label in forms and count}
    assert not in_processes, f"seen in a process's argv or environment: {in_processes}"
    # -o verbose: every field, including each entry's _CMDLINE.
    in_journal = count_matches(stack.host, "journalctl --no-pager -o verbose", list(forms.values()))
    assert in_journal == 0, f"{in_journal} journal lines hold the token"
    stack.report.check(
        f"registry token ({len(forms)} forms) not in the output of {len(stack.first) + len(stack.second)} step runs, not in "
        f"any argv/environment over {shop.sampler_rounds} samples of every process during both deploys (canaries seen "
        f"{hits.get('canary-argv')}/{hits.get('canary-env')} times), not in the journal (-o verbose)"
    )


def test_wrong_token_stops_the_deploy_at_the_login(shop: Shop) -> None:
    stack = shop.stack
    current = stack.current()
    wrong = "ghp_wrongToken" + secrets.token_hex(8)
    config = validate_config(shop_values(shop.admin_key.public_line, f"{stack.host.host_ip}/32"))
    step = app_step(config, SERVER, HostRuntime(private_ip=None), {**SHOP_SECRETS, "REGISTRY_TOKEN": wrong})
    run = run_steps(stack.host, [step], stack.report)[0]
    assert run.rc != 0, run.describe()
    assert f"docker login to {images.PRIVATE_REGISTRY} as {REGISTRY_USER} failed" in run.stdout + run.stderr, run.describe()
    assert wrong not in run.stdout + run.stderr and base64.b64encode(wrong.encode()).decode() not in run.stdout + run.stderr
    assert stack.current() == current
    assert curl(stack.host, f"https://{DOMAIN}/version").body.strip() == "1.0"
    stack.report.check(f"wrong registry token: app step rc {run.rc} at the login, token not echoed, release {current} still current")


# --------------------------------------------------------------------------- hosts + redirect
@dataclass(frozen=True)
class Answer:
    status: int
    location: str
    redirects: int
    effective_url: str
    body: str


def curl(host: BootedHost, url: str, follow: bool = False) -> Answer:
    """curl on this machine to the host's veth address for every name of the stack (--resolve, ports 80/443)."""
    host.assert_route()
    assert_safe_destination(host.ip)
    names = [fqdn(name) for name in (*SERVED, REDIRECT_FROM)]
    argv = ["curl", "-sS", "-k", "--noproxy", "*", "--proto", "=http,https", "--max-time", "10", "-o", "-",
            "-w", "\n%{http_code} %{num_redirects} %{url_effective} %{redirect_url}"]  # fmt: skip
    argv += [arg for name in names for port in (80, 443) for arg in ("--resolve", f"{name}:{port}:{host.ip}")]
    res = subprocess.run([*argv, *(["-L"] if follow else []), url], capture_output=True, text=True, timeout=30, check=False)
    assert res.returncode == 0, f"curl {url}: rc {res.returncode} {res.stderr}"
    body, _, meta = res.stdout.rpartition("\n")
    status, redirects, effective, *location = meta.split(" ")
    return Answer(int(status), "".join(location), int(redirects), effective, body)


def certificate_cn(host: BootedHost, name: str) -> str:
    """The CN of the certificate the proxy presents for SNI ``name`` (nginx's bootstrap certificate here)."""
    host.assert_route()
    assert_safe_destination(host.ip)
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection((host.ip, 443), timeout=5) as raw, context.wrap_socket(raw, server_hostname=name) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return str(x509.load_der_x509_certificate(der).subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def test_every_host_served_and_the_redirect_keeps_path_and_query(shop: Shop) -> None:
    if shutil.which("curl") is None:
        skip_or_fail("curl is needed on this machine for the redirect checks")
    host = shop.stack.host
    served = {fqdn(name): curl(host, f"https://{fqdn(name)}/version") for name in SERVED}
    assert {name: (answer.status, answer.body.strip()) for name, answer in served.items()} == {
        fqdn(name): (200, "1.0") for name in SERVED
    }, served
    source, target = fqdn(REDIRECT_FROM), fqdn("@")
    path = "/some/deep/path?q=a%20b&x=1"
    moved = curl(host, f"https://{source}{path}")
    assert (moved.status, moved.location) == (301, f"https://{target}{path}"), moved
    # From plain HTTP on the old name to the app: HTTPS first, then the redirect, path and query intact.
    followed = curl(host, f"http://{source}/version?from=www", follow=True)
    assert (followed.status, followed.redirects, followed.effective_url, followed.body.strip()) == (
        200, 2, f"https://{target}/version?from=www", "1.0"
    ), followed  # fmt: skip
    names = [fqdn(name) for name in (*SERVED, REDIRECT_FROM)]
    cns = {name: certificate_cn(host, name) for name in names}
    assert cns == {name: name for name in names}, cns
    shop.stack.report.check(
        f"GET /version at {', '.join(served)} -> 200 1.0; https://{source}{path} -> 301 {moved.location}; "
        f"http://{source}/version?from=www -L -> {followed.redirects} redirects -> {followed.effective_url} 200; "
        f"a certificate per name (CN {sorted(set(cns.values()))}); curl --resolve to {host.ip} after assert_route"
    )


# ------------------------------------------------------------------------------------- jobs
def test_job_timers_are_installed_by_the_ops_step(shop: Shop) -> None:
    stack = shop.stack
    timers = [f"{job_unit_name(name)}.timer" for name in JOBS]
    states = stack.sudo(f"systemctl is-enabled {' '.join(timers)}; systemctl is-active {' '.join(timers)}").split()
    assert states == ["enabled"] * len(JOBS) + ["active"] * len(JOBS), states
    listed = stack.sudo("systemctl list-timers --all --no-legend --no-pager")
    assert all(timer in listed for timer in timers), listed
    calendars = {name: stack.sudo(f"systemctl show -p TimersCalendar --value {job_unit_name(name)}.timer").strip() for name in JOBS}
    assert all(JOBS[name]["schedule"] in calendar for name, calendar in calendars.items()), calendars
    stack.report.check(f"{len(timers)} job timers enabled and active, each with its OnCalendar ({', '.join(timers)})")


def test_job_runs_a_one_off_container_of_the_live_release(shop: Shop) -> None:
    stack = shop.stack
    started = time.monotonic()
    rc, props, journal = shop.job("report")
    seconds = round(time.monotonic() - started, 1)
    assert (rc, props) == (0, {"Result": "success", "ExecMainStatus": "0"}), f"{rc} {props}\n{journal}"
    lines = [line for line in journal.splitlines() if line.startswith("report: ")]
    assert lines and lines[-1] == f"report: image 1.0, live api 1.0, greeting {GREETING}, jwt set", journal
    assert job_unit_name("report") not in shop.container_names(), "the one-off container was not removed"
    assert stack.sudo(f"systemctl show -p Result --value {job_unit_name('report')}.service").strip() == "success"
    stack.report.lines.append(f"job report: {seconds} s for `systemctl start` (compose run --rm of api)")
    stack.report.check(f"job report ({seconds} s): rc 0, journal '{lines[-1]}', container removed")


def test_failing_job_reaches_the_alert_webhook(shop: Shop) -> None:
    stack, sink = shop.stack, shop.sink
    assert sink is not None
    unit = f"{job_unit_name('broken')}.service"
    started = time.monotonic()
    rc, props, journal = shop.job("broken")
    assert rc != 0 and props == {"Result": "exit-code", "ExecMainStatus": "3"}, f"{rc} {props}\n{journal}"
    assert "broken: the report server is unreachable" in journal
    alert = sink.wait_for(f"unit:{unit}")
    assert alert["severity"] == "critical" and alert["status"] == "firing", alert
    assert alert["summary"] == f"{unit} failed" and "the report server is unreachable" in str(alert["details"]), alert
    stack.report.check(
        f"job broken: exit 3 -> Result=exit-code; OnFailure=hp-alert@ posted '{alert['summary']}' (critical, with the job's "
        f"output) to the webhook within {time.monotonic() - started:.1f} s of `systemctl start`"
    )


def test_job_past_its_timeout_is_stopped_alerted_and_cleaned_up(shop: Shop) -> None:
    stack, sink = shop.stack, shop.sink
    assert sink is not None
    name = job_unit_name("slow")
    started = time.monotonic()
    rc, props, journal = shop.job("slow")
    seconds = round(time.monotonic() - started, 1)
    assert rc != 0 and props["Result"] == "timeout", f"{rc} {props}\n{journal}"
    assert seconds < 60, f"the 5 s timeout took {seconds} s"
    assert name not in shop.container_names(), "the timed-out container is still there"
    alert = sink.wait_for(f"unit:{name}.service")
    assert alert["summary"] == f"{name}.service failed", alert
    stack.report.check(f"job slow (timeout 5s, sleep 300): stopped after {seconds} s, Result=timeout, container removed, alert sent")


# ---------------------------------------------------------------------------- a new release
def test_new_release_is_pulled_served_and_used_by_the_job(shop: Shop) -> None:
    stack = shop.stack
    config = validate_config(shop_values(shop.admin_key.public_line, f"{stack.host.host_ip}/32", release="1.1"))
    assert config.app.services["api"].image == f"{SHOP_IMAGE}:1.1"
    run = stack.app(config)
    assert run.rc == 0 and run.changed == 1, run.describe()
    served = {fqdn(name): curl(stack.host, f"https://{fqdn(name)}/version").body.strip() for name in SERVED}
    assert served == {fqdn(name): "1.1" for name in SERVED}, served
    rc, props, journal = shop.job("report")
    assert rc == 0, f"{props}\n{journal}"
    last = [line for line in journal.splitlines() if line.startswith("report: ")][-1]
    assert last == f"report: image 1.1, live api 1.1, greeting {GREETING}, jwt set", journal
    stack.report.check(f"app.release 1.1: deploy ({run.seconds} s) pulled {SHOP_IMAGE}:1.1, both names serve 1.1, the job runs 1.1")
