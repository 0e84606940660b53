"""Rendered postgresql.conf and redis.conf, loaded by a REAL PostgreSQL 15 and a REAL Redis.

Both servers listen on 127.0.0.1 on a free port, run as their own system users (PostgreSQL refuses
root) and are stopped by PID/ctl at the end of each test. The assertions read the live values back
with SHOW / CONFIG GET; the negative tests prove a wrong or broken file makes them fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from config.app_service import ServiceConfig
from render.postgres import render_postgresql_conf
from render.redis import AUTH_DIR, AUTH_PASSWORD, auth_files, authenticated_healthcheck, render_redis_conf
from render.secret_files import secret_file_content
from tests.prerequisites import require, require_tool, tool_path
from tests.stacks import EXAMPLES, preset_config

PG_BIN = Path("/usr/lib/postgresql/15/bin")

# Seed 000's postgresql.conf, exactly, as PostgreSQL reports it back.
SEED_000_SHOW = {
    "shared_buffers": "1GB",
    "effective_cache_size": "3GB",
    "work_mem": "16MB",
    "maintenance_work_mem": "256MB",
    "checkpoint_completion_target": "0.9",
    "wal_buffers": "16MB",
    "max_wal_size": "2GB",
    "min_wal_size": "1GB",
    "random_page_cost": "1.1",
    "effective_io_concurrency": "200",
    "max_connections": "100",
    "log_min_duration_statement": "1s",
    "shared_preload_libraries": "pg_stat_statements",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def owned_tempdir(user: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"hp-{user}-"))
    os.chmod(path, 0o755)
    shutil.chown(path, user=user, group=user)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def pg_template() -> Iterator[Path]:
    """One initdb per module (--no-sync: throwaway data); each test starts from a copy."""
    require((PG_BIN / "pg_ctl").exists(), "PostgreSQL 15 server binaries are missing (Debian package postgresql-15)")
    require_tool("runuser")
    with owned_tempdir("postgres") as tmp:
        subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "initdb"), "-D", str(tmp / "data"), "-U",
                        "postgres", "--auth=trust", "--no-sync"], check=True, capture_output=True, text=True)
        yield tmp / "data"


@contextmanager
def running_postgres(conf: str, template: Path) -> Iterator[int]:
    with owned_tempdir("postgres") as tmp:
        data = tmp / "data"
        subprocess.run(["cp", "-a", str(template), str(data)], check=True)
        conf_path = tmp / "postgresql.conf"
        conf_path.write_text(conf)
        shutil.chown(conf_path, user="postgres", group="postgres")
        port = free_port()
        options = f"-c config_file={conf_path} -c listen_addresses=127.0.0.1 -p {port} -k {tmp}"
        start = subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(tmp / "log"), "-w",
             "-t", "30", "-o", options, "start"],
            capture_output=True, text=True,
        )
        try:
            if start.returncode != 0:
                log = (tmp / "log").read_text() if (tmp / "log").exists() else ""
                raise RuntimeError(f"postgres did not start: {start.stdout}{start.stderr}{log}")
            yield port
        finally:
            subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast",
                            "-w", "stop"], capture_output=True)


def pg_show(port: int, name: str) -> str:
    return subprocess.run(
        [tool_path("psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-Atc", f"SHOW {name}"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()


def pg_show_all(port: int, names: list[str]) -> dict[str, str]:
    """current_setting() reports exactly what SHOW does; one psql call for all names."""
    query = "SELECT " + ", ".join(f"current_setting('{name}')" for name in names)
    out = subprocess.run(
        [tool_path("psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-AtF", "\t", "-c", query],
        check=True, capture_output=True, text=True,
    ).stdout.rstrip("\n")
    return dict(zip(names, out.split("\t"), strict=True))


def assert_pg(port: int, expected: dict[str, str]) -> None:
    assert pg_show_all(port, list(expected)) == expected


@contextmanager
def running_redis(conf: str, auth: dict[str, str] | None = None, password: str | None = None) -> Iterator[int]:
    """`auth`: file name -> content, written into the temp dir (0400, owned by redis); the conf's paths
    under render.redis.AUTH_DIR are pointed there."""
    require_tool("redis-server")
    with owned_tempdir("redis") as tmp:
        for name, content in (auth or {}).items():
            path = tmp / "auth" / name
            path.parent.mkdir(exist_ok=True)
            path.write_text(content)
            path.chmod(0o400)
            shutil.chown(path, user="redis", group="redis")
        conf = conf.replace(AUTH_DIR, str(tmp / "auth"))
        conf_path = tmp / "redis.conf"
        conf_path.write_text(conf)
        shutil.chown(conf_path, user="redis", group="redis")
        port = free_port()
        start = subprocess.run(
            ["runuser", "-u", "redis", "--", "redis-server", str(conf_path), "--bind", "127.0.0.1", "--port", str(port),
             "--dir", str(tmp), "--daemonize", "yes", "--pidfile", str(tmp / "redis.pid"), "--logfile", str(tmp / "redis.log")],
            capture_output=True, text=True,
        )
        if start.returncode != 0:
            raise RuntimeError(f"redis did not start: {start.stdout}{start.stderr}")
        try:
            env = {"PATH": "/usr/bin:/bin", "REDISCLI_AUTH": password} if password else None
            for _ in range(100):
                ping = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True, env=env)
                if ping.stdout.strip() == "PONG":
                    break
            else:
                raise RuntimeError("redis did not answer PING")
            yield port
        finally:
            subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True, env=env)


def redis_get(port: int, name: str) -> str:
    out = subprocess.run(["redis-cli", "-p", str(port), "CONFIG", "GET", name], check=True, capture_output=True, text=True)
    lines = out.stdout.splitlines()
    return lines[1] if len(lines) > 1 else ""


def redis_settings(port: int, *names: str) -> dict[str, str]:
    return {name: redis_get(port, name) for name in names}


def service(preset: str, name: str) -> ServiceConfig:
    return preset_config(EXAMPLES / preset).app.services[name]


def test_seed_000_postgres_conf_is_exactly_the_seed(pg_template: Path) -> None:
    conf = render_postgresql_conf("postgres", service("Pulumi.fastapi-celery.yaml", "postgres"))
    with running_postgres(conf, pg_template) as port:
        assert_pg(port, SEED_000_SHOW)
        assert pg_show(port, "listen_addresses") == "127.0.0.1"  # the test's override wins over '*'


def test_postgres_scales_with_its_memory_limit(pg_template: Path) -> None:
    small = ServiceConfig.model_validate({
        "image": "postgres:15-alpine", "limits": {"cpus": 1, "memory": "1.5G"}, "configFiles": {"kind": "postgres", "maxConnections": 50},
    })
    with running_postgres(render_postgresql_conf("pg", small), pg_template) as port:
        assert_pg(port, {
            "shared_buffers": "384MB", "effective_cache_size": "1152MB", "work_mem": "6MB",
            "maintenance_work_mem": "96MB", "wal_buffers": "12MB", "max_connections": "50",
        })


def test_a_wrong_expectation_fails_the_postgres_check(pg_template: Path) -> None:
    conf = render_postgresql_conf("postgres", service("Pulumi.fastapi-celery.yaml", "postgres"))
    wrong = conf.replace("shared_buffers = 1GB", "shared_buffers = 512MB")
    with running_postgres(wrong, pg_template) as port, pytest.raises(AssertionError):
        assert_pg(port, SEED_000_SHOW)


def test_a_broken_postgres_conf_does_not_start(pg_template: Path) -> None:
    conf = render_postgresql_conf("postgres", service("Pulumi.fastapi-celery.yaml", "postgres"))
    broken = conf.replace("= 1GB", "= 1GBx", 1)
    with pytest.raises(RuntimeError, match="invalid value for parameter"), running_postgres(broken, pg_template):
        pass


def test_seed_000_redis_lru_with_rdb_snapshots() -> None:
    conf = render_redis_conf("redis", service("Pulumi.fastapi-celery.yaml", "redis"))
    with running_redis(conf) as port:
        settings = redis_settings(port, "maxmemory", "maxmemory-policy", "save", "appendonly", "tcp-backlog", "timeout")
    assert settings == {"maxmemory": str(512 * 1024 * 1024), "maxmemory-policy": "allkeys-lru", "save": "900 1 300 10 60 10000",
                        "appendonly": "no", "tcp-backlog": "511", "timeout": "300"}


def test_seed_001_redis_aof_noeviction_128mb() -> None:
    conf = render_redis_conf("redis", service("Pulumi.fastapi-arq-pgvector.yaml", "redis"))
    with running_redis(conf) as port:
        settings = redis_settings(port, "maxmemory", "maxmemory-policy", "appendonly", "appendfsync", "save")
    assert settings == {"maxmemory": str(128 * 1024 * 1024), "maxmemory-policy": "noeviction", "appendonly": "yes",
                        "appendfsync": "everysec", "save": ""}


def test_redis_maxmemory_defaults_below_the_memory_limit() -> None:
    svc = ServiceConfig.model_validate({
        "image": "redis:7-alpine", "limits": {"cpus": 0.5, "memory": "1G"}, "configFiles": {"kind": "redis"},
    })
    with running_redis(render_redis_conf("redis", svc)) as port:
        assert redis_get(port, "maxmemory") == str(768 * 1024 * 1024)  # 75 %: RDB forks need headroom
        assert redis_get(port, "maxmemory-policy") == "noeviction"


def test_a_broken_redis_conf_does_not_start() -> None:
    conf = render_redis_conf("redis", service("Pulumi.fastapi-celery.yaml", "redis"))
    with pytest.raises(RuntimeError, match="FATAL CONFIG FILE ERROR"), running_redis(conf.replace("allkeys-lru", "allkeys-lrux")):
        pass


def test_a_wrong_expectation_fails_the_redis_check() -> None:
    conf = render_redis_conf("redis", service("Pulumi.fastapi-celery.yaml", "redis"))
    with running_redis(conf.replace("maxmemory 512mb", "maxmemory 256mb")) as port:
        assert redis_get(port, "maxmemory") != str(512 * 1024 * 1024)


def test_redis_password_comes_from_the_mounted_file_never_argv() -> None:
    """requirepass from the included auth file (a password with quotes, backslashes, `$` and spaces), the
    healthcheck's redis-cli authenticates from the password file, and the running process' argv holds none of it."""
    password = 'p"w \\ $HOME \'x\' end'
    svc = ServiceConfig.model_validate({
        "image": "redis:7-alpine", "limits": {"cpus": 0.5, "memory": "512M"},
        "configFiles": {"kind": "redis", "passwordSecret": "REDIS_PASSWORD"},
    })
    conf = render_redis_conf("redis", svc)
    assert f"include {AUTH_DIR}/auth.conf" in conf and password not in conf
    files = {f.path.rsplit("/", 1)[1]: secret_file_content(f, password) for f in auth_files("redis", svc)}
    with running_redis(conf, files, password) as port:
        anonymous = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
        assert "NOAUTH" in anonymous.stdout + anonymous.stderr
        pid = subprocess.run(["redis-cli", "-p", str(port), "info", "server"], capture_output=True, text=True,
                             env={"PATH": "/usr/bin:/bin", "REDISCLI_AUTH": password}).stdout
        process_id = next(line.split(":")[1].strip() for line in pid.splitlines() if line.startswith("process_id:"))
        argv = Path(f"/proc/{process_id}/cmdline").read_bytes().decode()
        assert "redis-server" in argv and password not in argv
        health = authenticated_healthcheck().compose_test()[1]
        workdir = subprocess.run(["redis-cli", "-p", str(port), "config", "get", "dir"], capture_output=True, text=True,
                                 env={"PATH": "/usr/bin:/bin", "REDISCLI_AUTH": password}).stdout.splitlines()[1]
        tmp_password = f"{workdir}/auth/password"
        check = health.replace(AUTH_PASSWORD, tmp_password).replace("redis-cli", f"redis-cli -p {port}")
        assert subprocess.run(["sh", "-c", check], env={"PATH": "/usr/bin:/bin"}).returncode == 0
        wrong = check.replace(tmp_password, "/dev/null")
        assert subprocess.run(["sh", "-c", wrong], env={"PATH": "/usr/bin:/bin"}).returncode != 0
