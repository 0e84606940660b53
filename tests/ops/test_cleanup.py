"""hp-cleanup on generated files with crafted mtimes, and the Docker prune it runs."""

from __future__ import annotations

import os
import time
from pathlib import Path

from .conftest import run


def _file(path: Path, age_days: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    stamp = time.time() - age_days * 86400
    os.utime(path, (stamp, stamp))
    return path


def test_cleanup_rules_from_seed_000_and_docker_prune(base_env: dict[str, str], tmp_path: Path) -> None:
    media = tmp_path / "app/media"
    logs = tmp_path / "var/log"
    old_video = _file(media / "user_1/video/lecture.mp4", 10)
    new_video = _file(media / "user_1/video/today.mp4", 2)
    old_audio = _file(media / "user_2/audio/lecture.wav", 9)
    transcript = _file(media / "user_1/transcriptions/lecture.txt", 400)  # permanent: no rule
    old_log = _file(logs / "app.log", 40)
    recent_log = _file(logs / "nginx/access.log", 20)
    old_other = _file(logs / "syslog.1", 40)  # does not match *.log
    docker_log = tmp_path / "docker.log"
    fake_docker = tmp_path / "docker"
    fake_docker.write_text(f"#!/bin/sh\necho \"$*\" >> {docker_log}\necho 'Total reclaimed space: 1.2GB'\n")
    fake_docker.chmod(0o755)
    rules = "\n".join([
        f"7|*|{media}/user_*/video",
        f"7|*|{media}/user_*/audio",
        f"30|*.log|{logs}",
        f"3|*|{tmp_path}/does-not-exist/*",
    ])
    env = dict(base_env, HP_CLEANUP_RULES=rules, HP_DOCKER=str(fake_docker))
    result = run("hp-cleanup", env=env)
    assert result.stdout.strip() == "hp-cleanup ok deleted=3"
    assert not old_video.exists() and not old_audio.exists() and not old_log.exists()
    assert new_video.exists() and transcript.exists() and recent_log.exists() and old_other.exists()
    assert docker_log.read_text().splitlines() == ["system prune -f"]
    assert "Total reclaimed space: 1.2GB" in result.stderr

    # Prune can be switched off; a bad rule fails loudly.
    docker_log.write_text("")
    run("hp-cleanup", env=dict(env, HP_DOCKER_PRUNE="0"))
    assert docker_log.read_text() == ""
    bad = run("hp-cleanup", env=dict(env, HP_CLEANUP_RULES=f"seven|*|{logs}"), check=False)
    assert bad.returncode != 0 and "bad cleanup rule" in bad.stderr
