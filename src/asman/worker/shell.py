"""A job's command line split into arguments the way upstream's worker splits it (shell-quote's `parse` with the
job's env), since the container runs it without a shell.

Quotes and backslashes work as in `sh`. Outside single quotes `$NAME` and `${NAME}` become the variable's value,
or nothing when it is not set (a word that was only an unset variable stays, as an empty argument), and a value
is never split again. A `$` that starts no name stays a `$`. No other shell syntax exists here: `|`, `;`, `>`,
`*` and `~` are plain characters; a job that wants them runs `sh -c '...'`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_NAME = re.compile(r"[A-Za-z0-9_]+")
# Special parameters ($?, $$, ...) are looked up like names; a job's env never sets them, so they become nothing.
_SPECIAL = frozenset("*@#?$!-")
# Inside double quotes a backslash escapes only these; before anything else it is kept.
_DOUBLE_QUOTE_ESCAPES = frozenset('"\\$')


def shell_words(text: str, env: Mapping[str, str]) -> list[str]:
    """The arguments of `text`; `ValueError` for an unclosed quote, a last lone backslash or a bad `${`."""
    words: list[str] = []
    word: list[str] = []
    in_word = False
    quote: str | None = None
    index = 0
    while index < len(text):
        char = text[index]
        if quote == "'":
            if char == "'":
                quote = None
            else:
                word.append(char)
        elif char == "$":
            value, index = _variable(text, index, env)
            word.append(value)
            in_word = True
            continue
        elif quote == '"':
            if char == '"':
                quote = None
            elif char == "\\" and text[index + 1 : index + 2] in _DOUBLE_QUOTE_ESCAPES:
                index += 1
                word.append(text[index])
            else:
                word.append(char)
        elif char.isspace():
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
        else:
            in_word = True
            if char in "'\"":
                quote = char
            elif char == "\\":
                index += 1
                if index == len(text):
                    raise ValueError("nothing follows the last backslash")
                word.append(text[index])
            else:
                word.append(char)
        index += 1
    if quote is not None:
        raise ValueError(f"no closing {quote}")
    if in_word:
        words.append("".join(word))
    return words


def _variable(text: str, start: int, env: Mapping[str, str]) -> tuple[str, int]:
    """The value of the `$` reference at `start`, and where the text goes on after it."""
    after = start + 1
    if text.startswith("{", after):
        end = text.find("}", after + 1)
        if end in (-1, after + 1):
            raise ValueError(f"bad substitution {text[start : start + 40]!r}")
        return env.get(text[after + 1 : end], ""), end + 1
    name = _NAME.match(text, after)
    if name is not None:
        return env.get(name.group(), ""), name.end()
    if text[after : after + 1] in _SPECIAL:
        return env.get(text[after], ""), after + 1
    return "$", after
