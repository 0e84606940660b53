"""Fixtures for the ops tests: rendered scripts, a real local PostgreSQL 15, a loopback webhook.

Everything runs on this machine against 127.0.0.1 only. Processes started here (PostgreSQL,
openssl s_server, redis-server) are stopped by their PID. A missing tool skips the test with the
reason, except under CI=true, where it fails (tests/prerequisites.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from config.schema import StackConfig
from render.ops_conf import render_script
from spec.host_paths import SCRIPTS
from tests.clock import clock_env
from tests.prerequisites import require_tool, skip_or_fail
from tests.stacks import OPS_STACK, variant

OPS_DIR = Path(__file__).resolve().parent
HELPERS = OPS_DIR / "helpers"
PG_BIN_CANDIDATES = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if OPS_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.ops)


def pg_bin() -> str:
    for candidate in PG_BIN_CANDIDATES:
        if Path(candidate, "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    if found:
        return str(Path(found).parent)
    skip_or_fail("PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql-15")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sample_config(**ops: Any) -> StackConfig:
    """OPS_STACK (tests/stacks.py) with these ops settings."""
    return StackConfig.model_validate(variant(OPS_STACK, ops=ops))


@pytest.fixture(scope="session")
def script_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rendered hp-* scripts, executable, as the host receives them."""
    directory = tmp_path_factory.mktemp("hp-sbin")
    for name in SCRIPTS:
        path = directory / name
        path.write_text(render_script(name))
        path.chmod(0o755)
    return directory


@pytest.fixture
def base_env(script_dir: Path, tmp_path: Path) -> dict[str, str]:
    """Environment for running a script outside any host: no system files read or written."""
    require_tool("bash", "jq", "flock", "sha256sum")
    state = tmp_path / "state"
    state.mkdir()
    env = {
        "PATH": f"{script_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "HP_CONF": "",
        "HP_ENV_FILE": "",
        "HP_SYSLOG": "0",
        "HP_PROJECT": "chrono",
        "HP_ENVIRONMENT": "test",
        "HP_SERVER": "app",
        "HP_STATE_DIR": str(state),
        "HP_STATE_FILE": str(state / "backup-state.json"),
        "HP_TEXTFILE_DIR": str(tmp_path / "textfile"),
        "HP_BACKUP_DIR": str(tmp_path / "backups"),
        "HP_COMPOSE": "false",
        "HP_ALERT_SEND": str(script_dir / "hp-alert-send"),
        "RESTIC_CACHE_DIR": str(tmp_path / "restic-cache"),
        **clock_env(),
    }
    return env


def run(script: Path | str, *args: str, env: dict[str, str], check: bool = True, timeout: int = 180,
        stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(script), *args], env=env, capture_output=True, text=True, timeout=timeout,
                            input=stdin, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{script} {' '.join(args)} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


