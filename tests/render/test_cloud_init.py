"""`cloud-init schema` validates the user-data. cloud-init is not on PyPI and must not be installed
as a package here (its services would be enabled): the Debian 12 .deb is downloaded with
`apt-get download` once, unpacked with `dpkg-deb -x` into a cache directory (HP_RENDER_CACHE,
default /var/cache/hetzner-platform-render) and run from there with PYTHONPATH. Its Python
dependencies (PyYAML, jsonschema, configobj, jsonpatch) come from the venv."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from config.schema import StackConfig
from render.cloud_init import render_user_data
from tests.keys import ADMIN_KEY, SECOND_KEY
from tests.prerequisites import require, require_tool
from tests.render.conftest import CLOUD_INIT_CACHE, make_config, run

pytestmark = pytest.mark.render

PYTHON_DEPS = ("yaml", "jsonschema", "configobj", "jsonpatch")


@pytest.fixture(scope="session")
def cloud_init_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    missing = [name for name in PYTHON_DEPS if importlib.util.find_spec(name) is None]
    require(not missing, f"cloud-init needs these Python packages in the venv: {', '.join(missing)}")
    tree = CLOUD_INIT_CACHE / "cloud-init"
    if (tree / "usr/lib/python3/dist-packages/cloudinit").is_dir():
        return tree
    require_tool("apt-get", "dpkg-deb")
    download = tmp_path_factory.mktemp("cloud-init-deb")
    os.chmod(download, 0o777)  # apt's _apt user downloads into it
    result = run(["apt-get", "download", "-q", "cloud-init"], cwd=download, timeout=300)
    debs = sorted(download.glob("cloud-init_*.deb"))
    require(result.returncode == 0 and bool(debs), f"apt-get download cloud-init failed: {result.stderr.strip()}")
    try:
        CLOUD_INIT_CACHE.mkdir(parents=True, exist_ok=True)
        staging = Path(str(tree) + f".tmp{os.getpid()}")
    except PermissionError:
        tree = tmp_path_factory.mktemp("cloud-init")
        staging = tree.with_name(tree.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    extracted = run(["dpkg-deb", "-x", str(debs[-1]), str(staging)])
    assert extracted.returncode == 0, extracted.stderr
    shutil.rmtree(tree, ignore_errors=True)
    staging.rename(tree)
    return tree


def schema(tree: Path, path: Path) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(tree / "usr/lib/python3/dist-packages")}
    result = run([sys.executable, "-m", "cloudinit.cmd.main", "schema", "--config-file", str(path)], env=env)
    return result.returncode, result.stdout + result.stderr


def check_user_data(tree: Path, tmp_path: Path, text: str) -> tuple[int, str]:
    path = tmp_path / "user-data.yaml"
    path.write_text(text, encoding="utf-8")
    return schema(tree, path)


@pytest.mark.parametrize(
    "config",
    [
        make_config(),
        make_config(
            ssh={
                "adminUser": "ops",
                "port": 40022,
                # A second, different key: the same key twice is refused (Hetzner: one fingerprint per project).
                "publicKeys": [ADMIN_KEY, SECOND_KEY],
                "adminCidrs": ["0.0.0.0/0"],
            },
        ),
    ],
    ids=["prod", "other-user-port"],
)
def test_cloud_init_accepts_user_data(cloud_init_tree: Path, tmp_path: Path, config: StackConfig) -> None:
    rc, output = check_user_data(cloud_init_tree, tmp_path, render_user_data(config))
    assert rc == 0, output
    assert "Valid cloud-config" in output or "Valid schema" in output  # 22.4 (Debian) / 23+ (Ubuntu)
    assert "deprecat" not in output.lower()


def test_user_data_is_minimal(config: StackConfig) -> None:
    text = render_user_data(config)
    assert text.startswith("#cloud-config\n")
    document = yaml.safe_load(text)
    assert set(document) == {"users", "disable_root", "ssh_pwauth", "write_files", "runcmd"}
    (user,) = document["users"]
    assert user == {
        "name": "deploy",
        "groups": ["sudo"],
        "shell": "/bin/bash",
        "sudo": "ALL=(ALL) NOPASSWD:ALL",
        "lock_passwd": True,
        "ssh_authorized_keys": [ADMIN_KEY],
    }
    assert document["disable_root"] is True and document["ssh_pwauth"] is False
    ports = {entry["path"]: entry["content"] for entry in document["write_files"]}
    assert "Port 2222\n" in ports["/etc/ssh/sshd_config.d/00-hetzner-platform-port.conf"]
    assert "ListenStream=\nListenStream=2222\n" in ports["/etc/systemd/system/ssh.socket.d/10-hetzner-platform-port.conf"]
    # Stable: only ssh settings feed it (a host or app change must not replace the server).
    other = make_config(host={"timezone": "Europe/Berlin", "swapGb": 8, "docker": {"major": 27}}, volumes=None)
    assert render_user_data(other) == text


def test_cloud_init_rejects_broken_user_data(cloud_init_tree: Path, tmp_path: Path, config: StackConfig) -> None:
    document = yaml.safe_load(render_user_data(config))
    del document["write_files"][0]["path"]
    document["users"][0]["lock_passwd"] = "maybe"
    rc, output = check_user_data(cloud_init_tree, tmp_path, "#cloud-config\n" + yaml.safe_dump(document))
    assert rc == 1, output
    assert "'path' is a required property" in output
    assert "lock_passwd" in output


def test_cloud_init_rejects_invalid_yaml(cloud_init_tree: Path, tmp_path: Path) -> None:
    rc, output = check_user_data(cloud_init_tree, tmp_path, "#cloud-config\nusers: [deploy\n")
    assert rc == 1
    assert "yaml" in output.lower(), output
