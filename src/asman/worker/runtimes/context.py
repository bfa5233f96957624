"""Build contexts: a job's `build` spec turned into the tar stream a Docker engine builds from.

A context is an inline Dockerfile alone, or a URL: a GitHub repository (`https://github.com/o/r`, `/tree/<ref>`,
`/commit/<sha>`, downloaded as the archive GitHub serves for that ref) or any tarball/zip URL. Archives are
unpacked with path checks (no absolute names, no `..`, no devices), a single top-level folder is stripped (as
GitHub and most release tarballs have one), then `buildContext` picks a sub-folder.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import stat
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote, urlsplit

from asman.core.definition import BuildSpec
from asman.core.errors import InvalidInput
from asman.core.names import safe_relative_path
from asman.worker.images import (
    RefusedDockerfile,
    dockerfile_images,
    internal_registry,
    internal_registry_refusal,
)
from asman.worker.runtimes.base import BuildError, BuildOptions, ContainerRuntime

MAX_DOWNLOAD_BYTES = 512 * 1024**2  # the archive of a context URL
MAX_UNPACKED_BYTES = 2 * 1024**3
DEFAULT_DOCKERFILE = "Dockerfile"
_GITHUB_HOSTS = frozenset({"github.com", "www.github.com"})


def archive_url(context: str) -> tuple[str, str | None]:
    """The URL to download for a context URL, and the sub-folder of the archive it points into (or None).

    GitHub repository pages become archive downloads; `/tree/<ref>/<path>` takes the first segment as the ref
    (branch names with '/' are ambiguous there: use `/commit/<sha>` or a tag). Other URLs are returned as is.
    """
    parts = urlsplit(context)
    if parts.scheme not in ("http", "https"):
        raise BuildError(f"build context {context[:200]!r} is not an http(s) URL")
    if parts.hostname not in _GITHUB_HOSTS:
        return context, None
    segments = [segment for segment in parts.path.split("/") if segment]
    if len(segments) < 2:
        raise BuildError(
            f"build context {context[:200]!r} is not a GitHub repository URL (https://github.com/o/r)"
        )
    owner, repo = segments[0], segments[1].removesuffix(".git")
    rest = segments[2:]
    base = f"https://github.com/{quote(owner)}/{quote(repo)}/archive"
    if not rest:
        return f"{base}/HEAD.tar.gz", None
    if rest[0] == "tree" and len(rest) >= 2:
        return f"{base}/{quote(rest[1])}.tar.gz", "/".join(rest[2:]) or None
    if rest[0] == "commit" and len(rest) == 2:
        return f"{base}/{quote(rest[1])}.tar.gz", None
    if rest[0] == "archive":
        return context, None
    raise BuildError(
        f"build context {context[:200]!r}: use https://github.com/o/r, .../tree/<ref> or .../commit/<sha>"
    )


def dockerfile_name(build: BuildSpec) -> str:
    try:
        return safe_relative_path(build.filename) if build.filename else DEFAULT_DOCKERFILE
    except InvalidInput as error:
        raise BuildError(f"build filename: {error.message}") from None


def build_args(build: BuildSpec) -> dict[str, str]:
    """`["K=V", ...]` as a dict; a bare `K` passes an empty value, as `docker build --build-arg K=` does."""
    args: dict[str, str] = {}
    for item in build.buildArgs or []:
        key, _, value = item.partition("=")
        if not key:
            raise BuildError(f"build arg {item[:80]!r} has no name: use 'NAME=value'")
        args[key] = value
    return args


def unpack_archive(path: Path, dest: Path) -> None:
    """Unpack a tar (plain, gz, bz2, xz) or zip archive into `dest`, refusing entries that escape it."""
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic == b"PK\x03\x04":
        _unpack_zip(path, dest)
        return
    try:
        with tarfile.open(path, mode="r:*") as archive:
            members = archive.getmembers()
            if sum(member.size for member in members) > MAX_UNPACKED_BYTES:
                raise BuildError("the build context archive unpacks to more than 2 GiB")
            archive.extractall(dest, members=members, filter="data")
    except (tarfile.TarError, OSError, EOFError) as error:
        raise BuildError(f"the build context is not a readable tar or zip archive: {error}") from None


def _unpack_zip(path: Path, dest: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if sum(info.file_size for info in infos) > MAX_UNPACKED_BYTES:
                raise BuildError("the build context archive unpacks to more than 2 GiB")
            for info in infos:
                name = safe_relative_path(info.filename)
                target = dest / name
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    continue  # symlinks in zips are rare and easy to abuse: skip them
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, target.open("wb") as sink:
                    shutil.copyfileobj(source, sink)
                if mode & 0o111:
                    target.chmod(0o755)
    except InvalidInput as error:
        raise BuildError(f"the build context archive has a bad entry: {error.message}") from None
    except (zipfile.BadZipFile, OSError) as error:
        raise BuildError(f"the build context is not a readable zip archive: {error}") from None


def context_root(unpacked: Path, sub_folder: str | None) -> Path:
    """Strip a single top-level folder, then descend into `sub_folder` (relative, checked)."""
    root = unpacked
    entries = list(root.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        root = entries[0]
    if sub_folder:
        try:
            relative = safe_relative_path(sub_folder)
        except InvalidInput as error:
            raise BuildError(f"buildContext: {error.message}") from None
        root = root / relative
        if not root.is_dir() or root.is_symlink():
            raise BuildError(f"buildContext {sub_folder!r} is not a folder of the build context")
    return root


def pack_context(root: Path | None, dockerfile: str, inline_dockerfile: str | None) -> bytes:
    """A tar of `root` (or an empty context), with `inline_dockerfile` written at `dockerfile` if given."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        if root is not None:
            for path in sorted(root.rglob("*")):
                name = path.relative_to(root).as_posix()
                if inline_dockerfile is not None and name == dockerfile:
                    continue
                archive.add(path, arcname=name, recursive=False)
        if inline_dockerfile is not None:
            content = inline_dockerfile.encode("utf-8")
            info = tarfile.TarInfo(dockerfile)
            info.size = len(content)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


