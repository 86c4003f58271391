"""Models of image uploads (docs/api.md, "Uploads"): an organization's logo or a client's
avatar, sent by the browser to S3 with a presigned POST, checked and re-encoded when it
lands (functions/uploads/worker.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from shared.models import Input

# What the presigned POST accepts and the worker checks again: PNG, JPEG, WebP. SVG is
# refused (a script-carrying format; rasterizing it safely needs a renderer we do not ship).
CONTENT_TYPES = ("image/png", "image/jpeg", "image/webp")
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
UploadKind = Literal["logo", "avatar"]
ContentType = Literal["image/png", "image/jpeg", "image/webp"]


class UploadCreate(Input):
    kind: UploadKind = Field(description="logo (the organization's; admins) or avatar (a client's)")
    content_type: ContentType = Field(description="image/png, image/jpeg or image/webp; no SVG")
    size: int = Field(ge=1, le=MAX_UPLOAD_BYTES, description="the file's size in bytes (≤ 5 MiB)")
    client_id: UUID | None = Field(default=None, description="the client (required for avatar)")

    @model_validator(mode="after")
    def _client_for_avatars(self) -> UploadCreate:
        if (self.kind == "avatar") != (self.client_id is not None):
            raise ValueError("client_id is required for an avatar and refused for a logo")
        return self


class ImageUpload(BaseModel):
    id: UUID
    organization_id: UUID
    kind: UploadKind
    client_id: UUID | None = None
    content_type: str
    size_bytes: int
    object_key: str = Field(description="<organization_id>/<kind>s/<id>...: the S3 object")
    status: Literal["pending", "ready", "rejected"]
    reason: str | None = Field(default=None, description="why it was rejected")
    width: int | None = None
    height: int | None = None
    created_at: datetime
    processed_at: datetime | None = None


class PresignedPost(BaseModel):
    url: str = Field(description="POST a multipart form here: the fields, then the file as `file`")
    method: Literal["POST"] = "POST"
    fields: dict[str, str] = Field(description="form fields to send before the file")
    max_bytes: int
    expires_in: int
    expires_at: datetime


class UploadCreated(BaseModel):
    upload: ImageUpload
    post: PresignedPost
