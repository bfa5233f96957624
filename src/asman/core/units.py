"""Human-friendly durations ("20m", "1h30m", "90s") and sizes ("4g", "512m", "2GiB")."""

from __future__ import annotations

import re

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)", re.IGNORECASE)
_DURATION_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)
_SIZE_FACTOR = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_duration(text: str | float | int) -> float:
    """Seconds in a duration; a bare number means seconds."""
    if isinstance(text, (int, float)):
        return float(text)
    stripped = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", stripped):
        return float(stripped)
    parts = _DURATION_PART.findall(stripped)
    if not parts or _DURATION_PART.sub("", stripped).strip():
        raise ValueError(f"not a duration: {text!r} (use e.g. '90s', '20m', '1h30m')")
    return sum(float(amount) * _DURATION_SECONDS[unit.lower()] for amount, unit in parts)


def parse_size(text: str | int) -> int:
    """Bytes in a size; k/m/g/t are powers of 1024 as Docker reads them."""
    if isinstance(text, int):
        return text
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"not a size: {text!r} (use e.g. '512m', '4g')")
    amount, unit, _ = match.groups()
    return int(float(amount) * _SIZE_FACTOR[unit.lower()])
