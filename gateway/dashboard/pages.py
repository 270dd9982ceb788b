"""The dashboard's pages: login, each role's home, the lab, a specimen, pharmacy, engineering and alert history.

Each page is a server-rendered shell; its JavaScript module reads the API and follows the live stream. Pages
check the session themselves: anonymous callers go to /login, a role the view is not for gets a 403 page that
names the role it needs, and a ward-scoped user gets "not found" for another ward's specimen.
"""

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from contract.ids import InvalidIdentifierError, check_identifier
from gateway.auth.principal import Principal
from gateway.dashboard import assets
from gateway.dashboard.access import VIEW, View, home_of, viewer
from gateway.dashboard.i18n import language_of, translate
from gateway.dashboard.render import Zones, fragment, login_page, page, view_title
from gateway.rules.alerting import ALERT_KINDS

router = APIRouter(include_in_schema=False)
router.include_router(assets.router)

NO_STORE = {"Cache-Control": "no-store"}


def _zones(request: Request) -> Zones:
    """The hospital's time zone and each site's own, from the gateway's settings."""
    settings = request.app.state.settings
    return Zones(settings.time_zone, dict(settings.site_time_zones))


def _html(body: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status_code, headers=NO_STORE)


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303, headers=NO_STORE)


def _refused(request: Request, principal: Principal, view: View, language: str) -> HTMLResponse:
    home = home_of(principal)
    roles = [translate(language, f"role.{role}") for role in sorted(view.roles | {"admin"})]
    needed = f" {translate(language, 'common.or')} ".join(roles)
    content = fragment(
        "refused",
        language,
        page=view_title(view, language),
        needed=needed,
        user=principal.name,
        role=translate(language, f"role.{principal.role}"),
        home=home.path if home else "/login",
    )
    title = translate(language, "refused.title")
    return _html(
        page(principal, language=language, title=title, view=None, content=content, zones=_zones(request)), 403
    )


def _not_found(
    request: Request, principal: Principal, language: str, detail: str, back: str, status_code: int = 404
) -> HTMLResponse:
    content = fragment("not_found", language, detail=detail, back=back)
    title = translate(language, "not_found.title")
    zones = _zones(request)
    return _html(page(principal, language=language, title=title, view=None, content=content, zones=zones), status_code)


def _view(
    request: Request, principal: Principal, name: str, data: dict[str, str] | None = None, script: str | None = None
) -> HTMLResponse:
    """A view's page: its template, and its script (`js/{name}.js` unless named); `data` goes on <body> for it."""
    view, language = VIEW[name], language_of(request)
    content = fragment(name, language)
    title = view_title(view, language)
    script = script or f"js/{name}.js"
    return _html(
        page(
            principal,
            language=language,
            title=title,
            view=view,
            content=content,
            script=script,
            data=data,
            zones=_zones(request),
        )
    )


async def _open(request: Request, name: str) -> Principal | Response:
    """The viewer when they may open view `name`; else the redirect or refusal to send instead."""
    principal = await viewer(request)
    if principal is None:
        return _to_login(request)
    if not VIEW[name].allows(principal.role):
        return _refused(request, principal, VIEW[name], language_of(request))
    return principal


@router.get("/login")
async def login(request: Request) -> Response:
    return _html(login_page(language_of(request)))


@router.get("/")
async def home(request: Request) -> Response:
    """The caller's own view by role; /login when not logged in."""
    principal = await viewer(request)
    if principal is None:
        return RedirectResponse("/login", status_code=303, headers=NO_STORE)
    view = home_of(principal)
    if view is None:
        language = language_of(request)
        detail = translate(language, "not_found.no_view", role=translate(language, f"role.{principal.role}"))
        return _not_found(request, principal, language, detail, "/login", status_code=403)
    return RedirectResponse(view.path, status_code=303, headers=NO_STORE)


@router.get("/lab")
async def lab(request: Request, barcode: Annotated[str | None, Query(max_length=128)] = None) -> Response:
    """The lab view; with `barcode` (the scan form sent before its script loaded) the specimen's page."""
    principal = await _open(request, "lab")
    if isinstance(principal, Response):
        return principal
    if barcode and barcode.strip():
        return RedirectResponse(f"/lab/specimens/{quote(barcode.strip(), safe='')}", status_code=303, headers=NO_STORE)
    return _view(request, principal, "lab")


