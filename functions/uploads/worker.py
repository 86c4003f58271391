"""The check of a landed logo or avatar: invoked by the images bucket's ``ObjectCreated``
event for ``.upload`` keys (no HTTP).

For each record: the object is read (at most the upload's 5 MiB), opened with Pillow and
accepted only when it is a PNG, JPEG or WebP of the type declared when the POST was signed,
of at most 40 megapixels (decompression bombs) — anything else is rejected with a reason.
An accepted image is re-encoded (which drops EXIF, XMP, ICC and text chunks: the pixels
only), its orientation applied, bounded to ``MAX_SIDE`` pixels, written beside the original
as ``<id>.<ext>``, and the original deleted. ``finish_upload`` (service role, once per key:
a redelivered event finds the upload finished and does nothing) records the verdict and
makes the image the organization's logo — with a small PNG as an inline data: URL for the
PDFs, which fetch nothing while rendering — or the client's avatar.
"""

from __future__ import annotations

import base64
import io
import warnings
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import BotoCoreError, ClientError
from PIL import Image, ImageOps

from shared import aws, db
from shared.log import get_logger
from shared.models.uploads import MAX_UPLOAD_BYTES
from shared.settings import get_settings

MAX_PIXELS = 40_000_000
MAX_SIDE = {"logo": 1024, "avatar": 512}
# The PDFs' inline logo: at most this many pixels a side and bytes.
INLINE_SIDE = 256
INLINE_MAX_BYTES = 180_000
FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}


class Rejected(ValueError):
    """The file is not the image it claims to be (the reason is shown to the user)."""


@dataclass(frozen=True)
class Clean:
    data: bytes
    format: str
    width: int
    height: int
    inline_png: bytes | None = None


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(out, "JPEG", quality=88, optimize=True)
    elif fmt == "WEBP":
        image.save(out, "WEBP", quality=88)
    else:
        image.save(out, "PNG", optimize=True)
    return out.getvalue()


def clean_image(data: bytes, declared: str, kind: str) -> Clean:
    """``data`` re-encoded as the declared type without metadata and within ``MAX_SIDE``,
    or Rejected."""
    wanted = FORMATS.get(declared)
    if wanted is None:
        raise Rejected("only PNG, JPEG and WebP images are accepted")
    if len(data) > MAX_UPLOAD_BYTES:
        raise Rejected("the file is larger than 5 MiB")
    image: Image.Image
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(FORMATS.values()))
            if image.format != wanted:
                raise Rejected(f"the file is {image.format}, not the {declared} declared")
            width, height = image.size
            if width < 1 or height < 1 or width * height > MAX_PIXELS:
                raise Rejected("the image's dimensions are out of bounds")
            image.load()
    except Rejected:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise Rejected("the image's dimensions are out of bounds") from None
    except Exception:  # Pillow's many errors for what is not an image
        raise Rejected("the file is not a readable image") from None
    image = ImageOps.exif_transpose(image) or image
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        alpha = image.mode in ("PA", "P") and "transparency" in image.info
        image = image.convert("RGBA" if alpha or image.mode == "PA" else "RGB")
    image.thumbnail((MAX_SIDE[kind], MAX_SIDE[kind]))
    inline = None
    if kind == "logo":
        small = image.copy()
        small.thumbnail((INLINE_SIDE, INLINE_SIDE))
        inline = _encode(small, "PNG")
        if len(inline) > INLINE_MAX_BYTES:
            inline = _encode(small.convert("RGB"), "JPEG")
    return Clean(_encode(image, wanted), wanted, image.width, image.height, inline)


def _records(event: Any) -> list[tuple[str, str]]:
    found = []
    for record in (event or {}).get("Records") or []:
        if not str(record.get("eventName", "ObjectCreated")).startswith("ObjectCreated"):
            continue
        s3_part = record.get("s3") or {}
        bucket = str((s3_part.get("bucket") or {}).get("name") or "")
        key = unquote_plus(str((s3_part.get("object") or {}).get("key") or ""))
        if key.endswith(".upload"):
            found.append((bucket, key))
    return found


def _finish(client: Any, key: str, **verdict: Any) -> Any:
    return db.rpc(client, "finish_upload", {"object_key": key, **verdict})


def process(client: Any, bucket: str, key: str) -> dict[str, Any]:
    """Checks one landed object; answers what happened (for the log and the tests)."""
    rows = db.run(
        client.from_("uploads")
        .select("id,kind,content_type,size_bytes,status")
        .eq("object_key", key)
    ).data
    if not rows or rows[0]["status"] != "pending":
        return {"key": key, "outcome": "skipped"}
    upload = rows[0]
    s3 = aws.client("s3")
    try:
        data = s3.get_object(Bucket=bucket, Key=key)["Body"].read(MAX_UPLOAD_BYTES + 1)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in ("NoSuchKey", "404"):
            _finish(client, key, ready=False, reason="the uploaded file is gone; upload it again")
            return {"key": key, "outcome": "rejected"}
        raise
    try:
        if len(data) > int(upload["size_bytes"]):
            # S3 enforces the POST policy's content-length-range; moto does not: checked here.
            raise Rejected("the file is larger than the size declared")
        clean = clean_image(data, upload["content_type"], upload["kind"])
    except Rejected as why:
        s3.delete_object(Bucket=bucket, Key=key)
        _finish(client, key, ready=False, reason=str(why))
        return {"key": key, "outcome": "rejected", "reason": str(why)}
    clean_key = key.removesuffix(".upload") + "." + EXTENSIONS[clean.format]
    s3.put_object(
        Bucket=bucket,
        Key=clean_key,
        Body=clean.data,
        ContentType="image/" + EXTENSIONS[clean.format].replace("jpg", "jpeg"),
        CacheControl="private, max-age=86400",
    )
    s3.delete_object(Bucket=bucket, Key=key)
    inline = None
    if clean.inline_png is not None:
        kind = "png" if clean.inline_png.startswith(b"\x89PNG") else "jpeg"
        inline = f"data:image/{kind};base64," + base64.b64encode(clean.inline_png).decode()
    _finish(
        client,
        key,
        ready=True,
        clean_key=clean_key,
        width=clean.width,
        height=clean.height,
        logo_data_url=inline,
    )
    return {"key": key, "outcome": "ready", "clean_key": clean_key}


def handler(event: Any, context: Any) -> dict[str, Any]:
    settings = get_settings()
    log = get_logger(settings.log_level)
    service = settings.supabase_service_role_key
    if not service:
        raise RuntimeError("the uploads worker needs SUPABASE_SERVICE_ROLE_KEY")
    client = db.rest(settings, service=service)
    results = []
    for bucket, key in _records(event):
        try:
            result = process(client, bucket, key)
        except (BotoCoreError, ClientError) as error:
            # Left pending; S3's retry of the asynchronous invocation runs it again.
            log.warning("upload check failed", extra={"key": key, "error": type(error).__name__})
            raise
        log.info("upload checked", extra=result)
        results.append(result)
    return {"processed": results}
