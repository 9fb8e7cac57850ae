"""The types of JSON values, as cfgc parses, compiles and publishes them.

``JSONValue`` is what ``json.loads`` returns (and what a YAML layer holds once
its tags are resolved); ``JSONObject`` and ``JSONArray`` are its containers.
They are plain aliases: nothing is checked or converted at run time, so using
them costs nothing on a hot path.  A function that accepts anything the
canonical encoder accepts (secret references, dataclasses) takes ``object``.
"""

from __future__ import annotations

from typing import TypeAlias

JSONScalar: TypeAlias = None | bool | int | float | str
JSONValue: TypeAlias = JSONScalar | list["JSONValue"] | dict[str, "JSONValue"]
JSONObject: TypeAlias = dict[str, JSONValue]
JSONArray: TypeAlias = list[JSONValue]

__all__ = ["JSONArray", "JSONObject", "JSONScalar", "JSONValue"]
