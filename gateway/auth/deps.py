"""Authentication and authorisation for routes: `require(*roles)` on a router or route, `PrincipalDep` for the caller.

A caller is a logged-in user (the `wardlink_session` cookie) or a service token (`Authorization: Bearer ...`).
No valid credentials: 401; a role the route does not allow: 403; admin may do everything. Ward-scoped callers get
404 for objects outside their wards (the routes check `Principal.can_see_ward`), so ids leak nothing.

    router = APIRouter(prefix="/specimens", dependencies=[require("lab")])

    @router.get("/{barcode}")
    async def specimen(barcode: str, caller: PrincipalDep) -> ...:
        if not caller.can_see_ward(row.ward): raise HTTPException(404, ...)
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from gateway.auth import audit_trail
from gateway.auth.accounts import token_principal
from gateway.auth.audit_trail import Origin, Outcome
from gateway.auth.principal import ROLES, Principal
from gateway.auth.sessions import SESSION_COOKIE, session_principal

# auto_error=False: these only read the credentials (and document them in OpenAPI); `current_principal` decides.
_bearer = HTTPBearer(auto_error=False, description="A service token: `Authorization: Bearer wlt_...`")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="The session from POST /api/v1/auth/login")

_LOGIN_HINT = "log in with POST /api/v1/auth/login (a session cookie) or send 'Authorization: Bearer <service token>'"


def unauthorised(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": 'Bearer realm="wardlink"'})


def origin(request: Request) -> Origin:
    """The client address and user agent of a request, for the audit trail."""
    return Origin(
        client=request.client.host if request.client is not None else None,
        user_agent=request.headers.get("user-agent"),
    )


async def current_principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> Principal:
    """The caller, from a bearer token (first) or the session cookie; 401 problem when neither is valid."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    store = request.app.state.stores.db
    settings = request.app.state.settings
    now = datetime.now(UTC)  # sessions and tokens expire on wall time, whatever the simulated clock says
    principal: Principal | None
    if bearer is not None:
        principal = await token_principal(store, bearer.credentials, now)
        if principal is None:
            raise unauthorised("the service token is unknown, revoked or expired: ask an admin for a new one")
    elif request.headers.get("authorization"):
        raise unauthorised("only 'Authorization: Bearer <service token>' is accepted; " + _LOGIN_HINT)
    elif cookie:
        idle = timedelta(minutes=settings.session_idle_minutes)
        principal = await session_principal(store, cookie, now, idle=idle)
        if principal is None:
            raise unauthorised("your session has ended (logged out, expired or the account changed): log in again")
    else:
        raise unauthorised("this needs credentials: " + _LOGIN_HINT)
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require(*roles: str) -> Any:
    """A dependency that lets callers with one of `roles` (or admin) through: 401 without credentials, else 403."""
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise ValueError(f"require() needs roles from {', '.join(ROLES)}; got {', '.join(roles) or 'none'}")
    allowed = frozenset(roles) | {"admin"}
    needed = " or ".join(sorted(allowed))

    async def check_role(principal: PrincipalDep) -> Principal:
        if principal.role not in allowed:
            raise HTTPException(
                status_code=403,
                detail=f"the {principal.role} role may not use this; it needs {needed}: ask an admin for access",
            )
        return principal

    check_role.__name__ = f"require_{'_'.join(sorted(allowed))}"
    return Depends(check_role)


@dataclass(frozen=True, slots=True)
class Auditor:
    """Records what the current caller did in the access audit trail."""

    request: Request
    principal: Principal | None

    async def __call__(
        self, action: str, *, target: str | None = None, outcome: Outcome = "ok", detail: str | None = None
    ) -> None:
        await audit_trail.record(
            self.request.app.state.stores.db,
            action=action,
            outcome=outcome,
            principal=self.principal,
            target=target,
            origin=origin(self.request),
            detail=detail,
        )


def _auditor(request: Request, principal: PrincipalDep) -> Auditor:
    return Auditor(request, principal)


AuditDep = Annotated[Auditor, Depends(_auditor)]
"""`await audit("alert.acknowledge", target=str(alert_id))` in an authenticated route."""
