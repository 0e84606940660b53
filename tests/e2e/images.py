"""Stand-in images for the real-Docker e2e host, built inside the booted host from local files.

Docker Hub and the images' own registries are out of reach here, so each image is made from binaries
this machine already has (scripts/setup installs them) and the static busybox of the cached rootfs:

| image | what it is | interface it keeps from the official image |
|---|---|---|
| web | busybox httpd on :8000 serving /version and /health | the app stand-in for api and worker |
| postgres | this machine's PostgreSQL 15 (+ libraries) | POSTGRES_USER/DB/PASSWORD/HOST_AUTH_METHOD, `postgres` CMD, pg_isready |
| redis | this machine's redis-server and redis-cli | `redis-server <conf>`, `redis-cli ping` |
| nginx | this machine's nginx 1.22 and procps pgrep | /etc/nginx/conf.d/*.conf included, `nginx` user, sh/pgrep/find |
| node-exporter | this machine's prometheus-node-exporter 1.5 (Debian) | the binary as ENTRYPOINT, flags as arguments |

Each is a `FROM scratch` Dockerfile context streamed as a tar into `docker build -` inside the host,
tagged for the host's own registry (Debian's docker-registry on 127.0.0.1:5000), pushed, and then
removed from the engine, so the deploy's `docker compose pull` really fetches it.

`start_private_registry` runs a second docker-registry on 127.0.0.1:5001 that requires a login, and
`publish_private` copies a stand-in there as a CI job would (test_app_features_docker.py, app.registries).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import bcrypt

from .container import BootedHost

REGISTRY = "127.0.0.1:5000"
NAMESPACE = "hpe2e"
PG_VERSION = "15"
NODE_EXPORTER_VERSION = "1.5"
PG_LIB = Path(f"/usr/lib/postgresql/{PG_VERSION}")
# Machine binaries the images are made of (scripts/setup installs postgresql-15, redis-server, nginx).
MACHINE_BINARIES = (
    PG_LIB / "bin/postgres",
    Path("/usr/bin/redis-server"),
    Path("/usr/bin/redis-cli"),
    Path("/usr/sbin/nginx"),
    Path("/usr/bin/pgrep"),
    Path("/usr/bin/prometheus-node-exporter"),
)
# A second registry in the host that requires a login (htpasswd), for app.registries: a private image.
PRIVATE_REGISTRY = "127.0.0.1:5001"
PRIVATE_REGISTRY_UNIT = "hp-e2e-private-registry"
PRIVATE_REGISTRY_DIR = "/var/lib/hp-e2e-private-registry"
PRIVATE_REGISTRY_CONFIG = "/etc/docker/registry/hp-e2e-private.yml"
PRIVATE_HTPASSWD = "/etc/docker/registry/hp-e2e-private.htpasswd"
REGISTRY_BINARY = "/usr/bin/docker-registry"  # Debian's docker-registry (distribution 2.8)


def registry_config(addr: str, rootdir: str, htpasswd: str | None = None) -> str:
    """A docker-registry config.yml on loopback only, open or (with ``htpasswd``) behind basic auth.

    distribution's `auth.htpasswd` takes a realm and an htpasswd file with bcrypt entries only:
    https://github.com/distribution/distribution/blob/5fe693474eb91a07d928b45477898ecf7a612582/docs/configuration.md#htpasswd
    """
    auth = f"auth:\n  htpasswd:\n    realm: hp-e2e-private\n    path: {htpasswd}\n" if htpasswd else ""
    return (
        "# Written by the hetzner-platform e2e harness (tests/e2e/images.py).\n"
        f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {rootdir}\nhttp:\n  addr: {addr}\n{auth}"
    )


# The stand-in images' registry: Debian's docker-registry, without its htpasswd section.
REGISTRY_CONFIG = registry_config(REGISTRY, "/var/lib/docker-registry")


def ref(name: str, tag: str) -> str:
    return f"{REGISTRY}/{NAMESPACE}/{name}:{tag}"


# ------------------------------------------------------------------------------ contexts
class Context:
    """A Dockerfile context assembled in memory as a tar (paths relative to the context root)."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buffer, mode="w")  # noqa: SIM115 (closed by bytes())
        self.names: set[str] = set()

    def text(self, path: str, content: str, mode: int = 0o644) -> None:
        data = content.encode()
        info = tarfile.TarInfo(path)
        info.size, info.mode, info.mtime = len(data), mode, 0
        self._add(info, io.BytesIO(data))

    def directory(self, path: str, mode: int = 0o755) -> None:
        info = tarfile.TarInfo(path)
        info.type, info.mode, info.mtime = tarfile.DIRTYPE, mode, 0
        self._add(info, None)

    def file(self, path: str, source: Path, mode: int | None = None) -> None:
        """``source`` (symlinks followed) at ``path``."""
        info = self.tar.gettarinfo(str(source.resolve()), arcname=path)
        info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
        if mode is not None:
            info.mode = mode
        with open(source, "rb") as fh:
            self._add(info, fh)

    def tree(self, path: str, source: Path, skip: Iterable[str] = ()) -> None:
        """The directory ``source`` at ``path``, symlinks kept, entries named in ``skip`` left out."""
        skipped = set(skip)
        for item in sorted(source.rglob("*")):
            rel = item.relative_to(source)
            if skipped & set(rel.parts):
                continue
            arcname = f"{path}/{rel}"
            if item.is_symlink():
                info = tarfile.TarInfo(arcname)
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, str(item.readlink()), 0o777
                self._add(info, None)
            elif item.is_file():
                self.file(arcname, item)

    def libraries(self, binaries: Iterable[Path]) -> None:
        """Every shared library ldd names for ``binaries``, at its own path, plus the dynamic loader."""
        paths = {Path("/lib64/ld-linux-x86-64.so.2")}
        for binary in binaries:
            out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False).stdout
            for line in out.splitlines():
                parts = line.split()
                if len(parts) >= 3 and parts[1] == "=>" and parts[2].startswith("/"):
                    paths.add(Path(parts[2]))
        for path in sorted(paths):
            self.file("rootfs" + str(path), path)

    def _add(self, info: tarfile.TarInfo, fileobj: io.IOBase | io.BufferedReader | None) -> None:
        if info.name in self.names:
            return
        self.names.add(info.name)
        self.tar.addfile(info, fileobj)

    def bytes(self) -> bytes:
        self.tar.close()
        return self.buffer.getvalue()


