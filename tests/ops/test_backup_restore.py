"""Backups, offsite, restore drill and manual restore, for real: PostgreSQL 15 on 127.0.0.1 and restic.

The scripts are the rendered hp-* files the host receives; only HP_* variables differ: hp-pg talks
to the local cluster instead of `docker compose exec`, and the drill's throwaway server is an initdb
cluster started by tests/ops/helpers/pg_throwaway.sh instead of `docker run --rm postgres`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.prerequisites import require_tool

from .conftest import PgCluster, free_port, run

PASSWORD = "test-restic-password-not-a-real-secret"


def _state(env: dict[str, str]) -> dict:
    return json.loads(Path(env["HP_STATE_FILE"]).read_text())


def _newest(env: dict[str, str], kind: str) -> Path:
    dirs = sorted(p for p in (Path(env["HP_BACKUP_DIR"]) / kind).iterdir() if not p.name.startswith("."))
    assert dirs, f"no {kind} backup"
    return dirs[-1]


def test_hourly_backup_dumps_every_database_verified(pg_env: dict[str, str]) -> None:
    result = run("hp-backup", "hourly", env=pg_env)
    assert "hp-backup hourly ok" in result.stdout
    newest = _newest(pg_env, "hourly")
    assert sorted(p.name for p in newest.iterdir()) == ["SHA256SUMS", "analytics.dump", "app.dump", "manifest.json"]
    # Custom format (-Fc): the archive magic is PGDMP, and pg_restore can list it.
    assert (newest / "app.dump").read_bytes()[:5] == b"PGDMP"
    subprocess.run(["sha256sum", "--check", "--strict", "SHA256SUMS"], cwd=newest, check=True, capture_output=True)
    manifest = json.loads((newest / "manifest.json").read_text())
    assert manifest["kind"] == "hourly" and manifest["databases"] == ["app", "analytics"]
    state = _state(pg_env)
    assert state["backup"]["status"] == "ok"
    assert state["last_good_backup"]["dir"] == str(newest)
    assert abs(state["last_good_backup"]["epoch"] - time.time()) < 120
    metrics = (Path(pg_env["HP_TEXTFILE_DIR"]) / "hp_backup.prom").read_text()
    assert "hp_backup_last_good_timestamp_seconds" in metrics
    assert oct(Path(pg_env["HP_BACKUP_DIR"]).stat().st_mode & 0o777) == "0o700"


def test_database_discovery_when_none_configured(pg_env: dict[str, str]) -> None:
    env = dict(pg_env, HP_PG_DATABASES="")
    run("hp-backup", "hourly", env=env)
    newest = _newest(env, "hourly")
    assert {p.name for p in newest.glob("*.dump")} == {"app.dump", "analytics.dump"}


def test_failed_dump_is_loud(pg_env: dict[str, str]) -> None:
    env = dict(pg_env, HP_PG_DATABASES="app does_not_exist")
    result = run("hp-backup", "hourly", env=env, check=False)
    assert result.returncode != 0
    assert "FAILED at step 'pg_dump does_not_exist'" in result.stderr
    state = _state(env)
    assert state["backup"]["status"] == "failed"
    assert "last_good_backup" not in state
    # The half-written run is gone: nothing incomplete can be mistaken for a backup.
    assert not any((Path(env["HP_BACKUP_DIR"]) / "hourly").iterdir())


def test_daily_backup_with_redis_configs_files_and_restic(pg_env: dict[str, str], tmp_path: Path) -> None:
    require_tool("restic", "redis-server", "redis-cli")
    # A local Redis with data, on 127.0.0.1, stopped by PID.
    redis_dir = tmp_path / "redis"
    redis_dir.mkdir()
    port = free_port()
    redis = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", str(redis_dir), "--save", "",
         "--appendonly", "no", "--daemonize", "no", "--logfile", str(redis_dir / "log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            if subprocess.run(["redis-cli", "-p", str(port), "PING"], capture_output=True, text=True).stdout.strip() == "PONG":
                break
            time.sleep(0.05)
        subprocess.run(["redis-cli", "-p", str(port), "SET", "session:1", "alive"], check=True, capture_output=True)
        config_dir = tmp_path / "opt-chrono"
        config_dir.mkdir()
        (config_dir / "compose.yaml").write_text("services: {}\n")
        media = tmp_path / "media"
        (media / "permanent").mkdir(parents=True)
        (media / "permanent" / "transcript.txt").write_text("hello\n")
        volumes = tmp_path / "volumes"
        (volumes / "chrono_uploads" / "_data").mkdir(parents=True)
        (volumes / "chrono_uploads" / "_data" / "avatar.png").write_bytes(b"\x89PNG fake")
        secret_env = tmp_path / "ops.env"
        secret_env.write_text(f"export RESTIC_PASSWORD='{PASSWORD}'\n")
        secret_env.chmod(0o600)
        repo = tmp_path / "restic-repo"
        env = dict(pg_env)
        env.update({
            "HP_ENV_FILE": str(secret_env),
            "HP_REDIS_ENABLED": "1",
            "HP_REDIS_EXEC": "",
            "HP_REDIS_ARGS": f"-p {port}",
            "HP_REDIS_DATA_PATH": str(redis_dir),
            "HP_BACKUP_CONFIGS": f"{config_dir} {tmp_path}/missing-daemon.json",
            "HP_BACKUP_PATHS": str(media),
            "HP_BACKUP_VOLUMES": "uploads",
            "HP_VOLUME_DIR": str(volumes),
            "HP_RESTIC_REPOSITORY": str(repo),
            "HP_RESTIC_CHECK_SUBSET": "0",
        })
        result = run("hp-backup", "daily", env=env)
        assert "offsite=ok" in result.stdout
        newest = _newest(env, "daily")
        names = sorted(str(p.relative_to(newest)) for p in newest.rglob("*") if p.is_file())
        assert names == ["SHA256SUMS", "analytics.dump", "app.dump", "configs.tar.gz", "globals.sql", "manifest.json",
                         "redis/dump.rdb"]
        assert (newest / "redis" / "dump.rdb").read_bytes()[:5] == b"REDIS"
        assert "CREATE ROLE postgres" in (newest / "globals.sql").read_text()
        listing = subprocess.run(["tar", "-tzf", str(newest / "configs.tar.gz")], capture_output=True, text=True, check=True)
        assert "compose.yaml" in listing.stdout

        restic_env = {**os.environ, "RESTIC_PASSWORD": PASSWORD, "RESTIC_REPOSITORY": str(repo),
                      "RESTIC_CACHE_DIR": env["RESTIC_CACHE_DIR"]}
        snapshots = json.loads(subprocess.run(["restic", "snapshots", "--json"], env=restic_env, capture_output=True,
                                              text=True, check=True).stdout)
        tags = sorted(tag for snap in snapshots for tag in snap["tags"] if tag != "hetzner-platform")
        assert tags == ["daily", "files"]
        files_snap = next(s for s in snapshots if "files" in s["tags"])
        assert sorted(files_snap["paths"]) == sorted([str(media), str(volumes / "chrono_uploads" / "_data")])
        # The offsite copy is encrypted (wrong password fails) and byte-identical to the local dump.
        wrong = subprocess.run(["restic", "snapshots"], env={**restic_env, "RESTIC_PASSWORD": "wrong"}, capture_output=True)
        assert wrong.returncode != 0
        dumped = subprocess.run(["restic", "dump", "--tag", "daily", "latest", str(newest / "app.dump")], env=restic_env,
                                capture_output=True, check=True).stdout
        assert dumped == (newest / "app.dump").read_bytes()
        assert _state(env)["offsite"]["status"] == "ok"

        # Without the password the offsite part fails loudly, but the local backup is still good.
        secret_env.write_text("")
        failed = run("hp-backup", "daily", env=env, check=False)
        assert failed.returncode != 0 and "RESTIC_PASSWORD is not set" in failed.stderr
        state = _state(env)
        assert state["offsite"]["status"] == "failed" and state["backup"]["status"] == "ok"
    finally:
        redis.terminate()
        redis.wait(timeout=10)


def test_restore_drill_restores_newest_dump_and_records_state(pg_env: dict[str, str], pg: PgCluster) -> None:
    run("hp-backup", "hourly", env=pg_env)
    result = run("hp-restore-drill", env=pg_env)
    assert "hp-restore-drill ok" in result.stdout
    state = _state(pg_env)
    drill = state["drill"]
    assert drill["status"] == "ok"
    assert drill["results"]["app"]["users"] == 42
    assert drill["results"]["app"]["orders"] == 137
    assert drill["results"]["analytics"]["events"] == 2
    assert drill["results"]["app"]["user_tables"] == 2
    assert 0 <= drill["newest_good_backup_age_seconds"] < 300
    assert state["last_verified_backup"]["dir"] == drill["backup_dir"] == str(_newest(pg_env, "hourly"))
    print("\nrestore drill smoke result:", json.dumps(drill["results"], sort_keys=True))
    # The throwaway server is gone (stopped by its PID, directory removed).
    start_cmd = pg_env["HP_DRILL_START_CMD"].split()
    assert not Path(start_cmd[2]).exists()


def test_restore_drill_smoke_sql_and_min_rows(pg_env: dict[str, str]) -> None:
    run("hp-backup", "hourly", env=pg_env)
    env = dict(pg_env, HP_DRILL_TABLES="users", HP_DRILL_SQL="SELECT max(total) FROM orders", HP_DRILL_SQL_DB="app")
    run("hp-restore-drill", env=env)
    results = _state(env)["drill"]["results"]
    assert results["app"]["sql"] == "205.50" and "sql" not in results["analytics"]
    everywhere = dict(env, HP_DRILL_SQL_DB="")
    failed = run("hp-restore-drill", env=everywhere, check=False)
    assert failed.returncode != 0
    assert "smoke SQL failed in analytics" in _state(env)["drill"]["error"]
    env["HP_PG_DATABASES"] = "app"
    too_strict = dict(env, HP_DRILL_MIN_ROWS="1000", HP_DRILL_SQL="")
    failed = run("hp-restore-drill", env=too_strict, check=False)
    assert failed.returncode != 0
    assert "has 42 rows after restore, fewer than 1000" in _state(env)["drill"]["error"]


@pytest.mark.parametrize("damage", ["flipped-bytes", "garbage-with-matching-checksum", "truncated-with-matching-checksum"])
def test_restore_drill_fails_on_corrupted_dump(pg_env: dict[str, str], damage: str) -> None:
    run("hp-backup", "hourly", env=pg_env)
    newest = _newest(pg_env, "hourly")
    dump = newest / "app.dump"
    data = bytearray(dump.read_bytes())
    if damage == "flipped-bytes":
        for offset in range(len(data) // 2, len(data) // 2 + 64):
            data[offset] ^= 0xFF
        dump.write_bytes(bytes(data))
    else:
        dump.write_bytes(b"PGDMP" + os.urandom(2048) if damage.startswith("garbage") else bytes(data[: len(data) // 2]))
        # Re-seal the checksums so only pg_restore itself can notice.
        subprocess.run("sha256sum -- $(ls | grep -v SHA256SUMS) > ../sums && mv ../sums SHA256SUMS",
                       shell=True, cwd=newest, check=True)
    result = run("hp-restore-drill", env=pg_env, check=False)
    assert result.returncode != 0, result.stdout
    state = _state(pg_env)
    assert state["drill"]["status"] == "failed"
    expected = "checksum mismatch" if damage == "flipped-bytes" else "pg_restore of app failed"
    assert expected in state["drill"]["error"]
    assert "restore drill FAILED" in result.stderr
    assert "last_verified_backup" not in state
    # The throwaway server was stopped even though the drill failed.
    assert not Path(pg_env["HP_DRILL_START_CMD"].split()[2]).exists()


def test_restore_drill_without_backup_fails(pg_env: dict[str, str]) -> None:
    result = run("hp-restore-drill", env=pg_env, check=False)
    assert result.returncode != 0
    assert "no complete backup found" in _state(pg_env)["drill"]["error"]


def test_manual_restore_brings_back_the_data(pg_env: dict[str, str], pg: PgCluster, tmp_path: Path) -> None:
    pg.psql("CREATE DATABASE shop")
    pg.psql("CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'item' || g FROM generate_series(1, 10) g;",
            db="shop")
    env = dict(pg_env, HP_PG_DATABASES="shop")
    run("hp-backup", "hourly", env=env)
    # Disaster: rows deleted, a table dropped, junk added.
    pg.psql("DELETE FROM items WHERE id > 3; CREATE TABLE junk (x int);", db="shop")
    compose_log = tmp_path / "compose.log"
    fake_compose = tmp_path / "fake-compose"
    fake_compose.write_text(f"#!/bin/sh\necho \"$*\" >> {compose_log}\n")
    fake_compose.chmod(0o755)
    env.update({"HP_COMPOSE": str(fake_compose), "HP_APP_SERVICES": "api worker"})
    result = run("hp-restore", "--yes", "latest", env=env)
    assert "hp-restore ok" in result.stdout
    assert pg.psql("SELECT count(*) FROM items", db="shop") == "10"
    # Objects not in the dump stay (pg_restore --clean only drops what the dump recreates).
    assert compose_log.read_text().splitlines() == ["stop api worker", "start api worker"]
    safety = list((Path(env["HP_BACKUP_DIR"]) / "pre-restore").glob("*/shop.dump"))
    assert len(safety) == 1
    assert _state(env)["restore"]["status"] == "ok"

    # Without --yes and without a terminal it refuses and touches nothing.
    refused = run("hp-restore", "latest", env=env, check=False, stdin="")
    assert refused.returncode != 0 and "pass --yes" in refused.stderr

    # A broken dump: pg_restore fails inside a single transaction, data unchanged, services restarted.
    broken = tmp_path / "shop.dump"
    broken.write_bytes(b"not a dump")
    compose_log.write_text("")
    failed = run("hp-restore", "--yes", "--db", "shop", str(broken), env=env, check=False)
    assert failed.returncode != 0
    assert pg.psql("SELECT count(*) FROM items", db="shop") == "10"
    assert compose_log.read_text() == ""  # refused before stopping anything: not a readable archive

    # A valid archive whose restore fails half way (its owner role no longer exists): the single
    # transaction rolls back, the data is unchanged, and the services are started again.
    pg.psql("CREATE ROLE ghost")
    pg.psql("CREATE DATABASE ghostdb")
    pg.psql("CREATE TABLE items (id int PRIMARY KEY, name text); ALTER TABLE items OWNER TO ghost;"
            "INSERT INTO items VALUES (1, 'only one');", db="ghostdb")
    ghost_dump = tmp_path / "ghost" / "shop.dump"
    ghost_dump.parent.mkdir()
    with ghost_dump.open("wb") as handle:
        subprocess.run([f"{pg.bin_dir}/pg_dump", *pg.conn_args.split(), "-Fc", "-d", "ghostdb"], stdout=handle, check=True)
    pg.psql("DROP DATABASE ghostdb")
    pg.psql("DROP ROLE ghost")
    pg.psql("INSERT INTO items VALUES (11, 'new')", db="shop")
    failed = run("hp-restore", "--yes", "--no-safety-dump", str(ghost_dump), env=env, check=False)
    assert failed.returncode != 0
    assert 'role "ghost" does not exist' in failed.stderr
    assert pg.psql("SELECT count(*) FROM items", db="shop") == "11"
    assert compose_log.read_text().splitlines() == ["stop api worker", "start api worker"]
    assert _state(env)["restore"]["status"] == "failed"
    pg.psql("DROP DATABASE shop")


def test_restore_stops_a_blue_green_service_in_its_live_colour(pg_env: dict[str, str], pg: PgCluster, tmp_path: Path) -> None:
    """The api deploys blue-green: it runs in chrono-green (the live colour), so that is where it is stopped."""
    pg.psql("CREATE DATABASE shop")
    env = dict(pg_env, HP_PG_DATABASES="shop")
    run("hp-backup", "hourly", env=env)
    compose_log = tmp_path / "compose.log"
    fake_compose = tmp_path / "fake-compose"
    fake_compose.write_text(f"#!/bin/sh\necho \"$*\" >> {compose_log}\n")
    fake_compose.chmod(0o755)
    live = tmp_path / "live_colour"
    live.write_text("green\n")
    env.update({"HP_COMPOSE": str(fake_compose), "HP_COMPOSE_PROJECT": "chrono", "HP_APP_SERVICES": "api worker",
                "HP_BLUE_GREEN_SERVICES": "api", "HP_LIVE_COLOUR_FILE": str(live)})
    result = run("hp-restore", "--yes", "--no-safety-dump", "latest", env=env)
    assert "hp-restore ok" in result.stdout
    assert compose_log.read_text().splitlines() == [
        "stop worker", "--project-name chrono-green stop api", "start worker", "--project-name chrono-green start api"]
    pg.psql("DROP DATABASE shop")


def test_retention_with_crafted_mtimes(base_env: dict[str, str]) -> None:
    backups = Path(base_env["HP_BACKUP_DIR"])
    now = time.time()

    def make(kind: str, age_hours: float) -> Path:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now - age_hours * 3600))
        path = backups / kind / stamp
        path.mkdir(parents=True)
        (path / "app.dump").write_bytes(b"PGDMP fake")
        os.utime(path, (now - age_hours * 3600, now - age_hours * 3600))
        return path

    hourly = [make("hourly", h + 0.5) for h in range(36)]  # 0.5 h .. 35.5 h old
    daily = [make("daily", d * 24 + 1) for d in range(10)]
    weekly = [make("weekly", w * 24 * 7 + 2) for w in range(6)]
    partial = backups / "hourly" / ".20200101T000000Z.partial"
    partial.mkdir()
    os.utime(partial, (now - 86400, now - 86400))
    run("hp-backup", "prune", env=base_env)
    kept_hourly = sorted(p for p in hourly if p.exists())
    assert kept_hourly == sorted(hourly[:24]), "hourly: everything younger than 24 h, nothing older"
    assert sorted(p for p in daily if p.exists()) == sorted(daily[:7]), "7 daily"
    assert sorted(p for p in weekly if p.exists()) == sorted(weekly[:4]), "4 weekly"
    assert not partial.exists()

    # Configurable, and the newest backup survives even when every backup is past the window.
    env = dict(base_env, HP_KEEP_HOURLY_HOURS="1", HP_KEEP_DAILY="2", HP_KEEP_WEEKLY="0")
    for path in hourly[:24]:
        if path.exists():
            os.utime(path, (now - 5 * 86400, now - 5 * 86400))
    run("hp-backup", "prune", env=env)
    assert len([p for p in hourly if p.exists()]) == 1
    assert len([p for p in daily if p.exists()]) == 2
    assert not (backups / "weekly").exists()


def test_weekly_copy_on_the_weekly_day(pg_env: dict[str, str]) -> None:
    today = time.strftime("%a", time.gmtime())
    env = dict(pg_env, HP_WEEKLY_DAY=today, HP_PG_DATABASES="app")
    run("hp-backup", "daily", env=env)
    daily = _newest(env, "daily")
    weekly = Path(env["HP_BACKUP_DIR"]) / "weekly" / daily.name
    assert (weekly / "app.dump").exists()
    assert (weekly / "app.dump").stat().st_ino == (daily / "app.dump").stat().st_ino  # hard link: no extra space


def test_hp_pg_wrapper_reaches_the_configured_server(pg_env: dict[str, str]) -> None:
    result = run("hp-pg", "psql", "-d", "app", "-XAtc", "SELECT count(*) FROM users", env=pg_env)
    assert result.stdout.strip() == "42"
    refused = run("hp-pg", "rm", "-rf", "/", env=pg_env, check=False)
    assert refused.returncode != 0 and "not a PostgreSQL client tool" in refused.stderr
    assert shutil.which("hp-pg", path=pg_env["PATH"])
