"""Paths checked against each other (each one alone is checked by its field, see config/paths.py):
backups, cleanup rules and host mounts never reach live data, two services never share a host data
directory, and volumes of one server are not mounted inside each other."""

from __future__ import annotations

from config.errors import ConfigIssue
from config.paths import dangerous_mount, inside, literal_prefix, normalise, overlap
from config.schema import StackConfig


def releases_dir(project: str) -> str:
    """Where the app step keeps the releases and the 0600 secrets env file (render/compose.py base_dir)."""
    return f"/opt/{project}"


def path_issues(stack: StackConfig) -> list[ConfigIssue]:
    issues = _volume_nesting(stack) + _shared_data_dirs(stack) + _host_mounts(stack)
    ops = stack.ops
    data_dir = stack.app.resolved_data_dir(stack.project)
    live = {"app.dataDir": data_dir, "the releases directory": releases_dir(stack.project)}
    if ops.enabled and ops.backup.enabled:
        backup = ops.backup.dir
        for label, path in live.items():
            if overlap(backup, path):
                issues.append(ConfigIssue("ops.backup.dir", f"{backup} overlaps {label} ({path}): keep backups apart from live data"))
        for name, volume in stack.volumes.items():
            if inside(volume.mount_point, backup):
                issues.append(ConfigIssue("ops.backup.dir", f"{backup} contains the mount point of volume '{name}'"))
        for index, source in enumerate(ops.backup.paths):
            if inside(backup, literal_prefix(normalise(source, globs=True))):
                issues.append(ConfigIssue(
                    f"ops.backup.paths[{index}]", f"{source} contains the backup directory {backup}: each run would copy its own copies"
                ))
        live["ops.backup.dir"] = backup
    if ops.enabled and ops.cleanup.enabled:
        for index, rule in enumerate(ops.cleanup.rules):
            prefix = literal_prefix(rule.path)
            field = f"ops.cleanup.rules[{index}].path"
            for label, path in live.items():
                if overlap(prefix, path):
                    issues.append(ConfigIssue(field, f"{rule.path} reaches {label} ({path}): cleanup would delete live data"))
            for name, volume in stack.volumes.items():
                if inside(volume.mount_point, prefix):
                    issues.append(ConfigIssue(field, f"{rule.path} covers the whole volume '{name}' ({volume.mount_point})"))
    return issues


def _volume_nesting(stack: StackConfig) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    names = list(stack.volumes)
    for index, name in enumerate(names):
        for other in names[:index]:
            first, second = stack.volumes[other], stack.volumes[name]
            same_server = stack.volume_server(other) == stack.volume_server(name)
            if same_server and first.mount_point != second.mount_point and overlap(first.mount_point, second.mount_point):
                issues.append(ConfigIssue(
                    f"volumes.{name}.mountPoint", f"{second.mount_point} and volume '{other}' ({first.mount_point}) are nested"
                ))
    return issues


def _shared_data_dirs(stack: StackConfig) -> list[ConfigIssue]:
    """Each app volume is the host directory <app.dataDir>/<name>. Two services share one only when each
    lists it in sharedVolumes (uploaded media read by workers); a database's directory is never shared: a
    second container writing PGDATA or Redis's files corrupts them."""
    issues: list[ConfigIssue] = []
    data_dir = stack.app.resolved_data_dir(stack.project)
    users: dict[str, list[str]] = {}
    for service_name, service in stack.app.services.items():
        for volume in service.volumes:
            users.setdefault(volume, []).append(service_name)
        for index, volume in enumerate(service.shared_volumes):
            if volume not in service.volumes:
                issues.append(ConfigIssue(
                    f"app.services.{service_name}.sharedVolumes[{index}]", f"'{volume}' is not one of this service's volumes"
                ))
    for volume, names in users.items():
        if len(names) < 2:
            continue
        engines = [name for name in names if stack.app.services[name].kind in ("postgres", "redis")]
        for name in names:
            field = f"app.services.{name}.volumes.{volume}"
            if engines and name != engines[0]:
                issues.append(ConfigIssue(field, (
                    f"the host directory {data_dir}/{volume} holds the data of '{engines[0]}' "
                    f"({stack.app.services[engines[0]].kind}); no other container may mount it"
                )))
            elif not engines and volume not in stack.app.services[name].shared_volumes:
                others = ", ".join(other for other in names if other != name)
                issues.append(ConfigIssue(field, (
                    f"the host directory {data_dir}/{volume} is also mounted by {others}: list '{volume}' in sharedVolumes "
                    "of every service that shares it on purpose, or give each its own name"
                )))
    return issues


def _host_mounts(stack: StackConfig) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    extra = [releases_dir(stack.project), stack.ops.backup.dir]
    for name, service in stack.app.services.items():
        if service.allow_dangerous_host_mounts:
            continue
        for host in service.host_mounts:
            reached = dangerous_mount(host) or next((path for path in extra if overlap(host, path)), None)
            if reached is not None:
                issues.append(ConfigIssue(
                    f"app.services.{name}.hostMounts.{host}",
                    f"reaches {reached}: a container with it controls the host or reads its secrets; set "
                    f"app.services.{name}.allowDangerousHostMounts: true if that is really intended",
                ))
    return issues