def _base(busybox: Path, users: str = "") -> Context:
    """A context whose rootfs/ has busybox as /bin/sh and friends, /etc/passwd and /tmp."""
    ctx = Context()
    ctx.file("rootfs/bin/busybox", busybox, mode=0o755)
    ctx.text("rootfs/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n" + users)
    ctx.text("rootfs/etc/group", "root:x:0:\n" + "".join(f"{line.split(':')[0]}:x:{line.split(':')[3]}:\n" for line in users.splitlines()))
    ctx.text("rootfs/etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n")
    ctx.directory("rootfs/tmp", 0o1777)
    return ctx


# The busybox applets are linked at build time (RUN busybox --install), after the COPY.
_INSTALL_BUSYBOX = 'RUN ["/bin/busybox", "--install", "-s", "/bin"]'


def web_context(busybox: Path, version: str, healthy: bool) -> bytes:
    """The app: GET /version answers the version; GET /health answers only in a healthy release."""
    ctx = _base(busybox)
    ctx.text("rootfs/www/version", f"{version}\n")
    ctx.text("rootfs/www/index.html", f"<h1>hetzner-platform e2e app {version}</h1>\n")
    if healthy:
        ctx.text("rootfs/www/health", f'{{"status": "ok", "version": "{version}"}}\n')
    # Migrations: a one-off container of this image (`compose run api migrate`) that sees the database.
    ctx.text("rootfs/bin/migrate", '#!/bin/sh\nset -eu\n: "${DATABASE_URL:?}"\necho "migrations: schema is current (stand-in)"\n', 0o755)
    ctx.text(
        "Dockerfile",
        "FROM scratch\nCOPY rootfs/ /\n" + _INSTALL_BUSYBOX + '\nEXPOSE 8000\nCMD ["httpd", "-f", "-p", "8000", "-h", "/www"]\n',
    )
    return ctx.bytes()


