"""A user's own compose file (`app.composeFile`): read with the strict YAML loader and checked before any
rendering, so a file the host cannot use is a config error naming `app.composeFile`, never a crash."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml

from config.errors import ConfigIssue
from config.formats import check_image
from config.safe_yaml import YamlRefused, load_yaml_file

FIELD = "app.composeFile"
SUFFIXES = (".yml", ".yaml")


def closest(name: str, choices: list[str] | set[str] | tuple[str, ...]) -> str:
    """' (did you mean 'x'?)' for the nearest of `choices`, or ''."""
    match = difflib.get_close_matches(name, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def read_user_compose(path: Path) -> dict[str, Any]:
    """The parsed document; ValueError with the reason when it is not a compose file the host can use."""
    if path.suffix not in SUFFIXES:
        raise ValueError(f"{path} is not a compose file (.yml or .yaml)")
    if not path.is_file():
        raise ValueError(f"{path} does not exist (paths are relative to the project directory)")
    try:
        document = load_yaml_file(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} cannot be read ({exc})") from None
    except YamlRefused as exc:
        raise ValueError(f"{path} is refused: {exc}") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{path} is not valid YAML ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("services"), dict):
        raise ValueError(f"{path} has no `services:` mapping")
    if not isinstance(document.get("volumes") or {}, dict):
        raise ValueError(f"{path}: top-level `volumes:` must be a mapping")
    return document


def compose_file_issues(compose_file: str, declared: dict[str, Any]) -> list[ConfigIssue]:
    """Every problem of the user's compose file against app.services (`declared`)."""
    try:
        document = read_user_compose(Path(compose_file))
    except ValueError as exc:
        return [ConfigIssue(FIELD, str(exc))]
    issues: list[ConfigIssue] = []
    for name, entry in document["services"].items():
        where = f"service '{name}'"
        if name not in declared:
            issues.append(ConfigIssue(FIELD, (
                f"{where} has no entry in app.services (its limits and role are required){closest(str(name), set(declared))}"
            )))
            continue
        if entry is None:
            continue
        if not isinstance(entry, dict):
            issues.append(ConfigIssue(FIELD, f"{where} must be a mapping"))
            continue
        issues += [ConfigIssue(FIELD, reason) for reason in _service_problems(name, entry, declared[name])]
    for name, service in declared.items():
        if not getattr(service, "image", "") and name not in document["services"]:
            issues.append(ConfigIssue(
                f"app.services.{name}.image", f"no image (neither here nor in {compose_file}): set one"
            ))
    return issues


def _service_problems(name: str, entry: dict[str, Any], declared: Any) -> list[str]:
    problems: list[str] = []
    if "env_file" in entry:
        problems.append(
            f"service '{name}' uses env_file, which does not exist on the host: use app.services.{name}.environment and secretEnv"
        )
    volumes = entry.get("volumes") or []
    if not isinstance(volumes, list):
        problems.append(f"service '{name}': volumes must be a list")
        volumes = []
    for volume in volumes:
        source = volume.split(":", 1)[0] if isinstance(volume, str) else str((volume or {}).get("source", ""))
        if source.startswith((".", "~")):
            problems.append(
                f"service '{name}' mounts {source}, a path relative to your checkout that does not exist on the host: "
                f"use app.services.{name}.volumes or configFiles (kind generic)"
            )
    image = entry.get("image")
    if image is not None:
        try:
            check_image(str(image))
        except ValueError as exc:
            problems.append(f"service '{name}': {exc}")
    if not getattr(declared, "image", "") and image is None:
        if "build" in entry:
            problems.append(
                f"service '{name}' only has `build:`; the host pulls images, so set app.services.{name}.image "
                "(or an image in the compose file)"
            )
        else:
            problems.append(f"service '{name}' has no image (neither in the stack config nor in the compose file)")
    environment = entry.get("environment")
    if environment is not None and not isinstance(environment, dict | list):
        problems.append(f"service '{name}': environment must be a mapping or a list")
    return problems
