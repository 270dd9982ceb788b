"""The dashboard's HTML: one shell per staff page (header, navigation, live badge) around a view's template."""

from functools import cache
from html import escape
from pathlib import Path
from string import Template

from gateway.auth.principal import Principal
from gateway.dashboard import assets
from gateway.dashboard.access import View, views_for

TEMPLATES = Path(__file__).resolve().parent / "templates"


@cache
def template(name: str) -> Template:
    return Template((TEMPLATES / f"{name}.html").read_text(encoding="utf-8"))


def fragment(name: str, **values: str) -> str:
    """A template with every value HTML-escaped."""
    return template(name).substitute({key: escape(value) for key, value in values.items()})


def _nav(principal: Principal, current: str | None) -> str:
    links = []
    for view in views_for(principal):
        here = ' aria-current="page"' if view.name == current else ""
        links.append(f'<a href="{view.path}"{here}>{escape(view.title)}</a>')
    return "".join(links)


def page(
    principal: Principal,
    *,
    title: str,
    view: View | None,
    content: str,
    script: str | None = None,
    data: dict[str, str] | None = None,
) -> str:
    """A staff page; `content` is already HTML (from `fragment`), `data` goes on <body> as data-* attributes."""
    extra = "".join(f' data-{escape(key)}="{escape(value)}"' for key, value in (data or {}).items())
    tag = f'<script type="module" src="{assets.url(script)}"></script>' if script else ""
    tag += f'<script type="module" src="{assets.url("js/shell.js")}"></script>'
    return template("shell").substitute(
        title=escape(title),
        css=assets.url("css/dashboard.css"),
        script=tag,
        view=escape(view.name if view else ""),
        user=escape(principal.name),
        role=escape(principal.role),
        wards=escape(",".join(principal.wards)),
        extra=extra,
        nav=_nav(principal, view.name if view else None),
        live_state="connecting" if script else "off",
        live_text="connecting…" if script else "not live",
        content=content,
    )


def login_page() -> str:
    return template("login").substitute(css=assets.url("css/dashboard.css"), script=assets.url("js/login.js"))
