"""Pure helpers of the job sequence and the build contexts: no Docker, no network."""

from __future__ import annotations

import io
import tarfile
import tempfile
import zipfile
from pathlib import Path

import pytest

from asman.core.definition import BuildSpec, JobDefinition
from asman.worker.run import (
    JobFailed,
    LogTail,
    RunSettings,
    absolute_config_path,
    build_tag,
    job_duration,
    split_command,
)
from asman.worker.runtimes import BuildError
from asman.worker.runtimes.context import (
    archive_url,
    build_args,
    context_root,
    dockerfile_name,
    pack_context,
    unpack_archive,
)
from asman.worker.runtimes.docker import epoch_ms

# -- GitHub URLs -> archive downloads ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("context", "url", "sub_folder"),
    [
        ("https://github.com/o/r", "https://github.com/o/r/archive/HEAD.tar.gz", None),
        ("https://github.com/o/r.git", "https://github.com/o/r/archive/HEAD.tar.gz", None),
        ("https://github.com/o/r/", "https://github.com/o/r/archive/HEAD.tar.gz", None),
        ("https://github.com/o/r/tree/main", "https://github.com/o/r/archive/main.tar.gz", None),
        ("https://github.com/o/r/tree/v1.2/sub/dir", "https://github.com/o/r/archive/v1.2.tar.gz", "sub/dir"),
        ("https://github.com/o/r/commit/0123abc", "https://github.com/o/r/archive/0123abc.tar.gz", None),
        ("https://www.github.com/o/r/tree/dev", "https://github.com/o/r/archive/dev.tar.gz", None),
        ("https://github.com/o/r/archive/v1.tar.gz", "https://github.com/o/r/archive/v1.tar.gz", None),
        ("https://example.org/ctx.tar.gz", "https://example.org/ctx.tar.gz", None),
        ("http://127.0.0.1:8000/ctx.zip", "http://127.0.0.1:8000/ctx.zip", None),
    ],
)
def test_archive_url(context: str, url: str, sub_folder: str | None) -> None:
    assert archive_url(context) == (url, sub_folder)


@pytest.mark.parametrize(
    "context",
    [
        "ftp://example.org/x.tar",
        "file:///etc/passwd",
        "https://github.com/o",
        "https://github.com/o/r/blob/x",
    ],
)
def test_archive_url_refuses(context: str) -> None:
    with pytest.raises(BuildError):
        archive_url(context)


# -- build tags, args, names ------------------------------------------------------------------------------------


def test_build_tag_is_stable_and_spec_dependent() -> None:
    spec = BuildSpec(dockerfile="FROM x", buildArgs=["A=1"])
    tag = build_tag(spec)
    assert tag.startswith("asman-build/") and len(tag) == len("asman-build/") + 32
    assert tag == build_tag(BuildSpec.model_validate({"buildArgs": ["A=1"], "dockerfile": "FROM x"}))
    assert tag == build_tag(
        BuildSpec.model_validate({"dockerfile": "FROM x", "buildArgs": ["A=1"], "note": "x"})
    )
    assert tag != build_tag(BuildSpec(dockerfile="FROM x", buildArgs=["A=2"]))
    assert tag != build_tag(BuildSpec(dockerfile="FROM x", buildArgs=["A=1"], target="t"))


def test_build_args() -> None:
    assert build_args(BuildSpec(buildArgs=["A=1", "B=x=y", "C"])) == {"A": "1", "B": "x=y", "C": ""}
    with pytest.raises(BuildError):
        build_args(BuildSpec(buildArgs=["=1"]))


def test_dockerfile_name() -> None:
    assert dockerfile_name(BuildSpec()) == "Dockerfile"
    assert dockerfile_name(BuildSpec(filename="docker/Prod.dockerfile")) == "docker/Prod.dockerfile"
    with pytest.raises(BuildError):
        dockerfile_name(BuildSpec(filename="../Dockerfile"))


def test_split_command() -> None:
    assert split_command("sh -c 'echo a b' $X", "command", {"X": "x"}) == ["sh", "-c", "echo a b", "x"]
    assert split_command("  ", "command", {}) is None
    assert split_command(None, "command", {}) is None
    with pytest.raises(JobFailed, match="cannot be split"):
        split_command("echo 'open", "command", {})


def test_absolute_config_path() -> None:
    assert absolute_config_path("/etc/app/config.toml") == "/etc/app/config.toml"
    assert absolute_config_path("//etc//x") == "/etc/x"
    for name in ("/", "/inputs", "/outputs/x", "/job-cache/a", "/etc/../x", "/proc/self/x"):
        with pytest.raises(JobFailed):
            absolute_config_path(name)


