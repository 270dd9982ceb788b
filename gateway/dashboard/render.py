"""The dashboard's HTML: one shell per staff page (header, navigation, live badge) around a view's template.

Templates are `string.Template`s (`$name` for a value) with `{{key}}` markers for messages (`i18n.py`): a page
is rendered in one language, with that language's catalogue embedded for its scripts.
"""

import json
import re
from dataclasses import dataclass, field
from functools import cache
from html import escape
from pathlib import Path
from string import Template

from gateway.auth.principal import Principal
from gateway.dashboard import assets
from gateway.dashboard.access import View, views_for
from gateway.dashboard.i18n import LANGUAGE_NAMES, MARKER, catalogue_json, translate

TEMPLATES = Path(__file__).resolve().parent / "templates"


@cache
def _source(name: str) -> str:
    return (TEMPLATES / f"{name}.html").read_text(encoding="utf-8")


def fragment(name: str, language: str, **values: str) -> str:
    """A template in `language`, every value HTML-escaped; a message's `{placeholders}` take the same values."""
    return _localized(name, language, values).substitute({key: escape(value) for key, value in values.items()})


def _localized(name: str, language: str, values: dict[str, str]) -> Template:
    """Template `name` with its `{{key}}` messages in `language` (escaped, and `$`-safe for the template)."""

    def message(match: re.Match[str]) -> str:
        return escape(translate(language, match.group(1), **values)).replace("$", "$$")

    return Template(MARKER.sub(message, _source(name)))


@dataclass(frozen=True, slots=True)
class Zones:
    """The hospital's time zone (IANA), and each site's own where it has one: what times on a page are shown in."""

    hospital: str = "UTC"
    sites: dict[str, str] = field(default_factory=dict)


def view_title(view: View, language: str) -> str:
    return translate(language, f"view.{view.name}")


def _nav(principal: Principal, current: str | None, language: str) -> str:
    links = []
    for view in views_for(principal):
        here = ' aria-current="page"' if view.name == current else ""
        links.append(f'<a href="{view.path}"{here}>{escape(view_title(view, language))}</a>')
    return "".join(links)


def _languages(current: str) -> str:
    return "".join(
        f'<option value="{code}"{" selected" if code == current else ""} lang="{code}">{escape(name)}</option>'
        for code, name in LANGUAGE_NAMES.items()
    )


def page(
    principal: Principal,
    *,
    language: str,
    title: str,
    view: View | None,
    content: str,
    script: str | None = None,
    data: dict[str, str] | None = None,
    zones: Zones | None = None,
) -> str:
    """A staff page; `content` is already HTML (from `fragment`), `data` goes on <body> as data-* attributes;
    times on it are shown in `zones` (`data-tz`, and `data-site-zones` for sites with their own)."""
    zones = zones or Zones()
    attributes = {
        "tz": zones.hospital,
        **({"site-zones": json.dumps(zones.sites)} if zones.sites else {}),
        **(data or {}),
    }
    extra = "".join(f' data-{escape(key)}="{escape(value)}"' for key, value in attributes.items())
    # The shell's script first: its small graph runs before the view's, so the header's buttons work at once.
    tag = f'<script type="module" src="{assets.url("js/shell.js")}"></script>'
    tag += f'<script type="module" src="{assets.url(script)}"></script>' if script else ""
    values = {
        "title": title,
        "role_name": translate(language, f"role.{principal.role}"),
        "user": principal.name,
        "zone": zones.hospital,
    }
    return _localized("shell", language, values).substitute(
        lang=language,
        catalogue=catalogue_json(language),
        languages=_languages(language),
        title=escape(title),
        css=assets.url("css/dashboard.css"),
        script=tag,
        view=escape(view.name if view else ""),
        user=escape(principal.name),
        role=escape(principal.role),
        role_name=escape(values["role_name"]),
        wards=escape(",".join(principal.wards)),
        extra=extra,
        nav=_nav(principal, view.name if view else None, language),
        live_state="connecting" if script else "off",
        live_text=escape(translate(language, "live.connecting" if script else "live.off")),
        content=content,
    )


def login_page(language: str) -> str:
    return _localized("login", language, {}).substitute(
        lang=language,
        catalogue=catalogue_json(language),
        css=assets.url("css/dashboard.css"),
        script=assets.url("js/login.js"),
    )
