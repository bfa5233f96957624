"""Archives made in memory, for build contexts."""

from __future__ import annotations

import io
import tarfile


def tar_gz(files: dict[str, str]) -> bytes:
    """A gzipped tar holding `files` (name -> text)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
