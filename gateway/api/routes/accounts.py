"""Admin only: users (list, create, change role, wards or disabled, reset password) and service tokens.

A token's secret is returned once, by the POST that creates it; the gateway keeps only its SHA-256. Every change
goes to the access audit trail.
"""

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from gateway.api.deps import DatabaseDep
from gateway.api.models import Problem
from gateway.api.paging import MAX_OFFSET
from gateway.auth.accounts import (
    NAME_PATTERN,
    AccountError,
    ServiceToken,
    UnknownUserError,
    User,
    UserExistsError,
    create_token,
    create_user,
    list_tokens,
    list_users,
    revoke_token,
    set_password,
    token_by_secret,
    update_user,
)
from gateway.auth.audit_trail import last_logins
from gateway.auth.deps import AuditDep, PrincipalDep, require
from gateway.auth.models import (
    PasswordIn,
    TokenCreate,
    TokenCreated,
    TokenListPublic,
    TokenPublic,
    UserCreate,
    UserListPublic,
    UserPublic,
    UserUpdate,
)
from gateway.auth.passwords import WeakPasswordError

MAX_PAGE = 500

router = APIRouter(tags=["accounts"], dependencies=[require("admin")])

UserName = Annotated[str, Path(pattern=NAME_PATTERN)]
TokenId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


def _user(user: User) -> UserPublic:
    return UserPublic.model_validate(user, from_attributes=True)


def _token(token: ServiceToken) -> TokenPublic:
    return TokenPublic(
        id=token.id,
        name=token.name,
        role=token.role,
        wards=list(token.wards),
        created_by=token.created_by,
        created_at=token.created_at,
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
        last_used_at=token.last_used_at,
        active=token.active(datetime.now(UTC)),
    )


@router.get("/users", response_model=UserListPublic)
async def users(db: DatabaseDep, limit: Limit = 100, offset: Offset = 0) -> UserListPublic:
    """Every user by name (never a password hash), with their last login where the audit trail has one."""
    found, total = await list_users(db, limit=limit, offset=offset)
    logins = await last_logins(db, [u.name for u in found])
    data = [_user(u).model_copy(update={"last_login_at": logins.get(u.name)}) for u in found]
    return UserListPublic(data=data, count=total)


def _weak(exc: WeakPasswordError) -> HTTPException:
    return HTTPException(status_code=422, detail=f"password: {exc}; nothing was changed")


@router.post(
    "/users", status_code=201, response_model=UserPublic, responses={409: {"model": Problem}, 422: {"model": Problem}}
)
async def add_user(body: UserCreate, db: DatabaseDep, audit: AuditDep) -> UserPublic:
    """A new user with a role and, optionally, the wards they are limited to."""
    try:
        user = await create_user(db, name=body.name, password=body.password, role=body.role, wards=body.wards)
    except WeakPasswordError as exc:
        await audit("user.create", target=body.name, outcome="failed", detail="weak password")
        raise _weak(exc) from None
    except UserExistsError as exc:
        await audit("user.create", target=body.name, outcome="failed", detail="exists")
        raise HTTPException(status_code=409, detail=str(exc)) from None
    await audit("user.create", target=user.name, detail=f"role={user.role} wards={','.join(user.wards) or '*'}")
    return _user(user)


@router.patch("/users/{name}", response_model=UserPublic, responses={404: {"model": Problem}, 409: {"model": Problem}})
async def change_user(
    name: UserName, body: UserUpdate, db: DatabaseDep, caller: PrincipalDep, audit: AuditDep
) -> UserPublic:
    """Change role, wards or disabled; a role change or disabling ends the user's sessions at once."""
    if name == caller.name and caller.kind == "user" and (body.disabled or body.role not in (None, "admin")):
        raise HTTPException(
            status_code=409, detail="you cannot disable or demote your own account: ask another admin to do it"
        )
    try:
        user = await update_user(db, name, role=body.role, wards=body.wards, disabled=body.disabled)
    except UnknownUserError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    changed = body.model_dump(exclude_none=True)
    await audit("user.update", target=name, detail=" ".join(f"{k}={v}" for k, v in changed.items()))
    return _user(user)


@router.put("/users/{name}/password", status_code=204, responses={404: {"model": Problem}, 422: {"model": Problem}})
async def reset_password(name: UserName, body: PasswordIn, db: DatabaseDep, audit: AuditDep) -> None:
    """A new password for the user; their sessions end."""
    try:
        await set_password(db, name, body.password)
    except WeakPasswordError as exc:
        await audit("user.password", target=name, outcome="failed", detail="weak password")
        raise _weak(exc) from None
    except UnknownUserError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    await audit("user.password", target=name)


@router.get("/tokens", response_model=TokenListPublic)
async def tokens(db: DatabaseDep, limit: Limit = 100, offset: Offset = 0) -> TokenListPublic:
    """Every service token, newest first (never a secret)."""
    found, total = await list_tokens(db, limit=limit, offset=offset)
    return TokenListPublic(data=[_token(t) for t in found], count=total)


@router.post("/tokens", status_code=201, response_model=TokenCreated)
async def add_token(body: TokenCreate, db: DatabaseDep, caller: PrincipalDep, audit: AuditDep) -> TokenCreated:
    """A new service token; the response holds its secret, shown this once."""
    expires_in = timedelta(days=body.expires_in_days) if body.expires_in_days is not None else None
    try:
        secret = await create_token(
            db, name=body.name, role=body.role, wards=body.wards, expires_in=expires_in, created_by=caller.name
        )
    except AccountError as exc:  # e.g. a lifetime so short it rounds to zero (found by test_api_schema.py)
        raise HTTPException(status_code=422, detail=f"{exc}; fix the request and try again") from None
    found = await token_by_secret(db, secret)
    assert found is not None
    await audit("token.create", target=f"{found.name} ({found.id})", detail=f"role={found.role}")
    return TokenCreated(**_token(found).model_dump(), secret=secret)


@router.delete("/tokens/{token}", response_model=TokenPublic, responses={404: {"model": Problem}})
async def revoke(token: TokenId, db: DatabaseDep, audit: AuditDep) -> TokenPublic:
    """Revoke a token: it stops working at once; it stays listed (revoked) for the record."""
    try:
        revoked = await revoke_token(db, token)
    except AccountError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    await audit("token.revoke", target=f"{revoked.name} ({revoked.id})")
    return _token(revoked)
