"""Shared storage: a local folder stays a `pathlib.Path`; a URI (s3://, gs://, hdfs://) becomes
a `RemotePath` over a `pyarrow.fs.FileSystem` with the few path operations Starling uses.

Code that handles a `StoragePath` uses the methods both types share (`/`, `name`, `exists`,
`iterdir`, `read_text`, ...) and the functions below for Arrow I/O, so local folders keep
their plain pathlib and os code paths (and speed).
"""

from __future__ import annotations

import fnmatch
import io
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from pydantic import BaseModel, SecretStr

_LOCAL_SCHEMES = {"", "file"}


class StorageOptions(BaseModel, frozen=True):
    """How to reach an object store; unset values fall back to the store's own defaults
    (for S3: the AWS environment variables, config files and instance metadata)."""

    endpoint: str | None = None
    region: str | None = None
    access_key: SecretStr | None = None
    secret_key: SecretStr | None = None


@dataclass(frozen=True)
class RemotePath:
    """A file or folder on a pyarrow FileSystem, addressed like a `pathlib.Path`.

    Folders are prefixes: they exist while a file lies under them, and `mkdir` does nothing.
    `options` are those the store was opened with: conditional writes (`core.object_lease`),
    which pyarrow has no call for, reach the same store through its own client.
    """

    fs: pafs.FileSystem
    path: str
    scheme: str
    options: StorageOptions | None = None

    def __truediv__(self, name: str) -> RemotePath:
        return replace(self, path=f"{self.path.rstrip('/')}/{name}")

    def __str__(self) -> str:
        return f"{self.scheme}://{self.path}"

    def __lt__(self, other: RemotePath) -> bool:
        return self.path < other.path

    @property
    def name(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    @property
    def parent(self) -> RemotePath:
        return replace(self, path=self.path.rstrip("/").rsplit("/", 1)[0])

    def with_name(self, name: str) -> RemotePath:
        return self.parent / name

    def _info(self) -> pafs.FileInfo:
        return self.fs.get_file_info(self.path)

    def exists(self) -> bool:
        return self._info().type != pafs.FileType.NotFound

    def is_dir(self) -> bool:
        return self._info().type == pafs.FileType.Directory

    def is_file(self) -> bool:
        return self._info().type == pafs.FileType.File

    def children(self, recursive: bool) -> list[pafs.FileInfo]:
        """What lies under this folder (nothing when it does not exist)."""
        selector = pafs.FileSelector(self.path, allow_not_found=True, recursive=recursive)
        return self.fs.get_file_info(selector)

    def iterdir(self) -> Iterator[RemotePath]:
        for info in self.children(recursive=False):
            yield replace(self, path=info.path)

    def glob(self, pattern: str) -> Iterator[RemotePath]:
        """Children whose name matches `pattern` (one level, like `Path.glob` without `/`)."""
        return (p for p in self.iterdir() if fnmatch.fnmatch(p.name, pattern))

    def rglob(self, pattern: str) -> Iterator[RemotePath]:
        for info in self.children(recursive=True):
            if fnmatch.fnmatch(info.base_name, pattern):
                yield replace(self, path=info.path)

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        """Nothing to do: object stores create prefixes with their first object."""

    def read_bytes(self) -> bytes:
        with self.fs.open_input_stream(self.path) as stream:
            return stream.read()

    def read_text(self) -> str:
        return self.read_bytes().decode()

    def write_bytes(self, data: bytes) -> None:
        """One PUT: readers see the old object or the new one, never part of one."""
        with self.fs.open_output_stream(self.path) as stream:
            stream.write(data)

    def write_text(self, text: str) -> None:
        self.write_bytes(text.encode())

    def size_and_mtime(self) -> tuple[int, int]:
        info = self._info()
        return info.size or 0, info.mtime_ns or 0

    def unlink(self, missing_ok: bool = False) -> None:
        if missing_ok and not self.exists():
            return
        self.fs.delete_file(self.path)


StoragePath = Path | RemotePath


def open_storage(uri: str, options: StorageOptions | None = None) -> StoragePath:
    """A local folder (a plain path or file:// URI) as a resolved Path, anything else as a
    RemotePath on the filesystem pyarrow has for its scheme."""
    parsed = urlparse(uri)
    if parsed.scheme in _LOCAL_SCHEMES or len(parsed.scheme) == 1:  # `C:` is a drive
        local = parsed.path if parsed.scheme == "file" else uri
        return Path(local).expanduser().resolve()
    options = options or StorageOptions()
    if parsed.scheme == "s3":
        fs: pafs.FileSystem = pafs.S3FileSystem(**_s3_arguments(options))
        path = f"{parsed.netloc}{parsed.path}"
    else:
        fs, path = pafs.FileSystem.from_uri(uri)
    return RemotePath(fs, path.rstrip("/"), parsed.scheme, options)


def _s3_arguments(options: StorageOptions) -> dict[str, Any]:
    arguments: dict[str, Any] = {}
    if options.endpoint:
        endpoint = urlparse(options.endpoint)
        # pyarrow takes the scheme apart from `host:port`; S3-compatible stores in a
        # cluster (MinIO, moto) often speak plain http.
        if endpoint.scheme in ("http", "https"):
            arguments["endpoint_override"] = endpoint.netloc
            arguments["scheme"] = endpoint.scheme
        else:
            arguments["endpoint_override"] = options.endpoint
    if options.region:
        arguments["region"] = options.region
    if options.access_key and options.secret_key:
        arguments["access_key"] = options.access_key.get_secret_value()
        arguments["secret_key"] = options.secret_key.get_secret_value()
    return arguments


def arrow_location(path: StoragePath) -> tuple[str, pafs.FileSystem | None]:
    """The (path, filesystem) pair that pyarrow and Ray Data readers and writers take; no
    filesystem for a local path, so that they handle it as they always did."""
    if isinstance(path, RemotePath):
        return path.path, path.fs
    return str(path), None


def read_parquet(path: StoragePath, **kwargs: Any) -> pa.Table:
    """`pq.read_table` of a file or folder on any storage."""
    if isinstance(path, RemotePath):
        return pq.read_table(path.path, filesystem=path.fs, **kwargs)
    return pq.read_table(path, **kwargs)


def write_parquet(table: pa.Table, path: StoragePath, **kwargs: Any) -> None:
    if isinstance(path, RemotePath):
        pq.write_table(table, path.path, filesystem=path.fs, **kwargs)
    else:
        pq.write_table(table, path, **kwargs)


def parquet_rows(path: StoragePath) -> int:
    """Rows of one Parquet file, from its footer."""
    if isinstance(path, RemotePath):
        with path.fs.open_input_file(path.path) as source:
            return pq.ParquetFile(source).metadata.num_rows
    return pq.ParquetFile(path).metadata.num_rows


def open_input(path: StoragePath) -> pa.NativeFile:
    """A random-access reader (a memory map for local files)."""
    if isinstance(path, RemotePath):
        return path.fs.open_input_file(path.path)
    return pa.memory_map(str(path))


def open_output(path: StoragePath) -> pa.NativeFile:
    if isinstance(path, RemotePath):
        return path.fs.open_output_stream(path.path)
    return pa.OSFile(str(path), "wb")


def write_png(figure: Any, path: StoragePath, dpi: int = 100) -> None:
    """Save a matplotlib figure as PNG on any storage (matplotlib itself writes local files)."""
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=dpi)
    path.write_bytes(png.getvalue())


