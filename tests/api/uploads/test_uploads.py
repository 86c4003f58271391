"""Logos and avatars: POST /api/uploads signs a presigned POST whose policy holds the type
and the size, the browser POSTs the file to moto's S3, the bucket's notification runs the
uploads worker (as `make dev` does), which re-encodes the image without its metadata or
rejects what is not the image declared; the logo then prints on the invoice PDF."""

from __future__ import annotations

import io
import os
import uuid
from typing import Any

import httpx
import pytest
from PIL import Image

from devstack.aws import IMAGES_BUCKET, Provisioned
from devstack.functions import FunctionHost
from devstack.queues import pollers
from shared import aws as shared_aws
from tests.api.conftest import Api, World

pytestmark = pytest.mark.usefixtures("aws")


def fresh(world: World) -> str:
    name = f"upl-{uuid.uuid4().hex[:8]}"
    world.add_person(name)
    return name


def image_bytes(fmt: str, size: tuple[int, int] = (2000, 600), exif: bool = False) -> bytes:
    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))  # noise: no tiny file
    out = io.BytesIO()
    if exif:
        info = Image.Exif()
        info[0x010E] = "secret GPS note"  # ImageDescription
        image.save(out, fmt, exif=info)
    else:
        image.save(out, fmt)
    return out.getvalue()


def start(api: Api, who: str, data: bytes, content_type: str, **body: Any) -> dict[str, Any]:
    reply = api.post(
        "/api/uploads",
        as_=who,
        json_body={"kind": "logo", "content_type": content_type, "size": len(data), **body},
    )
    assert reply.status == 201, reply.json()
    created: dict[str, Any] = reply.json()
    return created


def post_file(created: dict[str, Any], data: bytes) -> httpx.Response:
    post = created["post"]
    return httpx.post(post["url"], data=post["fields"], files={"file": ("f", data)})


def deliver(function_host: FunctionHost, aws: Provisioned) -> None:
    found = [
        p
        for p in pollers(function_host, {}, aws.endpoint, aws.bucket_events())
        if p.spec.name == "uploadsWorker"
    ]
    assert len(found) == 1
    delivered = found[0].drain(timeout=60)
    assert delivered.errors == []


def status(api: Api, who: str, upload_id: str) -> dict[str, Any]:
    reply = api.get(f"/api/uploads/{upload_id}", as_=who)
    assert reply.status == 200, reply.json()
    body: dict[str, Any] = reply.json()
    return body


