"""A real S3 API on a free port (moto's server), for tests of storage on an object store."""

from __future__ import annotations

import functools
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow.fs as pafs
import pytest
from moto.s3.responses import S3Response
from moto.server import ThreadedMotoServer
from pydantic import SecretStr

from core.filesystem import RemotePath, StorageOptions, open_storage

BUCKET = "starling-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _one_at_a_time(method: Callable[..., Any], lock: threading.Lock) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(self: S3Response, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return method(self, *args, **kwargs)

    return locked


@pytest.fixture(scope="module")
def s3_options() -> Iterator[StorageOptions]:
    """Options that reach a moto S3 server holding one empty bucket; stopped after the module."""
    # moto checks a write's If-Match / If-None-Match and then writes, each request on a thread
    # of its own: S3 does both at once, so writes and deletes here take turns as well.
    lock = threading.Lock()
    with pytest.MonkeyPatch.context() as patch:
        for name in ("put_object", "delete_object"):
            patch.setattr(S3Response, name, _one_at_a_time(getattr(S3Response, name), lock))
        yield from _server()


def _server() -> Iterator[StorageOptions]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    options = StorageOptions(
        endpoint=f"http://127.0.0.1:{port}",
        region="us-east-1",
        access_key=SecretStr("testing"),
        secret_key=SecretStr("testing"),
    )
    pafs.S3FileSystem(
        endpoint_override=f"127.0.0.1:{port}",
        scheme="http",
        region="us-east-1",
        access_key="testing",
        secret_key="testing",
        allow_bucket_creation=True,
    ).create_dir(BUCKET)
    yield options
    server.stop()


@pytest.fixture
def s3_root(s3_options: StorageOptions) -> RemotePath:
    """A fresh prefix of the bucket for one test."""
    root = open_storage(f"s3://{BUCKET}/{uuid.uuid4().hex}", s3_options)
    assert isinstance(root, RemotePath)
    return root