def test_job_duration_takes_the_tightest_limit() -> None:
    settings = RunSettings(max_job_duration_s=1200)
    assert job_duration(JobDefinition(image="x"), settings) == 1200
    assert job_duration(JobDefinition(image="x", maxDuration="90s"), settings) == 90
    definition = JobDefinition.model_validate({"image": "x", "requirements": {"maxDuration": "2m"}})
    assert job_duration(definition, settings) == 120
    assert job_duration(JobDefinition(image="x", maxDuration="2h"), settings) == 1200
    assert job_duration(JobDefinition(image="x"), RunSettings()) is None
    with pytest.raises(JobFailed, match="maxDuration"):
        job_duration(JobDefinition(image="x", maxDuration="soon"), settings)


def test_log_tail_keeps_the_last_bytes_in_time_order() -> None:
    tail = LogTail(limit=10)
    tail.add("late", 3, False)
    tail.add("early", 1, True)
    tail.add("1234567", 2, False)
    assert [line[0] for line in tail.as_result()] == ["1234567"]
    tail.add("x" * 50, 4, False)
    assert [line[0] for line in tail.as_result()] == ["x" * 50]
    ordered = LogTail(limit=1000)
    ordered.add("stdout later", 20, False)
    ordered.add("stderr earlier", 10, True)
    assert ordered.as_result() == [["stderr earlier", 10, True], ["stdout later", 20, False]]


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        (b"2026-01-02T03:04:05.678901234Z", 1767323045678),
        (b"2026-01-02T03:04:05.6Z", 1767323045600),
        (b"2026-01-02T03:04:05Z", 1767323045000),
    ],
)
def test_epoch_ms(stamp: bytes, expected: int) -> None:
    assert epoch_ms(stamp) == expected


# -- archives ---------------------------------------------------------------------------------------------------


def _tar(entries: list[tarfile.TarInfo], data: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for info in entries:
            content = data.get(info.name, b"")
            info.size = len(content) if info.isfile() else 0
            archive.addfile(info, io.BytesIO(content) if info.isfile() else None)
    return buffer.getvalue()


def _unpack(data: bytes, dest: Path) -> None:
    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder) / "archive"
        archive.write_bytes(data)
        unpack_archive(archive, dest)


def test_unpack_strips_the_single_root_and_picks_the_sub_folder(tmp_path: Path) -> None:
    files = {
        "repo-abc/README": b"r",
        "repo-abc/app/Dockerfile": b"FROM x",
        "repo-abc/app/src/main.py": b"print()",
    }
    _unpack(_tar([tarfile.TarInfo(name) for name in files], files), tmp_path)
    root = context_root(tmp_path, "app")
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == [
        "Dockerfile",
        "src/main.py",
    ]
    with pytest.raises(BuildError):
        context_root(tmp_path, "../..")


def test_unpack_refuses_escaping_tar_entries(tmp_path: Path) -> None:
    with pytest.raises(BuildError):
        _unpack(_tar([tarfile.TarInfo("../evil")], {"../evil": b"x"}), tmp_path / "out")
    assert not (tmp_path / "evil").exists()
    link = tarfile.TarInfo("link")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    with pytest.raises(BuildError):
        _unpack(_tar([link], {}), tmp_path / "out2")


def test_unpack_keeps_absolute_tar_entries_inside(tmp_path: Path) -> None:
    _unpack(_tar([tarfile.TarInfo("/abs/file")], {"/abs/file": b"x"}), tmp_path / "out")
    assert (tmp_path / "out" / "abs" / "file").read_bytes() == b"x"


def test_unpack_refuses_escaping_zip_entries(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../evil", "x")
    with pytest.raises(BuildError, match="bad entry"):
        _unpack(buffer.getvalue(), tmp_path / "out")


def test_unpack_refuses_garbage(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="not a readable"):
        _unpack(b"this is not an archive", tmp_path)


def test_pack_context_with_inline_dockerfile_overriding(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM old")
    (tmp_path / "app.txt").write_text("app")
    packed = pack_context(tmp_path, "Dockerfile", "FROM new")
    with tarfile.open(fileobj=io.BytesIO(packed)) as archive:
        names = archive.getnames()
        dockerfile = archive.extractfile("Dockerfile")
        assert dockerfile is not None and dockerfile.read() == b"FROM new"
    assert sorted(names) == ["Dockerfile", "app.txt"]
    alone = pack_context(None, "Dockerfile", "FROM scratch")
    with tarfile.open(fileobj=io.BytesIO(alone)) as archive:
        assert archive.getnames() == ["Dockerfile"]
