"""The ``io.projectatomic.podman`` varlink interface shipped as package data."""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files

import varlink

INTERFACE_NAME = "io.projectatomic.podman"
ERROR_PREFIX = INTERFACE_NAME + "."
METHOD_NOT_FOUND = "org.varlink.service.MethodNotFound"

_REPLY = re.compile(r"^(method \w+\(.*\)) -> \((\w+): [^)]+\)$", re.MULTILINE)


@cache
def interface_text() -> str:
    """Return the interface description as shipped (the seed's types and fields)."""
    return (files(__package__) / f"{INTERFACE_NAME}.varlink").read_text(encoding="utf-8")


def strict_interface() -> varlink.Interface:
    """Return the interface exactly as described, for services (simulator, bridge)."""
    return varlink.Interface(interface_text())


def lenient_interface() -> varlink.Interface:
    """Return the interface with every reply typed ``object``, for our client.

    The ``varlink`` package rejects a whole reply when one field anywhere has the
    wrong type; the exporter validates each record itself instead, so that one
    malformed container costs that container only.
    """
    return varlink.Interface(_REPLY.sub(r"\1 -> (\2: object)", interface_text()))
