"""Local files and bytes as DataRefs, and DataRefs back to bytes. File reads, no network.

A job's inputs travel as DataRefs: content of at most `INLINE_LIMIT` bytes inline (`utf8` when it is text,
`base64` otherwise); anything larger is uploaded once to `/f/<sha256>` and referenced as
`{"type": "url", "value": "<api>/f/<sha256>", "hash": "<sha256>"}`.

A file becomes the input named after it (`data/a.csv` -> `/inputs/a.csv`); a folder keeps its own name and the
relative paths below it (`data/` -> `/inputs/data/a.csv`, `/inputs/data/sub/b.csv`), as `cp -r` would.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asman.client.errors import DownloadFailed, InvalidJob
from asman.core.definition import DataRef
from asman.core.errors import InvalidInput
from asman.core.names import safe_relative_path

INLINE_LIMIT = 200
CHUNK_BYTES = 1 << 20

PathArg = str | os.PathLike[str]


@dataclass(frozen=True)
class Upload:
    """Content too large to travel inline: it goes to `/f/<key>` before the job is submitted."""

    name: str
    key: str
    size: int
    path: Path | None = None
    data: bytes | None = None

    def chunks(self) -> Iterator[bytes]:
        if self.data is not None:
            yield self.data
            return
        assert self.path is not None
        with self.path.open("rb") as file:
            while chunk := file.read(CHUNK_BYTES):
                yield chunk

    async def async_chunks(self) -> AsyncIterator[bytes]:
        """The content, read in a thread chunk by chunk so the event loop never waits on the disk."""
        if self.data is not None:
            yield self.data
            return
        assert self.path is not None
        file = await asyncio.to_thread(self.path.open, "rb")
        try:
            while chunk := await asyncio.to_thread(file.read, CHUNK_BYTES):
                yield chunk
        finally:
            file.close()


@dataclass(frozen=True)
class PreparedInputs:
    """Input DataRefs by name, plus the uploads that must exist before the `url` refs among them resolve."""

    refs: dict[str, dict[str, Any]]
    uploads: list[Upload]


def inline_ref(data: bytes) -> dict[str, Any]:
    try:
        return {"type": "utf8", "value": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"type": "base64", "value": base64.b64encode(data).decode("ascii")}


def url_ref(api_url: str, key: str) -> dict[str, Any]:
    return {"type": "url", "value": f"{api_url.rstrip('/')}/f/{key}", "hash": key}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def input_name(name: str) -> str:
    """A clean relative input name, or InvalidJob saying why it cannot be one."""
    try:
        return safe_relative_path(name)
    except InvalidInput as error:
        raise InvalidJob(f"input {error.message}") from None


def collect_files(paths: Iterable[PathArg]) -> dict[str, Path]:
    """Input name -> local file, for files and folders (walked in sorted order, symlinks to files followed)."""
    found: dict[str, Path] = {}

    def add(name: str, path: Path) -> None:
        name = input_name(name)
        if name in found and found[name] != path:
            raise InvalidJob(
                f"two files would both be the input {name!r} ({found[name]} and {path}): rename one,"
                " or put them in different folders and pass the folders"
            )
        found[name] = path

    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_file():
            add(path.name, path)
        elif path.is_dir():
            root = path.resolve()
            for folder, dirs, files in os.walk(root):
                dirs.sort()
                for file in sorted(files):
                    full = Path(folder) / file
                    if full.is_file():
                        add(f"{root.name}/{full.relative_to(root).as_posix()}", full)
        elif path.exists():
            raise InvalidJob(
                f"{raw} is neither a file nor a folder: only files and folders can be job inputs"
            )
        else:
            raise InvalidJob(f"no such file or folder: {raw} (relative paths start at {Path.cwd()})")
    return found


def prepare_inputs(
    api_url: str, files: Iterable[PathArg] = (), contents: Mapping[str, bytes | str] | None = None
) -> PreparedInputs:
    """DataRefs for local files and in-memory contents; reads (and hashes) the files."""
    refs: dict[str, dict[str, Any]] = {}
    uploads: list[Upload] = []
    for name, path in collect_files(files).items():
        size = path.stat().st_size
        if size <= INLINE_LIMIT:
            refs[name] = inline_ref(path.read_bytes())
            continue
        key = sha256_file(path)
        refs[name] = url_ref(api_url, key)
        uploads.append(Upload(name, key, size, path=path))
    for raw_name, content in (contents or {}).items():
        name = input_name(raw_name)
        if name in refs:
            raise InvalidJob(f"the input {name!r} is given twice: as a file and as content")
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        if len(data) <= INLINE_LIMIT:
            refs[name] = inline_ref(data)
            continue
        key = hashlib.sha256(data).hexdigest()
        refs[name] = url_ref(api_url, key)
        uploads.append(Upload(name, key, len(data), data=data))
    # One upload per distinct content: the same bytes under two names are sent once.
    unique = list({upload.key: upload for upload in uploads}.values())
    return PreparedInputs(refs, unique)


def decode_inline(name: str, ref: Any) -> bytes | None:
    """The bytes of an inline DataRef; None for `url`/`key` refs, which must be fetched."""
    try:
        return DataRef.model_validate(ref).inline_bytes()
    except InvalidInput as error:
        raise DownloadFailed(f"output {name!r} is {error.message}") from None
    except ValueError:
        raise DownloadFailed(f"output {name!r} is not a DataRef: {str(ref)[:100]}") from None


def fetch_url(api_url: str, ref: dict[str, Any]) -> str:
    """Where to download a `url` or `key` DataRef from."""
    value = str(ref.get("value") or "")
    if ref.get("type") == "key":
        return f"{api_url.rstrip('/')}/f/{value}"
    return value


def output_path(folder: Path, name: str) -> Path:
    """Where output `name` goes under `folder`; names that would climb out of it are refused."""
    try:
        return folder / safe_relative_path(name)
    except InvalidInput:
        raise DownloadFailed(f"refusing to write output {name[:100]!r} outside {folder}") from None