class BuildContext(NamedTuple):
    tar: bytes  # what the engine builds from
    dockerfile: str  # the Dockerfile's path inside it
    text: str  # the Dockerfile itself


async def make_context(build: BuildSpec, archive: Path | None) -> BuildContext:
    """The context to send to the engine; `archive` is the downloaded `context` URL (the worker fetches it,
    under its URL policy)."""
    dockerfile = dockerfile_name(build)
    if not build.context:
        if not build.dockerfile:
            raise BuildError("a build needs a 'context' URL or an inline 'dockerfile'")
        return BuildContext(pack_context(None, dockerfile, build.dockerfile), dockerfile, build.dockerfile)
    if archive is None:
        raise BuildError("the build context was not downloaded")
    _, sub_folder = archive_url(build.context)
    if build.buildContext:
        sub_folder = f"{sub_folder}/{build.buildContext}" if sub_folder else build.buildContext

    def unpack_and_pack() -> BuildContext:
        with tempfile.TemporaryDirectory(prefix="asman-ctx-") as tmp:
            unpack_archive(archive, Path(tmp))
            root = context_root(Path(tmp), sub_folder)
            if build.dockerfile is None and not (root / dockerfile).is_file():
                raise BuildError(
                    f"the build context has no {dockerfile} (set 'filename' or an inline 'dockerfile')"
                )
            text = build.dockerfile
            if text is None:
                text = (root / dockerfile).read_text("utf-8", errors="replace")
            return BuildContext(pack_context(root, dockerfile, build.dockerfile), dockerfile, text)

    return await asyncio.to_thread(unpack_and_pack)


async def ensure_base_images(
    runtime: ContainerRuntime, dockerfile: str, build: BuildSpec, options: BuildOptions
) -> None:
    """Pull the images a Dockerfile builds from before the build, under the rules of a job's image (no
    internal registry unless allowed, credentials only for listed registries), so the engine never pulls one
    on its own during the build."""
    try:
        bases = dockerfile_images(dockerfile, build_args(build))
    except RefusedDockerfile as error:
        raise BuildError(str(error)) from None
    for base in bases:
        if await runtime.has_image(base):
            continue
        if not options.allow_private_registries:
            address = await internal_registry(base)
            if address is not None:
                raise BuildError(internal_registry_refusal(base, address))
        await runtime.ensure_image(base, options.credential_registries)
