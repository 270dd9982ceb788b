"""`unnest`: the one function profiles' JSON paths add to JMESPath, for arrays nested in arrays."""

from typing import Any

import jmespath
import pytest

from device_profiles.json_paths import FUNCTIONS, OPTIONS, functions_called

DRAWERS = {
    "drawers": [
        {"drawer": "D1", "bins": [
            {"slot": "D1-01", "items": [{"batch": "A", "count": 3}, {"batch": "B", "count": 1}]},
            {"slot": "D1-02", "items": []},
            {"slot": "D1-03"},
        ]},
        {"drawer": "F", "bins": [{"slot": "F-01", "items": [{"batch": "C", "count": 0, "slot": "F-01b"}]}]},
    ]
}  # fmt: skip


def search(path: str, document: Any) -> Any:
    return jmespath.compile(path).search(document, options=OPTIONS)


def test_unnest_lifts_each_child_beside_its_parents_fields() -> None:
    assert search("unnest(drawers[].bins[], 'items')[].[slot, batch, count]", DRAWERS) == [
        ["D1-01", "A", 3],
        ["D1-01", "B", 1],
        ["F-01b", "C", 0],  # the child's own field wins a clash
    ]


def test_unnest_nests_one_level_per_call() -> None:
    assert search("unnest(unnest(drawers, 'bins'), 'items')[].[drawer, slot, batch]", DRAWERS) == [
        ["D1", "D1-01", "A"],
        ["D1", "D1-01", "B"],
        ["F", "F-01b", "C"],
    ]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"bins": ["not an object", {"slot": "x", "items": "not a list"}]}, []),
        ({"bins": [{"slot": "x", "items": ["plain"]}]}, ["plain"]),
    ],
)
def test_unnest_skips_parents_without_children_and_keeps_plain_children(document: Any, expected: Any) -> None:
    assert search("unnest(bins, 'items')", document) == expected


def test_unnest_of_something_not_an_array_is_a_type_error() -> None:
    with pytest.raises(jmespath.exceptions.JMESPathTypeError):
        search("unnest(bins, 'items')", {"bins": "none"})


def test_the_functions_a_path_calls_are_found_wherever_they_are() -> None:
    parsed = jmespath.compile("unnest(a[].b, 'c')[].{n: length(d), m: max_by(e, &f)}").parsed
    assert functions_called(parsed) == {"unnest", "length", "max_by"}
    assert {"unnest", "length", "max_by", "merge"} <= FUNCTIONS
