"""Strict reading of a YAML config: duplicate keys, unknown fields and wrong types are
errors naming the file and the field (like Go's ``yaml.UnmarshalStrict``)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

import yaml

from podman_exporter.web.tls import WebConfigError

_E = TypeVar("_E", bound=StrEnum)


class StrictLoader(yaml.SafeLoader):
    """A safe loader that rejects duplicate mapping keys (like yaml.UnmarshalStrict)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            if isinstance(key, str | int | float | bool):
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


class Reader:
    """Typed access to one parsed section, raising WebConfigError with the field path."""

    def __init__(self, source: str, where: str, value: Any, keys: frozenset[str]) -> None:
        self.source, self.where = source, where
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise self.error("", f"must be a mapping, not {kind(value)}")
        for key in value:
            if key not in keys:
                raise self.error(str(key), f"unknown field (allowed: {', '.join(sorted(keys))})")
        self.data: dict[str, Any] = value

    def error(self, key: str, problem: str) -> WebConfigError:
        """Return the error for ``key`` of this section."""
        where = ".".join(part for part in (self.where, key) if part)
        return WebConfigError(self.source, where, problem)

    def string(self, key: str) -> str:
        """Return the string at ``key`` ("" when absent or null); ints read as text like Go."""
        value = self.data.get(key)
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.error(key, f"must be a string, not {kind(value)}")
        return str(value)

    def boolean(self, key: str, default: bool) -> bool:
        """Return the boolean at ``key`` or ``default``."""
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, not {value!r}")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        """Return the list of strings at ``key`` (empty when absent)."""
        value = self.data.get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(key, "must be a list of strings")
        return tuple(value)

    def choice(self, key: str, enum: type[_E], default: _E) -> _E:
        """Return the enum member named at ``key`` or ``default``."""
        text = self.string(key)
        if not text:
            return default
        try:
            return enum(text)
        except ValueError:
            allowed = ", ".join(member.value for member in enum)
            raise self.error(key, f"unknown value {text!r} (expected one of {allowed})") from None


def kind(value: Any) -> str:
    """Return a short YAML-ish name of a value's type."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"
