"""Login, logout and who am I: a server-side session in the `wardlink_session` cookie.

Failed logins are throttled per user name and client address (429 with Retry-After); an unknown user name costs
as long as a wrong password; every login and failed login goes to the access audit trail.
"""

import logging
from datetime import timedelta

from fastapi import APIRouter, HTTPException, Request, Response

from gateway.api.deps import DatabaseDep, SettingsDep
from gateway.api.models import Problem
from gateway.auth.accounts import check_password
from gateway.auth.audit_trail import record
from gateway.auth.deps import PrincipalDep, origin
from gateway.auth.models import LoginIn, MePublic
from gateway.auth.sessions import SESSION_COOKIE, end_session, start_session
from gateway.auth.throttle import LoginThrottle
from gateway.auth.tried_names import tried_name
from gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

router = APIRouter(prefix="/auth", tags=["auth"])

_WRONG = "wrong user name or password: check both and try again"


def _throttle(request: Request, settings: GatewaySettings) -> LoginThrottle:
    """One throttle per running app, made on first use."""
    state = request.app.state
    throttle: LoginThrottle | None = getattr(state, "login_throttle", None)
    if throttle is None:
        throttle = state.login_throttle = LoginThrottle(
            settings.login_max_failures, settings.login_failure_window_minutes * 60
        )
    return throttle


def _secure(request: Request, settings: GatewaySettings) -> bool:
    return settings.cookie_secure if settings.cookie_secure is not None else request.url.scheme == "https"


@router.post(
    "/login",
    response_model=MePublic,
    responses={401: {"model": Problem}, 403: {"model": Problem}, 429: {"model": Problem}},
)
async def login(
    body: LoginIn, request: Request, response: Response, db: DatabaseDep, settings: SettingsDep
) -> MePublic:
    """Check the user name and password and start a session (the `wardlink_session` cookie)."""
    where = origin(request)
    client = where.client or "unknown"
    tried = tried_name(body.username)  # what logs and the audit trail may show of a name that failed
    throttle = _throttle(request, settings)
    wait = throttle.retry_after(body.username, client)
    if wait is not None:
        await record(db, action="login", outcome="throttled", actor=tried, origin=where)
        log.warning("login throttled: user name %s from %s, %d s to wait", tried, client, wait)
        raise HTTPException(
            status_code=429,
            detail=f"too many failed logins for this user name from your address: wait {wait} s, then try again",
            headers={"Retry-After": str(wait)},
        )
    user = await check_password(db, body.username, body.password)
    if user is None:
        throttle.failed(body.username, client)
        await record(db, action="login", outcome="failed", actor=tried, origin=where)
        log.info("login failed: user name %s from %s", tried, client)
        raise HTTPException(status_code=401, detail=_WRONG)
    if user.disabled:
        await record(db, action="login", outcome="denied", actor=user.name, origin=where, detail="disabled")
        raise HTTPException(status_code=403, detail="this account is disabled: ask an admin to enable it")
    throttle.succeeded(body.username, client)
    absolute = timedelta(hours=settings.session_absolute_hours)
    secret, _ = await start_session(db, user, absolute=absolute)
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(absolute.total_seconds()),
        path="/",
        httponly=True,
        samesite="strict",
        secure=_secure(request, settings),
    )
    await record(db, action="login", principal=user.principal(), origin=where)
    return MePublic(name=user.name, role=user.role, wards=list(user.wards))


@router.post("/logout", status_code=204)
async def logout(request: Request, response: Response, db: DatabaseDep, settings: SettingsDep) -> None:
    """End this session (if any) and clear the cookie; logging out twice is fine."""
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        await end_session(db, secret)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request, settings)
    )


@router.get("/me", response_model=MePublic, responses={401: {"model": Problem}})
async def me(caller: PrincipalDep) -> MePublic:
    """Who the credentials belong to: name, role and wards (empty: every ward)."""
    return MePublic(name=caller.name, role=caller.role, wards=list(caller.wards))
