"""Log lines on the wire: `[text, epochMs, isStdErr?]`. A run-log line's text is what the program wrote,
newline included, so joining the texts gives its output exactly; build-log lines carry none."""

from __future__ import annotations

from typing import Any


def with_newlines(lines: Any) -> list[Any]:
    """Run-log lines stored before lines kept their newline: each was one whole line, so it ends with one."""
    fixed: list[Any] = []
    for line in lines if isinstance(lines, list) else []:
        if isinstance(line, list) and line and isinstance(line[0], str) and not line[0].endswith("\n"):
            line = [line[0] + "\n", *line[1:]]
        fixed.append(line)
    return fixed