def remove_tree(path: StoragePath) -> None:
    """Delete a folder and everything under it; a missing folder is fine."""
    if isinstance(path, RemotePath):
        if path.is_dir():
            path.fs.delete_dir(path.path)
        return
    shutil.rmtree(path, ignore_errors=True)


def copy_tree(source: StoragePath, target: StoragePath) -> None:
    """Copy the files of a folder (hard links on a local disk, server-side copies on a store).

    Both sides are on the same storage: a version of a folder is copied beside the old one.
    """
    if isinstance(source, RemotePath) and isinstance(target, RemotePath):
        for info in source.children(recursive=True):
            if info.type == pafs.FileType.File:
                relative = info.path[len(source.path) + 1 :]
                source.fs.copy_file(info.path, f"{target.path}/{relative}")
        return
    if isinstance(source, RemotePath) or isinstance(target, RemotePath):
        raise TypeError(f"copy_tree copies within one storage, not {source} -> {target}")
    target.mkdir(parents=True)
    for file in source.iterdir():
        try:
            os.link(file, target / file.name)
        except OSError:
            shutil.copy2(file, target / file.name)


def download_tree(source: StoragePath, target: Path) -> None:
    """Copy a folder of any storage into a new local folder."""
    path, fs = arrow_location(source)
    target.mkdir(parents=True, exist_ok=True)
    pafs.copy_files(path, str(target), source_filesystem=fs)


def upload_tree(source: Path, target: StoragePath) -> None:
    """Copy a local folder's files under `target` on any storage."""
    path, fs = arrow_location(target)
    pafs.copy_files(str(source), path, destination_filesystem=fs)
