"""The JMESPath dialect of `mqtt-json` profiles: the standard functions plus `unnest`, for nested vendor arrays.

JMESPath cannot refer to a parent from inside a projection, so a vendor inventory shaped drawers -> bins -> items,
where an item does not repeat its bin's id, could not become the contract's flat list of items. `unnest` lifts the
children up beside their parent's other fields, one level per call:

    unnest(drawers[].bins[], 'items')[].{bin: bin, gtin: gtin, quantity: qty}

Every path of a profile is searched with `OPTIONS`; a function the dialect does not know is a profile problem.
"""

from collections.abc import Iterator
from typing import Any

import jmespath
from jmespath import functions


class ProfileFunctions(functions.Functions):
    @functions.signature({"types": ["array"]}, {"types": ["string"]})
    def _func_unnest(self, parents: list[Any], key: str) -> list[Any]:
        """Each child of each parent's `key` array, with the parent's other fields (the child's win a clash).

        A parent that is not an object, or whose `key` is absent or not an array, contributes nothing (an empty
        bin); a child that is not an object is kept as it is.
        """
        return list(_unnested(parents, key))


def _unnested(parents: list[Any], key: str) -> Iterator[Any]:
    for parent in parents:
        if not isinstance(parent, dict) or not isinstance(parent.get(key), list):
            continue
        context = {k: v for k, v in parent.items() if k != key}
        for child in parent[key]:
            yield {**context, **child} if isinstance(child, dict) else child


OPTIONS = jmespath.Options(custom_functions=ProfileFunctions())
FUNCTIONS = frozenset(name.removeprefix("_func_") for name in dir(ProfileFunctions) if name.startswith("_func_"))
"""Every function a profile's path may call."""


def functions_called(node: Any) -> set[str]:
    """The names of the functions a parsed JMESPath expression (its AST) calls."""
    if isinstance(node, dict):
        called = {node["value"]} if node.get("type") == "function_expression" else set()
        return called.union(*(functions_called(child) for child in node.get("children", [])))
    if isinstance(node, list):
        return set().union(*(functions_called(child) for child in node))
    return set()