# --- PostgreSQL -------------------------------------------------------------------------------
@dataclass
class PgCluster:
    bin_dir: str
    directory: Path
    port: int
    pid: int = 0

    @property
    def conn_args(self) -> str:
        return f"-h 127.0.0.1 -p {self.port} -U postgres"

    def psql(self, sql: str, db: str = "postgres") -> str:
        result = subprocess.run(
            [f"{self.bin_dir}/psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db,
             "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
            capture_output=True, text=True, check=False, timeout=60,
        )
        if result.returncode != 0:
            raise AssertionError(f"psql failed: {result.stderr}")
        return result.stdout.strip()


def _as_postgres() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def start_cluster(bin_dir: str, directory: Path, port: int) -> PgCluster:
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    subprocess.run([*_as_postgres(), f"{bin_dir}/initdb", "-D", str(directory / "data"), "-U", "postgres", "--auth=trust", "--no-sync"],
                   check=True, capture_output=True, timeout=120)
    subprocess.run([*_as_postgres(), f"{bin_dir}/pg_ctl", "-D", str(directory / "data"), "-l", str(directory / "log"),
                    "-w", "-t", "60", "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {directory} -c fsync=off", "start"],
                   check=True, capture_output=True, timeout=120)
    pid = int((directory / "data" / "postmaster.pid").read_text().splitlines()[0])
    return PgCluster(bin_dir=bin_dir, directory=directory, port=port, pid=pid)


def stop_cluster(cluster: PgCluster) -> None:
    if cluster.pid:
        try:
            os.kill(cluster.pid, signal.SIGINT)  # fast shutdown
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(cluster.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.kill(cluster.pid, signal.SIGKILL)


def pg_bin_and_workdir(prefix: str) -> tuple[str, Path]:
    """The PostgreSQL binaries' directory (as root, runuser must be there too) and a new work directory
    others may enter (the server runs as the postgres user)."""
    if os.geteuid() == 0:
        require_tool("runuser")
    bin_dir = pg_bin()
    base = Path(tempfile.mkdtemp(prefix=prefix))
    base.chmod(0o755)
    return bin_dir, base


@pytest.fixture(scope="module")
def pg() -> Iterator[PgCluster]:
    """A real PostgreSQL on 127.0.0.1 (random port) holding the 'app' database with data."""
    bin_dir, base = pg_bin_and_workdir("hp-ops-pg-")
    try:
        cluster = start_cluster(bin_dir, base / "source", free_port())
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise
    try:
        cluster.psql("CREATE DATABASE app")
        cluster.psql("CREATE DATABASE analytics")
        cluster.psql(
            "CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL UNIQUE);"
            "CREATE TABLE orders (id serial PRIMARY KEY, user_id int REFERENCES users(id), total numeric(10,2));"
            "INSERT INTO users (email) SELECT 'user' || g || '@example.com' FROM generate_series(1, 42) g;"
            "INSERT INTO orders (user_id, total) SELECT 1 + g % 42, g * 1.5 FROM generate_series(1, 137) g;",
            db="app",
        )
        cluster.psql("CREATE TABLE events (id bigint, kind text); INSERT INTO events VALUES (1, 'signup'), (2, 'login');",
                     db="analytics")
        yield cluster
    finally:
        stop_cluster(cluster)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[Path]:
    """An empty initdb cluster (not running) that the drill's throwaway servers copy."""
    bin_dir, base = pg_bin_and_workdir("hp-ops-template-")
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    data = base / "data"
    try:
        subprocess.run([*_as_postgres(), f"{bin_dir}/initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync"],
                       check=True, capture_output=True, timeout=120)
        yield data
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_env(base_env: dict[str, str], pg: PgCluster, pg_template: Path) -> Iterator[dict[str, str]]:
    """base_env pointing hp-pg at the local cluster and the drill at a throwaway initdb cluster."""
    throwaway = Path(tempfile.mkdtemp(prefix="hp-ops-drill-"))
    throwaway.chmod(0o755)
    shutil.rmtree(throwaway)  # the helper creates it, owned by postgres
    port = free_port()
    helper = HELPERS / "pg_throwaway.sh"
    env = dict(base_env)
    env.update({
        "PATH": f"{pg.bin_dir}:{env['PATH']}",
        "HP_PG_EXEC": "",
        "HP_PG_ARGS": pg.conn_args,
        "HP_PG_DATABASES": "app analytics",
        "HP_DRILL_EXEC": "",
        "HP_DRILL_ARGS": f"-h 127.0.0.1 -p {port} -U postgres",
        "HP_DRILL_START_CMD": f"{helper} start {throwaway} {port}",
        "HP_DRILL_STOP_CMD": f"{helper} stop {throwaway}",
        "HP_DRILL_TABLES": "users orders events",
        "HP_DRILL_READY_TIMEOUT": "30",
        "HP_TEST_PG_TEMPLATE": str(pg_template),
    })
    try:
        yield env
    finally:
        # The drill stops its server itself; this only catches a run that died half way.
        if throwaway.exists():
            subprocess.run([str(helper), "stop", str(throwaway)], check=False, timeout=60)


# --- loopback webhook -------------------------------------------------------------------------
@dataclass
class Webhook:
    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200

    def clear(self) -> None:
        self.received.clear()

    def alert_keys(self, status: str = "firing") -> list[str]:
        return sorted(str(body["key"]) for body in self.received if body.get("status") == status)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            if self.path == "/hook" and hook.status == 200:
                hook.received.append(json.loads(body))
            self.send_response(hook.status if self.path == "/hook" else 404)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
