"""Models of the auth routes."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel


class OrganizationMembership(BaseModel):
    id: UUID
    name: str
    role: str
    personal: bool


class Profile(BaseModel):
    id: UUID
    email: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None
    avatar_url: str | None


class Me(BaseModel):
    user: Profile
    organizations: list[OrganizationMembership]
