"""The export's object in S3: written as it is produced, never held whole in memory.

`S3Sink` is a write-only file: bytes are buffered up to one part (`PART_BYTES`); a file
that ends within its first part is stored with one ``PutObject``, a larger one becomes a
multipart upload whose parts are sent as they fill, so memory is bounded by one part
whatever the report's size. On any failure the multipart upload is aborted: S3 never
shows a half object (parts of an unfinished upload are not an object, and the abort frees
them). The presigned URL is signed with Signature Version 4 (``X-Amz-Expires``), which is
also what AWS requires for new regions and KMS-encrypted buckets; botocore's default for
S3 presigning in us-east-1 is still the deprecated version 2.
"""

from __future__ import annotations

import contextlib
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared import aws
from shared.errors import ApiError

PART_BYTES = 8 * 1024 * 1024  # S3's minimum part is 5 MiB (except the last)


def s3() -> Any:
    """The instance's S3 client (`shared.aws`: Signature Version 4)."""
    return aws.client("s3")


def storage_failed() -> ApiError:
    return ApiError(
        503,
        "service_unavailable",
        "the export could not be stored; nothing was kept, retry shortly",
        headers={"Retry-After": "5"},
    )


class S3Sink:
    """A write-only, non-seekable file whose bytes end up in ``s3://bucket/key``.

    Use as a context manager: leaving it normally completes the object, leaving it by an
    exception aborts the upload. ``tell()`` is the number of bytes written (what
    ``zipfile`` needs to write an XLSX to a stream).
    """

    def __init__(
        self,
        client: Any,
        bucket: str,
        key: str,
        *,
        content_type: str,
        disposition: str,
        part_bytes: int = PART_BYTES,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.key = key
        self.extra = {"ContentType": content_type, "ContentDisposition": disposition}
        self.part_bytes = part_bytes
        self.buffer = bytearray()
        self.written = 0
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []
        self.closed = False

    # file protocol ---------------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self.closed:
            raise ValueError("write to a closed export")
        size = len(data)
        self.buffer += data
        self.written += size
        while len(self.buffer) >= self.part_bytes:
            self._send_part(bytes(self.buffer[: self.part_bytes]))
            del self.buffer[: self.part_bytes]
        return size

    def tell(self) -> int:
        return self.written

    def flush(self) -> None:
        """Nothing to do: parts are sent when full."""

    def writable(self) -> bool:
        return True

    # S3 ---------------------------------------------------------------------------------

    def _send_part(self, body: bytes) -> None:
        if self.upload_id is None:
            started = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, **self.extra
            )
            self.upload_id = str(started["UploadId"])
        number = len(self.parts) + 1
        sent = self.client.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=body
        )
        self.parts.append({"PartNumber": number, "ETag": sent["ETag"]})

    def complete(self) -> None:
        """Stores what was written: one PUT, or the last part and the completion."""
        self.closed = True
        if self.upload_id is None:
            self.client.put_object(
                Bucket=self.bucket, Key=self.key, Body=bytes(self.buffer), **self.extra
            )
        else:
            if self.buffer:
                self._send_part(bytes(self.buffer))
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                MultipartUpload={"Parts": self.parts},
            )
        self.buffer = bytearray()

    def abort(self) -> None:
        """Drops whatever was sent; never raises (it runs while another error is raised)."""
        self.closed = True
        self.buffer = bytearray()
        if self.upload_id is not None:
            # If the abort fails too, the bucket's lifecycle rule removes the parts a day later.
            with contextlib.suppress(BotoCoreError, ClientError):
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=self.key, UploadId=self.upload_id
                )

    def __enter__(self) -> S3Sink:
        return self

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        if kind is not None:
            self.abort()
            return
        try:
            self.complete()
        except BaseException:
            self.abort()
            raise


def presigned_get(client: Any, bucket: str, key: str, seconds: int) -> str:
    url: str = client.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=seconds
    )
    return url
