"""Shared pydantic base for every config model: camelCase keys in YAML, unknown keys rejected."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ConfigModel(BaseModel):
    # Stack files use Pulumi's camelCase convention; Python code uses snake_case.
    # extra="forbid" turns a typo such as `enviroment` into an error instead of a silent default.
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )
