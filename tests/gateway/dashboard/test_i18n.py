"""The dashboard in English and Simplified Chinese: complete catalogues, the person's choice, the browser's."""

import re
from pathlib import Path

import pytest

from gateway.dashboard import i18n
from gateway.dashboard.i18n import LANGUAGES, PLACEHOLDER, accepted, catalogue, translate
from gateway.dashboard.render import fragment

DASHBOARD = Path(i18n.__file__).resolve().parent
SCRIPT_KEYS = re.compile(r"""\bt\(\s*["'`]([a-z][a-z0-9_.-]*)["'`]""")


def test_every_message_exists_in_every_language_with_the_same_placeholders() -> None:
    english = catalogue("en")
    for language in LANGUAGES:
        other = catalogue(language)
        assert sorted(set(english) ^ set(other)) == [], f"keys in one catalogue only ({language} vs en)"
        for key, text in english.items():
            assert set(PLACEHOLDER.findall(other[key])) == set(PLACEHOLDER.findall(text)), (language, key)
            assert other[key].strip(), (language, key)


def test_every_message_a_template_or_script_names_is_in_the_catalogue() -> None:
    named: set[str] = set()
    for template in (DASHBOARD / "templates").glob("*.html"):
        named |= set(i18n.MARKER.findall(template.read_text(encoding="utf-8")))
    for script in (DASHBOARD / "static" / "js").glob("*.js"):
        named |= set(SCRIPT_KEYS.findall(script.read_text(encoding="utf-8")))
    assert named, "no message keys found: the scan itself is broken"
    assert sorted(named - set(catalogue("en"))) == []


def test_a_key_defined_in_two_areas_names_both_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "lab.en.json").write_text('{"x.title": "X"}', encoding="utf-8")
    (tmp_path / "pharmacy.en.json").write_text('{"x.title": "Y"}', encoding="utf-8")
    monkeypatch.setattr(i18n, "CATALOGUES", tmp_path)
    catalogue.cache_clear()
    try:
        with pytest.raises(i18n.CatalogueError, match=r"pharmacy\.en\.json: key 'x\.title' is already defined in lab"):
            catalogue("en")
    finally:
        catalogue.cache_clear()


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("zh", "zh-CN"),
        ("zh-Hans-CN", "zh-CN"),
        ("en-GB,en;q=0.9", "en"),
        ("fr-FR, zh-CN;q=0.5, en;q=0.4", "zh-CN"),
        ("de, en;q=0.9, zh;q=0.8", "en"),
        ("zh-TW", "en"),
        ("", "en"),
        ("zh-CN;q=0, en;q=0.1", "en"),
    ],
)
def test_the_browsers_language_picks_the_best_we_have(header: str, language: str) -> None:
    assert accepted(header) == language


def test_messages_fill_placeholders_and_templates_are_escaped() -> None:
    assert translate("zh-CN", "not_found.specimen", barcode="S1").startswith("没有您可查看的标本 S1")
    assert translate("zh-CN", "no.such.key") == "no.such.key"
    page = fragment("refused", "zh-CN", page="<检验科>", needed="x", user="u$1", role="r", home="/lab")
    assert "&lt;检验科&gt;" in page  # a value is escaped inside a message...
    assert "u$1" in page  # ...and a `$` in it is not read as a template placeholder
    assert "<检验科>" not in page
