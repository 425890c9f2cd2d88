"""Conditional writes on an object store: write an object only if it is absent, or still the
one a writer read (compare-and-swap by ETag), and delete it on the same condition.

pyarrow's filesystems have no such call, so on S3 these go through boto3, built from the
options the `RemotePath` was opened with. Other stores (gs://, hdfs://) get plain writes and a
warning: there, keeping to one writer is the operator's job.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import cache, lru_cache
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from core.filesystem import RemotePath, StorageOptions

log = logging.getLogger(__name__)

# 412: the object changed (or appeared) since it was read; 404: an If-Match on an object that
# is gone. 409 is another conditional request on the same object in flight: asked again below.
_CONFLICT_STATUS = {404, 412}
_RETRY_CONFLICTS = 5


class ConditionFailedError(RuntimeError):
    """An object was written or removed by someone else since it was read."""


class ObjectVersion(NamedTuple):
    body: bytes
    etag: str | None


def supports_conditions(path: RemotePath) -> bool:
    return path.scheme == "s3"


@cache
def warn_unconditional(scheme: str) -> None:
    """Once per scheme: writes there cannot check that no one else wrote in between."""
    log.warning(
        "%s:// has no conditional writes through pyarrow: Starling cannot refuse a second "
        "writer of a folder there; run one ingest or events consumer at a time",
        scheme,
    )


_SESSION_LOCK = threading.Lock()


@cache
def _session() -> Any:
    """One session for every client: a session reads the S3 API's model once, which takes
    longer than a lease's renewal interval; making clients from it is cheap (but not
    thread-safe). boto3 is imported here, on first use: it adds most of a second to the start
    of every command, and only object-store writes need it."""
    import boto3

    return boto3.session.Session()


@lru_cache(maxsize=64)
def _client(options: StorageOptions, thread: int) -> Any:
    """An S3 client for one thread (clients are thread-safe; one per thread keeps writers in
    one process as separate as writers in two)."""
    arguments: dict[str, Any] = {"region_name": options.region}
    if options.endpoint:
        endpoint = options.endpoint
        # pyarrow reads an endpoint without a scheme as https.
        arguments["endpoint_url"] = endpoint if "://" in endpoint else f"https://{endpoint}"
    if options.access_key and options.secret_key:
        arguments["aws_access_key_id"] = options.access_key.get_secret_value()
        arguments["aws_secret_access_key"] = options.secret_key.get_secret_value()
    from botocore.config import Config  # with boto3, on first use (see `_session`)

    # Path-style addressing, as pyarrow uses for an endpoint override (MinIO, moto).
    style = "path" if options.endpoint else "auto"
    config = Config(s3={"addressing_style": style}, retries={"mode": "standard"})
    with _SESSION_LOCK:
        return _session().client("s3", config=config, **arguments)


def _s3(path: RemotePath) -> tuple[Any, str, str]:
    bucket, _, key = path.path.partition("/")
    return _client(path.options or StorageOptions(), threading.get_ident()), bucket, key


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def read_object(path: RemotePath) -> ObjectVersion | None:
    """An object's content and ETag, read together; None when there is none."""
    if not supports_conditions(path):
        return ObjectVersion(path.read_bytes(), None) if path.is_file() else None
    client, bucket, key = _s3(path)
    try:
        answer = client.get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if _status(error) == 404:
            return None
        raise
    return ObjectVersion(answer["Body"].read(), answer["ETag"])


def put_object(path: RemotePath, body: bytes, if_match: str | None) -> str | None:
    """Write `body` only if the object is still the one with ETag `if_match` (with None: only
    if there is none); returns the new ETag. Raises ConditionFailedError otherwise.

    `body` must be unique to this write (name its writer): finding it there counts as success.
    """
    if not supports_conditions(path):
        warn_unconditional(path.scheme)
        path.write_bytes(body)
        return None
    client, bucket, key = _s3(path)
    condition = {"IfMatch": if_match} if if_match else {"IfNoneMatch": "*"}
    attempt = 0
    while True:
        try:
            return client.put_object(Bucket=bucket, Key=key, Body=body, **condition)["ETag"]
        except ClientError as error:
            if _status(error) in _CONFLICT_STATUS:
                # A write whose answer was lost and that botocore sent again fails its own
                # condition: the body (unique to its writer) tells that it landed.
                landed = read_object(path)
                if landed is not None and landed.body == body:
                    return landed.etag
                raise ConditionFailedError(f"{path} changed since it was read") from None
            attempt += 1
            if _status(error) != 409 or attempt == _RETRY_CONFLICTS:
                raise
            time.sleep(0.05 * attempt)


def delete_object(path: RemotePath, if_match: str) -> None:
    """Delete an object only if it is still the one with ETag `if_match`."""
    client, bucket, key = _s3(path)
    try:
        client.delete_object(Bucket=bucket, Key=key, IfMatch=if_match)
    except ClientError as error:
        if _status(error) in _CONFLICT_STATUS | {409}:
            raise ConditionFailedError(f"{path} changed since it was read") from None
        raise
