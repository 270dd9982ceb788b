"""Request and response models of the login, user, service token and audit routes."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from gateway.auth.accounts import NAME_PATTERN
from gateway.auth.passwords import MAX_LENGTH, MIN_LENGTH
from gateway.auth.principal import Role

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Ward = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
Password = Annotated[str, StringConstraints(min_length=MIN_LENGTH, max_length=MAX_LENGTH)]


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=MAX_LENGTH)]


class MePublic(BaseModel):
    """The caller: name, role and wards (empty: every ward)."""

    name: str
    role: Role
    wards: list[str]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="A staff login (never a patient's name).")
    password: Password
    role: Role
    wards: list[Ward] = Field(default_factory=list, max_length=100, description="Empty: every ward.")


class UserUpdate(BaseModel):
    """Only the fields given change; a role change or disabling ends the user's sessions."""

    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    wards: list[Ward] | None = Field(default=None, max_length=100)
    disabled: bool | None = None


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: Password


class UserPublic(BaseModel):
    name: str
    role: Role
    wards: list[str]
    disabled: bool
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None = Field(
        default=None, description="The user's last login in the access audit trail; null when none is recorded."
    )


class UserListPublic(BaseModel):
    data: list[UserPublic]
    count: int


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="What uses the token, e.g. `lab-system`.")
    role: Role
    wards: list[Ward] = Field(default_factory=list, max_length=100)
    expires_in_days: float | None = Field(default=None, gt=0, le=3650, description="None: until revoked.")


class TokenPublic(BaseModel):
    id: str
    name: str
    role: Role
    wards: list[str]
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    active: bool


class TokenCreated(TokenPublic):
    secret: str = Field(description="Shown this once: the gateway keeps only its hash.")


class TokenListPublic(BaseModel):
    data: list[TokenPublic]
    count: int


class AuditEntryPublic(BaseModel):
    id: int
    at: datetime
    actor: str | None
    actor_kind: str | None
    role: str | None
    action: str
    target: str | None
    outcome: str
    client: str | None
    user_agent: str | None
    detail: str | None
