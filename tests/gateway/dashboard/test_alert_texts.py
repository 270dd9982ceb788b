"""Every alert kind the gateway raises has a title in every language, naming only values the page can fill."""

import re

import pytest

from gateway.dashboard.i18n import LANGUAGES, PLACEHOLDER, catalogue
from gateway.rules.alerting import ALERT_KINDS
from tests.gateway.dashboard.test_i18n import DASHBOARD

ALERT_TEXT = DASHBOARD / "static" / "js" / "alert_text.js"


def _values_the_page_fills() -> set[str]:
    """The keys of the object `params(alert)` returns in js/alert_text.js."""
    source = ALERT_TEXT.read_text(encoding="utf-8")
    body = source[source.index("function params(alert)") : source.index("function messageKey")]
    returned = body[body.index("return {") :]
    return set(re.findall(r"^\s{4}([a-z_]+):", returned, flags=re.MULTILINE))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", ALERT_KINDS)
def test_every_alert_kind_has_a_title_and_a_name_in_every_language(language: str, kind: str) -> None:
    messages = catalogue(language)
    assert f"alerts.kind.{kind}" in messages, f"alerts.{language}.json has no title for {kind}"
    assert f"alerts.kind_name.{kind}" in messages, f"alerts.{language}.json has no name for {kind} (history filter)"


def test_alert_titles_name_only_values_the_page_fills_from_an_alert() -> None:
    fills = _values_the_page_fills()
    assert {"barcode", "ward", "device", "cabinet", "since"} <= fills, "the scan of alert_text.js is broken"
    for key, text in catalogue("en").items():
        if key.startswith("alerts.kind."):
            assert set(PLACEHOLDER.findall(text)) <= fills, key
