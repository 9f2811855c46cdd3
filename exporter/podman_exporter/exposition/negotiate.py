"""Content negotiation for /metrics that never raises on a malformed header.

Both functions take header values as the server decoded them (latin-1, so any byte
can appear) and fall back to the classic text format and the identity encoding
whenever a value cannot be understood.
"""

from __future__ import annotations

import re

from prometheus_client.exposition import choose_encoder

_QVALUE = re.compile(r"(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)", re.ASCII)
"""RFC 9110 section 12.4.2: ``0`` to ``1`` with at most three decimals."""


def _quality(params: str) -> float:
    """Return the q of a coding's parameters (1 when absent, 0 when malformed)."""
    for param in params.split(";"):
        name, equals, raw = param.partition("=")
        if name.strip().lower() == "q":
            raw = raw.strip()
            return float(raw) if equals and _QVALUE.fullmatch(raw) else 0.0
    return 1.0


def accepts_gzip(accept_encoding: str) -> bool:
    """Return whether an Accept-Encoding value allows gzip (RFC 9110 section 12.5.3):
    an explicit ``gzip`` entry decides, else ``*``; q=0 or a malformed q refuses."""
    star: float | None = None
    for part in accept_encoding.split(","):
        coding, _, params = part.partition(";")
        coding = coding.strip().lower()
        if coding == "gzip":
            return _quality(params) > 0
        if coding == "*" and star is None:
            star = _quality(params)
    return star is not None and star > 0


def wants_openmetrics(accept: str) -> bool:
    """Return whether an Accept value asks for OpenMetrics (prometheus_client's rule);
    False when the library cannot make sense of the value."""
    if "openmetrics" not in accept:
        return False
    try:
        _, content_type = choose_encoder(accept)
    except Exception:  # the library raises TypeError, ValueError... on junk
        return False
    return content_type.startswith("application/openmetrics")
