"""Shared pydantic base for every config model (camelCase keys in YAML, unknown keys rejected, numbers
typed strictly) and the field types and checks more than one config module uses."""

from __future__ import annotations

import ipaddress
import re
import types
import typing
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

Port = Annotated[int, Field(ge=1, le=65535)]
Role = Literal["web", "db", "worker"]
# A server's roles: where services of a role run, plus `manager` (a swarm manager, app.engine swarm).
ServerRole = Literal["web", "db", "worker", "manager"]
# A Linux user name, and one DNS label (a host name part, a Hetzner label).
USER_NAME_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$", re.ASCII)
DNS_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$", re.ASCII)
# Money, in EUR: a bound keeps every sum of cost lines a finite Decimal.
MAX_EUR = 1_000_000.0
# The stack's `environment`; prod decides the default of every delete protection.
Environment = Literal["prod", "staging", "dev"]


def protected_by_default(environment: str) -> bool:
    """Delete (and rebuild) protection where the stack file does not set it: on in prod, off elsewhere."""
    return environment == "prod"


def check_cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError as exc:
        raise ValueError(f"'{value}' is not a valid CIDR ({exc})") from None


def _accepts_bool(annotation: Any) -> bool:
    """True when `annotation` (or any member of a union) is bool or unconstrained."""
    if annotation is bool or annotation is Any:
        return True
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _accepts_bool(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return any(_accepts_bool(arg) for arg in typing.get_args(annotation))
    if origin is Literal:
        return any(isinstance(arg, bool) for arg in typing.get_args(annotation))
    return False


def _wants_number(annotation: Any) -> bool:
    if annotation in (int, float):
        return True
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _wants_number(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return any(_wants_number(arg) for arg in typing.get_args(annotation))
    return False


def bool_where_number(annotation: Any, value: Any) -> bool:
    """Does `value` put a YAML boolean where the annotation expects a number (also inside lists and maps)?

    Pydantic's lax mode turns `true` into 1: `ssh.port: true` would become port 1."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return bool_where_number(typing.get_args(annotation)[0], value)
    if isinstance(value, bool):
        return _wants_number(annotation) and not _accepts_bool(annotation)
    if origin in (Union, types.UnionType):
        return all(bool_where_number(arg, value) for arg in typing.get_args(annotation) if arg is not type(None))
    if origin is list and isinstance(value, list):
        (item,) = typing.get_args(annotation)
        return any(bool_where_number(item, element) for element in value)
    if origin is dict and isinstance(value, dict):
        _, item = typing.get_args(annotation)
        return any(bool_where_number(item, element) for element in value.values())
    return False


class ConfigModel(BaseModel):
    # Stack files use Pulumi's camelCase convention; Python code uses snake_case.
    # extra="forbid" turns a typo such as `enviroment` into an error instead of a silent default.
    # allow_inf_nan=False: `.inf`/`.nan` never reach the cost engine's Decimals or a rendered file.
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
    )


def _models_in(annotation: Any) -> list[type[ConfigModel]]:
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _models_in(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]
    if isinstance(annotation, type) and issubclass(annotation, ConfigModel):
        return [annotation]
    return []


def _pick_model(annotation: Any, value: dict[str, Any]) -> type[ConfigModel] | None:
    models = _models_in(annotation)
    if len(models) > 1:  # a union discriminated by `kind`
        for model in models:
            kind = model.model_fields.get("kind")
            if kind is not None and value.get("kind") in typing.get_args(kind.annotation):
                return model
        return None
    return models[0] if models else None


def bool_number_paths(model: type[ConfigModel], values: Any, path: str = "") -> list[str]:
    """Config paths where a YAML boolean stands in for a number, walking the raw values along the model.

    Pydantic's lax mode turns `true` into 1 (`ssh.port: true` would become port 1), so this runs on the
    raw values before validation."""
    if not isinstance(values, dict):
        return []
    found: list[str] = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        if key not in values:
            continue
        value, here = values[key], f"{path}.{key}" if path else key
        annotation = field.annotation
        if bool_where_number(annotation, value):
            found.append(here)
            continue
        found += _nested_bool_paths(annotation, value, here)
    return found


def _nested_bool_paths(annotation: Any, value: Any, path: str) -> list[str]:
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType) and not _models_in(annotation):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _nested_bool_paths(args[0], value, path) if len(args) == 1 else []
    if origin is list and isinstance(value, list):
        (item,) = typing.get_args(annotation)
        return [p for index, element in enumerate(value) for p in _nested_bool_paths(item, element, f"{path}[{index}]")]
    if origin is dict and isinstance(value, dict):
        _, item = typing.get_args(annotation)
        return [p for key, element in value.items() for p in _nested_bool_paths(item, element, f"{path}.{key}")]
    if isinstance(value, dict):
        model = _pick_model(annotation, value)
        if model is not None:
            return bool_number_paths(model, value, path)
    return []
