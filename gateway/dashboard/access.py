"""Who may see which dashboard view, and who is looking (the session cookie, checked as the API checks it)."""

from dataclasses import dataclass

from fastapi import HTTPException, Request

from gateway.auth.deps import current_principal
from gateway.auth.principal import Principal
from gateway.auth.sessions import SESSION_COOKIE


@dataclass(frozen=True, slots=True)
class View:
    name: str
    title: str
    path: str
    roles: frozenset[str]
    """The roles that may open it; admin may open every view."""

    def allows(self, role: str) -> bool:
        return role == "admin" or role in self.roles


VIEWS: tuple[View, ...] = (
    View("lab", "Laboratory", "/lab", frozenset({"lab"})),
    View("pharmacy", "Pharmacy", "/pharmacy", frozenset({"pharmacy"})),
    View("engineering", "Engineering", "/engineering", frozenset({"engineer"})),
    View("alerts", "Alerts", "/alerts", frozenset({"lab", "pharmacy", "engineer"})),
    View("admin", "Administration", "/admin", frozenset()),  # admin only: users, tokens, reference data, audit
)
VIEW = {view.name: view for view in VIEWS}
HOME_BY_ROLE = {"lab": "lab", "pharmacy": "pharmacy", "engineer": "engineering", "admin": "lab"}


def views_for(principal: Principal) -> list[View]:
    return [view for view in VIEWS if view.allows(principal.role)]


def home_of(principal: Principal) -> View | None:
    """The view a role lands on after login; None for roles without one (service tokens)."""
    name = HOME_BY_ROLE.get(principal.role)
    return VIEW[name] if name else None


async def viewer(request: Request) -> Principal | None:
    """The logged-in user of a page request, or None: the same session check as every API route."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        return await current_principal(request, bearer=None, cookie=cookie)
    except HTTPException as exc:
        if exc.status_code == 401:
            return None
        raise