PG_ENTRYPOINT = """\
#!/bin/sh
# The official postgres image's contract, reduced: POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB and
# POSTGRES_HOST_AUTH_METHOD on the first start of an empty data directory; then exec the command.
set -eu
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /run/postgresql
  chown -R postgres:postgres "$PGDATA" /run/postgresql
  chmod 700 "$PGDATA"
  # Options before the user and "--" before the arguments: busybox su would read a later "-c" as its own.
  exec su -p -s /bin/sh -c 'exec /usr/local/bin/docker-entrypoint.sh "$@"' postgres -- sh "$@"
fi
if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
  # As the official image's file_env: the password from a file (a swarm secret), read as postgres.
  POSTGRES_PASSWORD=$(cat "$POSTGRES_PASSWORD_FILE")
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  user=${POSTGRES_USER:-postgres}
  method=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
  if [ "$method" = trust ]; then
    initdb -D "$PGDATA" -U "$user" --auth-local=trust --auth-host=trust -E UTF8 --locale=C >/dev/null
  else
    printf '%s\\n' "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is not set}" >/tmp/pwfile
    initdb -D "$PGDATA" -U "$user" --pwfile=/tmp/pwfile --auth-local=trust --auth-host="$method" -E UTF8 --locale=C >/dev/null
    rm -f /tmp/pwfile
  fi
  echo "host all all all $method" >>"$PGDATA/pg_hba.conf"
  db=${POSTGRES_DB:-$user}
  if [ "$db" != postgres ]; then
    postgres --single -D "$PGDATA" -j postgres >/dev/null <<SQL
CREATE DATABASE "$db" OWNER "$user";
SQL
  fi
  echo "docker-entrypoint: initialised $PGDATA (user $user, database $db)"
fi
exec "$@"
"""


def postgres_context(busybox: Path) -> bytes:
    ctx = _base(busybox, users="postgres:x:999:999::/var/lib/postgresql:/bin/sh\n")
    ctx.tree(f"rootfs{PG_LIB}/bin", PG_LIB / "bin")
    ctx.tree(f"rootfs{PG_LIB}/lib", PG_LIB / "lib", skip=("bitcode", "pgxs", "llvmjit.so", "llvmjit_types.bc"))
    ctx.tree(f"rootfs/usr/share/postgresql/{PG_VERSION}", Path(f"/usr/share/postgresql/{PG_VERSION}"))
    ctx.tree("rootfs/usr/share/zoneinfo", Path("/usr/share/zoneinfo"))
    binaries = [p for p in (PG_LIB / "bin").iterdir() if p.is_file()] + [
        p for p in (PG_LIB / "lib").glob("*.so") if "llvmjit" not in p.name
    ]
    ctx.libraries(binaries)
    ctx.text("rootfs/usr/local/bin/docker-entrypoint.sh", PG_ENTRYPOINT, 0o755)
    ctx.text(
        "Dockerfile",
        "FROM scratch\nCOPY rootfs/ /\n" + _INSTALL_BUSYBOX + "\n"
        "RUN mkdir -p /var /run/postgresql /var/lib/postgresql && ln -s /run /var/run\n"
        f"ENV PATH={PG_LIB}/bin:/bin PGDATA=/var/lib/postgresql/data\n"
        "VOLUME /var/lib/postgresql/data\n"
        'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]\n'
        "STOPSIGNAL SIGINT\nEXPOSE 5432\n"
        'CMD ["postgres"]\n',
    )
    return ctx.bytes()


def redis_context(busybox: Path) -> bytes:
    ctx = _base(busybox)
    binaries = [Path("/usr/bin/redis-server"), Path("/usr/bin/redis-cli")]
    for binary in binaries:
        ctx.file(f"rootfs/usr/local/bin/{binary.name}", binary, mode=0o755)
    ctx.libraries(binaries)
    ctx.text("rootfs/data/.keep", "")
    ctx.text(
        "Dockerfile",
        "FROM scratch\nCOPY rootfs/ /\n" + _INSTALL_BUSYBOX + "\n"
        "ENV PATH=/usr/local/bin:/bin\nWORKDIR /data\nEXPOSE 6379\n"
        'CMD ["redis-server"]\n',
    )
    return ctx.bytes()


