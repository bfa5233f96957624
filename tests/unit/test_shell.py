"""Command lines split as upstream's worker splits them: sh quoting, `$VAR` / `${VAR}` from the job's env."""

from __future__ import annotations

import shlex

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asman.worker.shell import shell_words

ENV = {"FOO": "bar", "SPACED": "a b", "QUOTED": "'x' \"y\"", "FOO_BAR": "1", "EMPTY": ""}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("echo $FOO", ["echo", "bar"]),
        ("echo ${FOO}baz $FOO-x $FOO_BAR", ["echo", "barbaz", "bar-x", "1"]),
        ('echo "$FOO and ${FOO}"', ["echo", "bar and bar"]),
        # Values are never split or parsed again.
        ("echo $SPACED $QUOTED", ["echo", "a b", "'x' \"y\""]),
        # Single quotes keep the text for the program (a shell inside the container expands it there).
        ("sh -c 'echo $FOO'", ["sh", "-c", "echo $FOO"]),
        ('echo \\$FOO "\\$FOO"', ["echo", "$FOO", "$FOO"]),
        # Unset variables become nothing, as in upstream: a word that was only one stays, empty.
        ("echo $UNSET x", ["echo", "", "x"]),
        ("echo a${UNSET}b $EMPTY", ["echo", "ab", ""]),
        ("echo ${FOO:-default} $1 $?", ["echo", "", "", ""]),
        # A `$` that starts no name stays.
        ("echo $ costs 5$ $/x", ["echo", "$", "costs", "5$", "$/x"]),
        # Quoting as in sh; shell operators are plain characters.
        ("a 'b c' \"d e\" f\\ g ''", ["a", "b c", "d e", "f g", ""]),
        ('echo "a\\nb" "q\\"q"', ["echo", "a\\nb", 'q"q']),
        ("a|b; c > d *", ["a|b;", "c", ">", "d", "*"]),
        ("  spaced \t out  ", ["spaced", "out"]),
    ],
)
def test_words(text: str, words: list[str]) -> None:
    assert shell_words(text, ENV) == words


@pytest.mark.parametrize("text", ["echo 'open", 'echo "open', "echo \\", "echo ${}", "echo ${FOO", "x ${"])
def test_refused(text: str) -> None:
    with pytest.raises(ValueError):
        shell_words(text, ENV)


@given(st.text(alphabet="ab '\"\\\t|#", max_size=30))
def test_without_variables_it_splits_as_shlex_does(text: str) -> None:
    try:
        expected: list[str] | None = shlex.split(text)
    except ValueError:
        expected = None
    try:
        words: list[str] | None = shell_words(text, {})
    except ValueError:
        words = None
    assert words == expected
