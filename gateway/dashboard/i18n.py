"""The dashboard's languages: English and Simplified Chinese, one message catalogue per area and language.

Catalogues are JSON files `catalogues/{area}.{language}.json` (`shell.en.json`, `shell.zh-CN.json`, ...): each
maps a message key to its text, with `{name}` placeholders. Every key exists in every language with the same
placeholders (a test checks it), and a key lives in one area only. Templates write `{{key}}` where a message goes;
scripts call `t("key", {name: value})` (`js/i18n.js`) on the catalogue the page carries.

The language is the person's choice (the `wardlink_lang` cookie, set from the header), else the first language
their browser asks for that we have, else English.
"""

import json
import re
from functools import cache
from pathlib import Path

from fastapi import Request

CATALOGUES = Path(__file__).resolve().parent / "catalogues"
LANGUAGES: tuple[str, ...] = ("en", "zh-CN")
DEFAULT = "en"
LANGUAGE_COOKIE = "wardlink_lang"
LANGUAGE_NAMES = {"en": "English", "zh-CN": "中文"}
"""Each language in its own words, for the switcher."""

PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
MARKER = re.compile(r"\{\{([a-z][a-z0-9_.-]*)\}\}")


class CatalogueError(ValueError):
    """A catalogue that cannot be read, or a key defined twice: names the file and the key."""


@cache
def catalogue(language: str) -> dict[str, str]:
    """Every message of `language`, from all its area files."""
    if language not in LANGUAGES:
        raise CatalogueError(f"no catalogue for language {language!r}; we have {', '.join(LANGUAGES)}")
    merged: dict[str, str] = {}
    where: dict[str, str] = {}
    for path in sorted(CATALOGUES.glob(f"*.{language}.json")):
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CatalogueError(f"{path.name}: not a JSON catalogue: {exc}") from None
        if not isinstance(entries, dict) or not all(isinstance(v, str) for v in entries.values()):
            raise CatalogueError(f"{path.name}: a catalogue is one JSON object of key -> text")
        for key, text in entries.items():
            if key in merged:
                raise CatalogueError(f"{path.name}: key {key!r} is already defined in {where[key]}")
            merged[key] = text
            where[key] = path.name
    return merged


def translate(language: str, key: str, **params: object) -> str:
    """The message `key` in `language` with its placeholders filled; English, then the key itself, if missing."""
    text = catalogue(language).get(key) or catalogue(DEFAULT).get(key) or key
    return PLACEHOLDER.sub(lambda m: str(params.get(m.group(1), m.group(0))), text)


def catalogue_json(language: str) -> str:
    """The catalogue as JSON safe to put inside a <script> element."""
    text = json.dumps(catalogue(language), ensure_ascii=False, sort_keys=True)
    return text.replace("</", "<\\/")


def language_of(request: Request) -> str:
    """The person's language: their choice (cookie), else their browser's (Accept-Language), else English."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return str(chosen)
    return accepted(request.headers.get("accept-language", ""))


def accepted(header: str) -> str:
    """The best of our languages for an Accept-Language header: `zh`, `zh-CN`, `zh-Hans`, `zh-SG` get zh-CN."""
    ranked: list[tuple[float, int, str]] = []
    for n, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and quality > 0:
            ranked.append((-quality, n, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        if tag == "en" or tag.startswith("en-"):
            return "en"
        if tag == "zh" or tag in ("zh-cn", "zh-sg", "zh-hans") or tag.startswith("zh-hans-"):
            return "zh-CN"
    return DEFAULT
