from __future__ import annotations

import pytest

from asman.core.errors import InvalidInput
from asman.core.names import check_blob_key, check_queue, is_content_key, new_queue_name, safe_relative_path
from asman.core.units import parse_duration, parse_size
from asman.settings import Settings


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("20m", 1200), ("1h30m", 5400), ("2", 2), ("1d", 86400)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "5 parsecs", "10x"])
def test_bad_durations_say_what_to_write(text: str) -> None:
    with pytest.raises(ValueError, match="20m"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "size"),
    [("4g", 4 * 1024**3), ("512m", 512 * 1024**2), ("2GiB", 2 * 1024**3), ("100", 100), ("1.5k", 1536)],
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("name", ["demo", "a.b_c~d-e", "x" * 128])
def test_good_queue_names(name: str) -> None:
    assert check_queue(name) == name


@pytest.mark.parametrize("name", ["", "x" * 129, "a/b", "a b", "..", "q?x", "ünï"])
def test_bad_queue_names(name: str) -> None:
    with pytest.raises(InvalidInput, match="POST /q"):
        check_queue(name)


@pytest.mark.parametrize(
    "key",
    ["../etc/passwd", "/abs", "a\\b", "a" * 63 + "\x00", "line\nbreak", "..", ".", "", "x" * 256, "é" * 128],
)
def test_hostile_blob_keys(key: str) -> None:
    with pytest.raises(InvalidInput):
        check_blob_key(key)


@pytest.mark.parametrize(
    "key", ["a" * 64, "1764590000000-k3x9q2-data.csv", "abc.tar.gz", "A" * 64, "with space"]
)
def test_any_single_safe_segment_is_a_blob_key(key: str) -> None:
    assert check_blob_key(key) == key
    assert is_content_key(key) == (key == "a" * 64)


@pytest.mark.parametrize(("name", "clean"), [("a.txt", "a.txt"), ("d/./e.txt", "d/e.txt"), ("d//e", "d/e")])
def test_relative_paths(name: str, clean: str) -> None:
    assert safe_relative_path(name) == clean


@pytest.mark.parametrize("name", ["../x", "a/../../x", "/etc/passwd", "a\x00b", "", ".", "\\x"])
def test_hostile_relative_paths(name: str) -> None:
    with pytest.raises(InvalidInput):
        safe_relative_path(name)


def test_fresh_queue_names_are_long_and_valid() -> None:
    names = {new_queue_name() for _ in range(2000)}
    assert len(names) == 2000
    for name in names:
        assert len(name) >= 22
        check_queue(name)
        assert name[0].isalnum(), f"{name!r} would read as an option on a command line"


def test_settings_from_env() -> None:
    settings = Settings.from_env(
        {"ASMAN_PORT": "9000", "ASMAN_TTL": "2d", "ASMAN_MAX_BODY_BYTES": "1m", "ASMAN_DATA_DIR": "/tmp/x"}
    )
    assert settings.port == 9000
    assert settings.ttl_seconds == 2 * 86400
    assert settings.max_body_bytes == 1024**2
    assert str(settings.data_dir) == "/tmp/x"
    assert settings.store_url == "sqlite:////tmp/x/asman.sqlite3"
