"""Search parameters as FHIR defines them: dates are ranges by precision, prefixes bound them, strictness on names."""

from datetime import UTC, datetime

import pytest

from gateway.clinical.fhir.search import MAX_OFFSET, SearchError, SearchParam, Token, Window, cursor, date_window, parse

PARAMS = (
    SearchParam("identifier", "token", ""),
    SearchParam("_lastUpdated", "date", ""),
    SearchParam("name", "string", ""),
    SearchParam("target", "reference", ""),
)


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]  # year, month, day and more


@pytest.mark.parametrize(
    ("value", "window"),
    [
        ("2026", Window(at(2026, 1, 1), at(2027, 1, 1))),
        ("2026-12", Window(at(2026, 12, 1), at(2027, 1, 1))),
        ("2026-11-23", Window(at(2026, 11, 23), at(2026, 11, 24))),
        ("eq2026-11-23T08:30", Window(at(2026, 11, 23, 8, 30), at(2026, 11, 23, 8, 31))),
        ("2026-11-23T08:30:15Z", Window(at(2026, 11, 23, 8, 30, 15), at(2026, 11, 23, 8, 30, 16))),
        ("2026-11-23T08:30:15.5Z", Window(at(2026, 11, 23, 8, 30, 15, 500000), at(2026, 11, 23, 8, 30, 15, 600000))),
        ("2026-11-23T09:30:00+01:00", Window(at(2026, 11, 23, 8, 30), at(2026, 11, 23, 8, 30, 1))),
        ("ge2026-11-23", Window(at(2026, 11, 23), None)),
        ("gt2026-11-23", Window(at(2026, 11, 24), None)),  # after the whole day
        ("le2026-11-23", Window(None, at(2026, 11, 24))),
        ("lt2026-11-23", Window(None, at(2026, 11, 23))),
    ],
)
def test_a_date_is_a_range_and_its_prefix_bounds_the_instants_it_admits(value: str, window: Window) -> None:
    assert date_window(value) == window


def test_repeated_dates_narrow_and_tokens_and_across_repeats_or_within_one() -> None:
    search = parse(
        "Specimen",
        PARAMS,
        [
            ("_lastUpdated", "ge2026-11-23"),
            ("_lastUpdated", "lt2026-11-23T12:00Z"),
            ("identifier", "A,sys|B,C"),
            ("identifier", "B,C"),
        ],
    )
    assert search.updated == Window(at(2026, 11, 23), at(2026, 11, 23, 12))
    assert search.tokens["identifier"][0] == (Token(None, "A"), Token("sys", "B"), Token(None, "C"))
    assert search.codes("identifier", "sys") == {"B", "C"}
    assert search.codes("identifier", "other") == {"C"}
    assert search.codes("status") is None


def test_strings_start_with_ignoring_case_unless_exact_or_contains() -> None:
    search = parse("Location", PARAMS, [("name", "ward")])
    assert search.text_matches("name", ["Ward 3A"])
    assert not search.text_matches("name", ["Main ward"])
    assert parse("Location", PARAMS, [("name:contains", "WARD")]).text_matches("name", ["Main ward"])
    assert not parse("Location", PARAMS, [("name:exact", "ward 3a")]).text_matches("name", ["Ward 3A"])


def test_a_cursor_continues_only_the_search_it_was_made_for() -> None:
    first = parse("Specimen", PARAMS, [("identifier", "A"), ("_count", "2")])
    token = cursor(first, 4)
    assert parse("Specimen", PARAMS, [("identifier", "A"), ("_cursor", token)]).offset == 4
    with pytest.raises(SearchError, match="not a cursor this server made"):
        parse("Specimen", PARAMS, [("identifier", "B"), ("_cursor", token)])
    with pytest.raises(SearchError, match="not a cursor this server made"):
        parse("Location", PARAMS, [("identifier", "A"), ("_cursor", token)])


def test_a_forged_cursor_beyond_the_deepest_page_is_refused_before_the_database() -> None:
    search = parse("Specimen", PARAMS, [("identifier", "A")])
    assert (
        parse("Specimen", PARAMS, [("identifier", "A"), ("_cursor", cursor(search, MAX_OFFSET))]).offset == MAX_OFFSET
    )
    with pytest.raises(SearchError, match="not a cursor this server made"):
        parse("Specimen", PARAMS, [("identifier", "A"), ("_cursor", cursor(search, 10**30))])


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ([("colour", "red")], "has no search parameter 'colour'"),
        ([("_lastUpdated", "ap2026")], "the date prefix 'ap' is not supported"),
        ([("_lastUpdated", "2026-11-23,2026-11-24")], "give one date per parameter"),
        ([("_lastUpdated", "2026-02-30")], "is not a valid date"),
        ([("identifier:missing", "true")], "the modifier 'missing' is not supported"),
        ([("name:fuzzy", "x")], "the string modifier 'fuzzy' is not supported"),
        ([("target", "S-1001")], "give the reference as Type/id"),
        ([("_count", "-1")], "give a whole number from 0 to 500"),
        ([("identifier", "")], "must not be empty"),
    ],
)
def test_what_a_search_cannot_mean_is_refused_with_the_reason(query: list[tuple[str, str]], says: str) -> None:
    with pytest.raises(SearchError, match=says):
        parse("Specimen", PARAMS, query)