NGINX_CONF = """\
# nginx.conf of the e2e stand-in for nginx:*-alpine: the rendered site comes in as conf.d/default.conf.
user nginx;
worker_processes 1;
error_log stderr notice;
pid /run/nginx.pid;
events { worker_connections 512; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log /dev/stdout;
    include /etc/nginx/conf.d/*.conf;
}
"""


def nginx_context(busybox: Path) -> bytes:
    ctx = _base(busybox, users="nginx:x:101:101::/var/lib/nginx:/bin/false\n")
    ctx.file("rootfs/usr/sbin/nginx", Path("/usr/sbin/nginx"), mode=0o755)
    # The rendered healthcheck runs `pgrep -x nginx`; Debian's busybox has no pgrep applet (Alpine's has).
    ctx.file("rootfs/usr/bin/pgrep", Path("/usr/bin/pgrep"), mode=0o755)
    ctx.libraries([Path("/usr/sbin/nginx"), Path("/usr/bin/pgrep")])
    ctx.file("rootfs/etc/nginx/mime.types", Path("/etc/nginx/mime.types"))
    ctx.text("rootfs/etc/nginx/nginx.conf", NGINX_CONF)
    for directory in ("var/lib/nginx/body", "var/log/nginx", "etc/nginx/conf.d", "run"):
        ctx.text(f"rootfs/{directory}/.keep", "")
    ctx.text(
        "Dockerfile",
        "FROM scratch\nCOPY rootfs/ /\n" + _INSTALL_BUSYBOX + '\nSTOPSIGNAL SIGQUIT\nEXPOSE 80 443\nCMD ["nginx", "-g", "daemon off;"]\n',
    )
    return ctx.bytes()


def node_exporter_context() -> bytes:
    """The real node exporter (Debian's build), so the ops step's unit runs what it runs on a server."""
    ctx = Context()
    binary = Path("/usr/bin/prometheus-node-exporter")
    ctx.file("rootfs/bin/node_exporter", binary, mode=0o755)
    ctx.libraries([binary])
    ctx.text("rootfs/etc/passwd", "root:x:0:0:root:/root:/bin/false\nnobody:x:65534:65534::/:/bin/false\n")
    ctx.text("Dockerfile", 'FROM scratch\nCOPY rootfs/ /\nEXPOSE 9100\nENTRYPOINT ["/bin/node_exporter"]\n')
    return ctx.bytes()


# ------------------------------------------------------------------------------ build + publish
@dataclass(frozen=True)
class StandIns:
    web: str
    web_next: str
    web_broken: str
    postgres: str
    redis: str
    nginx: str
    node_exporter: str
    seconds: dict[str, float]
    sizes: dict[str, str]


def missing_machine_binaries() -> list[str]:
    return [str(path) for path in MACHINE_BINARIES if not path.exists()] + [tool for tool in ("ldd",) if shutil.which(tool) is None]


def _run(host: BootedHost, argv: list[str], data: bytes | None = None, timeout: float = 300.0) -> str:
    res = host.pipe(argv, data or b"", timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)}: rc {res.returncode}\n{res.stdout.decode(errors='replace')}{res.stderr.decode(errors='replace')}"
        )
    return res.stdout.decode()


def start_registry(host: BootedHost) -> None:
    """Debian's docker-registry on 127.0.0.1:5000 inside the host, without authentication."""
    _run(host, ["sh", "-c", "cat >/etc/docker/registry/config.yml && systemctl restart docker-registry"], REGISTRY_CONFIG.encode())
    _wait_for_registry(host, REGISTRY, "200")


