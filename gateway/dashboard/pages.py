"""The dashboard's pages: login, each role's home, the lab, a specimen, pharmacy and engineering views.

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
from gateway.dashboard.render import fragment, login_page, page

router = APIRouter(include_in_schema=False)
router.include_router(assets.router)

NO_STORE = {"Cache-Control": "no-store"}


def _html(body: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status_code, headers=NO_STORE)


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303, headers=NO_STORE)


def _refused(principal: Principal, view: View) -> HTMLResponse:
    home = home_of(principal)
    needed = " or ".join(sorted(view.roles | {"admin"}))
    content = fragment(
        "refused",
        page=view.title,
        needed=needed,
        user=principal.name,
        role=principal.role,
        home=home.path if home else "/login",
    )
    return _html(page(principal, title="Not for your role", view=None, content=content), 403)


def _not_found(principal: Principal, detail: str, back: str) -> HTMLResponse:
    content = fragment("not_found", detail=detail, back=back)
    return _html(page(principal, title="Not found", view=None, content=content), 404)


def _view(principal: Principal, name: str) -> HTMLResponse:
    """A view's page: its template, and its script `js/{name}.js`."""
    view = VIEW[name]
    return _html(page(principal, title=view.title, view=view, content=fragment(name), script=f"js/{name}.js"))


async def _open(request: Request, name: str) -> Principal | Response:
    """The viewer when they may open view `name`; else the redirect or refusal to send instead."""
    principal = await viewer(request)
    if principal is None:
        return _to_login(request)
    if not VIEW[name].allows(principal.role):
        return _refused(principal, VIEW[name])
    return principal


@router.get("/login")
async def login(request: Request) -> Response:
    return _html(login_page())


@router.get("/")
async def home(request: Request) -> Response:
    """The caller's own view by role; /login when not logged in."""
    principal = await viewer(request)
    if principal is None:
        return RedirectResponse("/login", status_code=303, headers=NO_STORE)
    view = home_of(principal)
    if view is None:
        content = fragment("not_found", detail=f"the {principal.role} role has no dashboard view", back="/login")
        return _html(page(principal, title="No view", view=None, content=content), 403)
    return RedirectResponse(view.path, status_code=303, headers=NO_STORE)


@router.get("/lab")
async def lab(request: Request, barcode: Annotated[str | None, Query(max_length=128)] = None) -> Response:
    """The lab view; with `barcode` (the scan form sent before its script loaded) the specimen's page."""
    principal = await _open(request, "lab")
    if isinstance(principal, Response):
        return principal
    if barcode and barcode.strip():
        return RedirectResponse(f"/lab/specimens/{quote(barcode.strip(), safe='')}", status_code=303, headers=NO_STORE)
    return _view(principal, "lab")


@router.get("/lab/specimens/{barcode}")
async def specimen(request: Request, barcode: Annotated[str, Path(max_length=128)]) -> Response:
    principal = await _open(request, "lab")
    if isinstance(principal, Response):
        return principal
    missing = f"No specimen {barcode} that you may see: check the barcode and scan it again."
    try:
        check_identifier(barcode, what="barcode")
    except InvalidIdentifierError as exc:
        return _not_found(principal, f"{exc}; scan it again.", "/lab")
    found = await request.app.state.stores.specimens.get(barcode)
    if principal.scoped and (found is None or not principal.can_see_ward(found[0].ward)):
        # Another ward's specimen and an unknown barcode get the same answer: a guessed barcode tells nothing.
        return _not_found(principal, missing, "/lab")
    content = fragment("specimen", barcode=barcode)
    return _html(
        page(
            principal,
            title=f"Specimen {barcode}",
            view=VIEW["lab"],
            content=content,
            script="js/specimen.js",
            data={"barcode": barcode},
        )
    )


@router.get("/pharmacy")
async def pharmacy(request: Request) -> Response:
    principal = await _open(request, "pharmacy")
    if isinstance(principal, Response):
        return principal
    return _view(principal, "pharmacy")


@router.get("/engineering")
async def engineering(request: Request) -> Response:
    principal = await _open(request, "engineering")
    if isinstance(principal, Response):
        return principal
    return _view(principal, "engineering")