def test_a_logo_is_reencoded_without_metadata_and_printed_on_the_pdf(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    who = fresh(world)
    org = world.people[who].personal_org
    data = image_bytes("JPEG", (1600, 480), exif=True)
    created = start(api, who, data, "image/jpeg")
    upload = created["upload"]
    assert upload["status"] == "pending"
    assert upload["object_key"] == f"{org}/logos/{upload['id']}.upload"
    assert created["post"]["fields"]["Content-Type"] == "image/jpeg"
    assert post_file(created, data).status_code in (200, 201, 204)
    deliver(function_host, aws)

    done = status(api, who, upload["id"])
    assert done["status"] == "ready", done
    assert done["object_key"] == f"{org}/logos/{upload['id']}.jpg"
    assert (done["width"], done["height"]) == (1024, 307)  # bounded, proportions kept
    s3 = shared_aws.client("s3")
    stored = s3.get_object(Bucket=IMAGES_BUCKET, Key=done["object_key"])["Body"].read()
    assert b"secret GPS note" in data
    assert b"secret GPS note" not in stored
    assert not Image.open(io.BytesIO(stored)).getexif()
    listed = s3.list_objects_v2(Bucket=IMAGES_BUCKET, Prefix=f"{org}/logos/")
    assert [o["Key"] for o in listed["Contents"]] == [done["object_key"]]  # original gone

    key, url = world.sql(
        "select logo_object_key, company_logo_url from public.organization_settings"
        " where organization_id = %s",
        org,
    )[0]
    assert key == done["object_key"]
    assert url.startswith("data:image/png;base64,")
    assert len(url) > 2048

    client = api.post(
        "/api/clients", as_=who, json_body={"company_name": "Logo Client", "currency": "EUR"}
    )
    assert client.status == 201, client.json()
    invoice = api.post(
        "/api/invoices",
        as_=who,
        json_body={
            "client_id": client.json()["id"],
            "items": [{"description": "Work", "quantity": 1, "rate": 10}],
        },
    )
    assert invoice.status == 201, invoice.json()
    pdf = api.get(f"/api/invoices/{invoice.json()['id']}/pdf", as_=who)
    assert pdf.status == 200
    assert b"/Subtype /Image" in pdf.content


def test_an_image_that_is_not_what_it_claims_is_rejected(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    who = fresh(world)
    org = world.people[who].personal_org
    before = world.sql(
        "select company_logo_url from public.organization_settings where organization_id = %s",
        org,
    )
    png_as_webp = image_bytes("PNG", (50, 50))
    not_an_image = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"
    first = start(api, who, png_as_webp, "image/webp")
    second = start(api, who, not_an_image, "image/png")
    third = start(api, who, png_as_webp[:100], "image/png")  # declares less than it sends
    assert post_file(first, png_as_webp).status_code in (200, 201, 204)
    assert post_file(second, not_an_image).status_code in (200, 201, 204)
    # S3 refuses a file beyond the policy's content-length-range; moto accepts it, so the
    # worker's own check is what this shows.
    assert post_file(third, png_as_webp).status_code in (200, 201, 204)
    deliver(function_host, aws)
    one = status(api, who, first["upload"]["id"])
    two = status(api, who, second["upload"]["id"])
    three = status(api, who, third["upload"]["id"])
    assert (three["status"], three["reason"]) == (
        "rejected",
        "the file is larger than the size declared",
    )
    assert (one["status"], one["reason"]) == (
        "rejected",
        "the file is PNG, not the image/webp declared",
    )
    assert (two["status"], two["reason"]) == ("rejected", "the file is not a readable image")
    listed = shared_aws.client("s3").list_objects_v2(Bucket=IMAGES_BUCKET, Prefix=f"{org}/")
    assert listed.get("KeyCount", 0) == 0
    after = world.sql(
        "select company_logo_url from public.organization_settings where organization_id = %s",
        org,
    )
    assert after == before


def test_a_members_avatar_for_a_client_and_the_refusals(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    # maria is a member of organization A, victor a viewer, bob a stranger.
    client = api.post(
        "/api/clients", as_="maria", json_body={"company_name": "Avatar Co", "currency": "EUR"}
    )
    assert client.status == 201, client.json()
    client_id = client.json()["id"]
    data = image_bytes("PNG", (800, 800))
    avatar = {"kind": "avatar", "content_type": "image/png", "size": len(data)}
    made = api.post("/api/uploads", as_="maria", json_body={**avatar, "client_id": client_id})
    assert made.status == 201, made.json()
    assert post_file(made.json(), data).status_code in (200, 201, 204)
    deliver(function_host, aws)
    done = status(api, "maria", made.json()["upload"]["id"])
    assert (done["status"], done["width"], done["height"]) == ("ready", 512, 512)
    assert world.sql("select avatar_object_key from public.clients where id = %s", client_id) == [
        (done["object_key"],)
    ]

    logo = {"kind": "logo", "content_type": "image/png", "size": 10}
    assert api.post("/api/uploads", as_="maria", json_body=logo).status == 403
    assert api.post("/api/uploads", as_="victor", json_body=logo).status == 403
    viewer = api.post("/api/uploads", as_="victor", json_body={**avatar, "client_id": client_id})
    assert viewer.status == 403
    assert status(api, "victor", done["id"])["status"] == "ready"  # viewers read
    stranger = api.get(f"/api/uploads/{done['id']}", as_="bob")
    assert stranger.status == 404
    other = api.post("/api/uploads", as_="bob", json_body={**avatar, "client_id": client_id})
    assert other.status == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "logo", "content_type": "image/svg+xml", "size": 10}, "content_type"),
        ({"kind": "logo", "content_type": "image/gif", "size": 10}, "content_type"),
        ({"kind": "logo", "content_type": "image/png", "size": 5 * 1024 * 1024 + 1}, "size"),
        ({"kind": "logo", "content_type": "image/png", "size": 0}, "size"),
        ({"kind": "banner", "content_type": "image/png", "size": 10}, "kind"),
        ({"kind": "avatar", "content_type": "image/png", "size": 10}, None),
        (
            {
                "kind": "logo",
                "content_type": "image/png",
                "size": 10,
                "client_id": str(uuid.uuid4()),
            },
            None,
        ),
        ({"kind": "logo", "content_type": "image/png", "size": "big"}, "size"),
    ],
)
def test_bad_input_is_a_clear_422(
    api: Api, world: World, body: dict[str, Any], field: str | None
) -> None:
    reply = api.post("/api/uploads", as_="alice", json_body=body)
    assert reply.status == 422, reply.json()
    if field:
        assert field in str(reply.error), reply.error


def test_unknown_and_malformed_upload_ids(api: Api) -> None:
    assert api.get(f"/api/uploads/{uuid.uuid4()}", as_="alice").status == 404
    assert api.get("/api/uploads/not-a-uuid", as_="alice").status == 422