def _wait_for_registry(host: BootedHost, addr: str, status: str) -> None:
    deadline = time.monotonic() + 30
    while _run(host, ["sh", "-c", f"curl -s -o /dev/null -w '%{{http_code}}' http://{addr}/v2/ || true"]).strip() != status:
        if time.monotonic() > deadline:
            raise RuntimeError(f"docker-registry did not answer {status} on {addr}")
        time.sleep(0.2)


def start_private_registry(host: BootedHost, users: dict[str, str]) -> None:
    """A second docker-registry on PRIVATE_REGISTRY that answers only ``users`` (name -> password).

    The htpasswd lines are bcrypt hashes made here (bcrypt comes with paramiko); the passwords never
    reach the host. `/v2/` then answers 401 to an anonymous client.
    """
    htpasswd = "".join(
        f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()}\n" for user, password in users.items()
    )
    config = registry_config(PRIVATE_REGISTRY, PRIVATE_REGISTRY_DIR, PRIVATE_HTPASSWD)
    _run(host, ["sh", "-c", f"umask 077 && cat >{PRIVATE_HTPASSWD} && chown docker-registry {PRIVATE_HTPASSWD}"], htpasswd.encode())
    _run(host, ["sh", "-c", f"cat >{PRIVATE_REGISTRY_CONFIG} && install -d -o docker-registry {PRIVATE_REGISTRY_DIR}"], config.encode())
    _run(host, [
        "systemd-run", f"--unit={PRIVATE_REGISTRY_UNIT}", "--property=User=docker-registry",
        REGISTRY_BINARY, "serve", PRIVATE_REGISTRY_CONFIG,
    ])  # fmt: skip
    _wait_for_registry(host, PRIVATE_REGISTRY, "401")


def publish_private(host: BootedHost, source: str, target: str, user: str, password: str) -> None:
    """Copy ``source`` (a stand-in on the open registry) to ``target`` on the private registry as a CI job
    would: log in with its own throwaway docker config (password on stdin), push, log out, drop the
    local copies, so only a client that logs in can pull ``target`` again."""
    ci_config = "/root/.hp-e2e-ci-docker"
    _run(host, ["sh", "-c", f"docker pull -q {source} && docker tag {source} {target}"])
    _run(host, ["docker", "--config", ci_config, "login", "--username", user, "--password-stdin", PRIVATE_REGISTRY], password.encode())
    try:
        _run(host, ["docker", "--config", ci_config, "push", "-q", target])
    finally:
        _run(host, ["sh", "-c", f"docker --config {ci_config} logout {PRIVATE_REGISTRY} >/dev/null; rm -rf {ci_config}"])
    _run(host, ["docker", "image", "rm", target, source])


def build_and_push(host: BootedHost, busybox: Path) -> StandIns:
    """Build every stand-in inside ``host``, push it to the host's registry and drop the local copy."""
    images = {
        "web": (ref("web", "1.0"), lambda: web_context(busybox, "1.0", healthy=True)),
        "web_next": (ref("web", "1.1"), lambda: web_context(busybox, "1.1", healthy=True)),
        "web_broken": (ref("web", "2.0-broken"), lambda: web_context(busybox, "2.0-broken", healthy=False)),
        "postgres": (ref("postgres", PG_VERSION), lambda: postgres_context(busybox)),
        "redis": (ref("redis", "7"), lambda: redis_context(busybox)),
        "nginx": (ref("nginx", "1.22"), lambda: nginx_context(busybox)),
        "node_exporter": (ref("node-exporter", NODE_EXPORTER_VERSION), node_exporter_context),
    }
    seconds: dict[str, float] = {}
    sizes: dict[str, str] = {}
    for key, (tag, context) in images.items():
        started = time.monotonic()
        _run(host, ["docker", "build", "-q", "-t", tag, "-"], context())
        sizes[key] = _run(host, ["docker", "image", "inspect", "-f", "{{.Size}}", tag]).strip()
        _run(host, ["docker", "push", "-q", tag])
        _run(host, ["docker", "image", "rm", tag])
        seconds[key] = round(time.monotonic() - started, 2)
    return StandIns(**{key: tag for key, (tag, _) in images.items()}, seconds=seconds, sizes=sizes)
