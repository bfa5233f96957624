"""Numbered SQL migrations, one folder per backend (`migrations/<dialect>/NNNN_name.sql`)."""

from __future__ import annotations

from importlib import resources


def migration_scripts(dialect: str) -> list[tuple[int, str]]:
    """(version, sql) pairs in order."""
    folder = resources.files("asman.store").joinpath("migrations", dialect)
    scripts = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            scripts.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(scripts)