@router.get("/lab/specimens/{barcode}")
async def specimen(request: Request, barcode: Annotated[str, Path(max_length=128)]) -> Response:
    principal = await _open(request, "lab")
    if isinstance(principal, Response):
        return principal
    language = language_of(request)
    missing = translate(language, "not_found.specimen", barcode=barcode)
    try:
        check_identifier(barcode, what="barcode")
    except InvalidIdentifierError as exc:
        return _not_found(
            request, principal, language, translate(language, "not_found.bad_barcode", reason=exc), "/lab"
        )
    found = await request.app.state.stores.specimens.get(barcode)
    if principal.scoped and (found is None or not principal.can_see_ward(found[0].ward)):
        # Another ward's specimen and an unknown barcode get the same answer: a guessed barcode tells nothing.
        return _not_found(request, principal, language, missing, "/lab")
    content = fragment("specimen", language, barcode=barcode)
    return _html(
        page(
            principal,
            language=language,
            title=f"{translate(language, 'specimen.heading')} {barcode}",
            view=VIEW["lab"],
            content=content,
            script="js/specimen.js",
            data={"barcode": barcode},
            zones=_zones(request),
        )
    )


@router.get("/pharmacy")
async def pharmacy(request: Request) -> Response:
    principal = await _open(request, "pharmacy")
    if isinstance(principal, Response):
        return principal
    return _view(request, principal, "pharmacy")


@router.get("/pharmacy/deliveries/{delivery}")
async def delivery(request: Request, delivery: Annotated[str, Path(max_length=64)]) -> Response:
    """One delivery's page: contents, robot, route progress and timeline (js/delivery.js reads the API)."""
    principal = await _open(request, "pharmacy")
    if isinstance(principal, Response):
        return principal
    language = language_of(request)
    try:
        check_identifier(delivery, what="delivery id")
    except InvalidIdentifierError as exc:
        return _not_found(request, principal, language, str(exc), "/pharmacy")
    if principal.scoped:  # another ward's delivery is as if unknown, as in the API
        found = await request.app.state.stores.deliveries.get(delivery)
        if found is None or not principal.can_see_ward(found[0].ward):
            detail = translate(language, "pharmacy.delivery.not_found", id=delivery)
            return _not_found(request, principal, language, detail, "/pharmacy")
    title = f"{translate(language, 'pharmacy.delivery.heading')} {delivery}"
    content = fragment("delivery", language, delivery=delivery)
    return _html(
        page(
            principal,
            language=language,
            title=title,
            view=VIEW["pharmacy"],
            content=content,
            script="js/delivery.js",
            data={"delivery": delivery},
            zones=_zones(request),
        )
    )


@router.get("/engineering")
async def engineering(request: Request) -> Response:
    principal = await _open(request, "engineering")
    if isinstance(principal, Response):
        return principal
    return _view(request, principal, "engineering")


@router.get("/alerts")
async def alerts(request: Request) -> Response:
    """The alert history: every alert the viewer may see, filtered and paged (`js/alerts_page.js`)."""
    principal = await _open(request, "alerts")
    if isinstance(principal, Response):
        return principal
    return _view(request, principal, "alerts", data={"kinds": ",".join(ALERT_KINDS)}, script="js/alerts_page.js")


ADMIN_SCREENS = ("users", "tokens", "reference", "audit")


@router.get("/admin")
async def admin_home(request: Request) -> Response:
    return await admin(request, "users")


@router.get("/admin/{screen}")
async def admin(request: Request, screen: Annotated[str, Path(max_length=32)]) -> Response:
    """Administration (admin only): one screen per tab, `templates/admin_{screen}.html` and `js/admin_{screen}.js`."""
    principal = await _open(request, "admin")
    if isinstance(principal, Response):
        return principal
    language, tab = language_of(request), f'href="/admin/{screen}"'
    if screen not in ADMIN_SCREENS:
        detail = translate(language, "admin.no_screen", screen=screen)
        return _not_found(request, principal, language, detail, "/admin")
    tabs = fragment("admin_tabs", language).replace(tab, f'{tab} aria-current="page"')
    content = tabs + fragment(f"admin_{screen}", language)
    title = f"{view_title(VIEW['admin'], language)} · {translate(language, f'admin.{screen}.tab')}"
    script = f"js/admin_{screen}.js"
    view, zones = VIEW["admin"], _zones(request)
    return _html(
        page(principal, language=language, title=title, view=view, content=content, script=script, zones=zones)
    )
