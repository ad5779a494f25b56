"""HubSpot's CRM search (`POST /crm/v3/objects/contacts/search`) over the stand-in's contacts.

What it keeps of the real API (https://developers.hubspot.com/docs/api-reference/search/guide):
filters within a group are ANDed, groups are ORed (at most 5 groups, 6 filters a group, 18 in
all); one sort; `limit` up to 200 (default 10); `after` is an offset, and no page may reach past
the 10,000th result, so a big account has to page by keys (`hs_object_id GT <last id>`, sorted
ascending) instead of by offset. `hs_object_id` compares as a number, `createdate` and
`lastmodifieddate` as instants (epoch milliseconds or ISO 8601), other values as numbers when
both sides are numbers, else as case-insensitive text. Like HubSpot's, whose search index lags
writes by seconds, the search reads contacts as they were `hubspot_search_lag_s` ago
(`HubSpotStore.searchable`); reads by id stay fresh.

Parsing raises `Invalid` with the message of the 400 VALIDATION_ERROR the route answers.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sandbox.hubspot.store import DEFAULT_READ, Contact

MAX_LIMIT = 200
DEFAULT_LIMIT = 10
MAX_RESULTS = 10_000
MAX_GROUPS = 5
MAX_GROUP_FILTERS = 6
MAX_FILTERS = 18
# Always returned with the properties a search asks for.
ALWAYS = ("hs_object_id", "createdate", "lastmodifieddate")
NUMBERS = frozenset({"hs_object_id"})
INSTANTS = frozenset({"createdate", "lastmodifieddate"})
# What the free-text `query` looks through (HubSpot's default searchable contact properties).
TEXT = ("email", "firstname", "lastname", "phone", "company", "website")
COMPARISONS = ("EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN")
PRESENCE_AND_TOKENS = ("HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN")
OPERATORS = frozenset(COMPARISONS + PRESENCE_AND_TOKENS)
_TOKEN = re.compile(r"[\w*?@.+-]+")

# The order of a value: numbers (and instants) before text, so a mixed sort still has one order.
Key = tuple[int, float | str]


class Invalid(Exception):
    """A search HubSpot refuses with 400 VALIDATION_ERROR; the text is the error's message."""


def _key(name: str, raw: Any) -> Key:
    text = str(raw).strip()
    if name in INSTANTS:
        return (0, _instant(text))
    try:
        return (0, float(int(text)) if name in NUMBERS else float(text))
    except ValueError:
        if name in NUMBERS:
            raise Invalid(f"{text!r} is not a valid value for {name}, a number") from None
        return (1, text.casefold())


def _instant(text: str) -> float:
    """Epoch milliseconds, from milliseconds or an ISO 8601 date or instant (UTC if unzoned)."""
    if text.lstrip("-").isdigit():
        return float(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{text!r} is not a valid date: use epoch milliseconds or ISO 8601") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() * 1000


@dataclass(frozen=True)
class Filter:
    name: str
    operator: str
    value: Key | None = None
    high: Key | None = None
    values: frozenset[Key] = frozenset()
    pattern: str = ""

    def matches(self, contact: Contact) -> bool:
        raw = contact.properties.get(self.name) or ""  # "" is a cleared property: no value
        op = self.operator
        if op in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
            return bool(raw) == (op == "HAS_PROPERTY")
        if not raw:
            # A contact without the property is "not equal" to anything, and nothing else.
            return op in ("NEQ", "NOT_IN", "NOT_CONTAINS_TOKEN")
        if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            found = any(fnmatch.fnmatchcase(t, self.pattern) for t in _TOKEN.findall(raw.lower()))
            return found == (op == "CONTAINS_TOKEN")
        key = _key(self.name, raw)
        if op in ("IN", "NOT_IN"):
            return (key in self.values) == (op == "IN")
        assert self.value is not None
        if op == "BETWEEN":
            assert self.high is not None
            return self.value <= key <= self.high
        return {
            "EQ": key == self.value,
            "NEQ": key != self.value,
            "LT": key < self.value,
            "LTE": key <= self.value,
            "GT": key > self.value,
            "GTE": key >= self.value,
        }[op]


def _filter(item: Any) -> Filter:
    if not isinstance(item, dict) or not isinstance(item.get("propertyName"), str):
        raise Invalid("Each filter needs a propertyName and an operator")
    name, op = item["propertyName"], str(item.get("operator") or "")
    if op not in OPERATORS:
        raise Invalid(f"Unknown operator {op!r}; one of {', '.join(sorted(OPERATORS))}")
    if op in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        return Filter(name, op)
    if op in ("IN", "NOT_IN"):
        values = item.get("values")
        if not isinstance(values, list) or not values:
            raise Invalid(f"The {op} operator needs a non-empty values list ({name})")
        return Filter(name, op, values=frozenset(_key(name, v) for v in values))
    value = item.get("value")
    if value is None or value == "":
        raise Invalid(f"The {op} operator needs a value ({name})")
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        return Filter(name, op, pattern=str(value).strip().lower())
    high = None
    if op == "BETWEEN":
        if item.get("highValue") in (None, ""):
            raise Invalid(f"The BETWEEN operator needs a value and a highValue ({name})")
        high = _key(name, item["highValue"])
    return Filter(name, op, value=_key(name, value), high=high)


@dataclass(frozen=True)
class Query:
    groups: tuple[tuple[Filter, ...], ...]
    sort: str = "hs_object_id"
    descending: bool = False
    properties: tuple[str, ...] = DEFAULT_READ
    limit: int = DEFAULT_LIMIT
    after: int = 0
    text: str = ""

    def matches(self, contact: Contact) -> bool:
        if self.text and not any(self.text in contact.properties.get(n, "").lower() for n in TEXT):
            return False
        return not self.groups or any(all(f.matches(contact) for f in g) for g in self.groups)


def parse(body: dict[str, Any]) -> Query:
    """The search a request body asks for; raises `Invalid` for what HubSpot refuses."""
    groups = body.get("filterGroups") or []
    if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
        raise Invalid("filterGroups must be a list of {filters: [...]}")
    if len(groups) > MAX_GROUPS:
        raise Invalid(f"Too many filter groups ({len(groups)}); the maximum is {MAX_GROUPS}")
    parsed: list[tuple[Filter, ...]] = []
    for group in groups:
        filters = group.get("filters")
        if not isinstance(filters, list) or not filters:
            raise Invalid("Each filter group needs at least one filter")
        if len(filters) > MAX_GROUP_FILTERS:
            raise Invalid(
                f"Too many filters in a group ({len(filters)}); the maximum is {MAX_GROUP_FILTERS}"
            )
        parsed.append(tuple(_filter(f) for f in filters))
    if (count := sum(len(g) for g in parsed)) > MAX_FILTERS:
        raise Invalid(f"Too many filters ({count}); the maximum is {MAX_FILTERS} in all")
    sort, descending = _sort(body.get("sorts"))
    return Query(
        groups=tuple(parsed),
        sort=sort,
        descending=descending,
        properties=_properties(body.get("properties")),
        limit=_limit(body.get("limit")),
        after=_after(body.get("after")),
        text=str(body.get("query") or "").strip().lower(),
    )


def _sort(sorts: Any) -> tuple[str, bool]:
    if not sorts:
        return "hs_object_id", False
    if not isinstance(sorts, list) or len(sorts) != 1 or not isinstance(sorts[0], dict):
        raise Invalid('sorts takes one rule: [{"propertyName": ..., "direction": ...}]')
    name, direction = sorts[0].get("propertyName"), sorts[0].get("direction", "ASCENDING")
    if not isinstance(name, str) or direction not in ("ASCENDING", "DESCENDING"):
        raise Invalid("A sort needs a propertyName and a direction, ASCENDING or DESCENDING")
    return name, direction == "DESCENDING"


def _properties(names: Any) -> tuple[str, ...]:
    if not names:
        return DEFAULT_READ
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise Invalid("properties must be a list of property names")
    return tuple(dict.fromkeys([*names, *ALWAYS]))


def _limit(value: Any) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"Invalid input JSON: limit must be an integer, not {value!r}")
    if not 1 <= value <= MAX_LIMIT:
        raise Invalid(f"limit must be between 1 and {MAX_LIMIT}; {value} is out of range")
    return value


def _after(value: Any) -> int:
    if value is None or value == "":
        return 0
    try:
        offset = int(str(value))
    except ValueError:
        # HubSpot reads `after` as an int: a list API's cursor sent here fails this way.
        raise Invalid(
            f"Invalid input JSON: Cannot deserialize value of type `int` from String {value!r}"
        ) from None
    if offset < 0:
        raise Invalid(f"after must not be negative; {offset} is out of range")
    return offset


def run(query: Query, contacts: Iterable[Contact]) -> dict[str, Any]:
    """The response body: one page of the matching contacts, in the query's order."""
    if query.after + query.limit > MAX_RESULTS:
        raise Invalid(
            f"Search results are limited to {MAX_RESULTS} (after {query.after} + limit "
            f"{query.limit}): narrow the filters, e.g. hs_object_id GT the last id seen"
        )
    found = [c for c in contacts if query.matches(c)]
    with_value = [c for c in found if c.properties.get(query.sort)]
    without = [c for c in found if not c.properties.get(query.sort)]
    with_value.sort(
        key=lambda c: (_key(query.sort, c.properties[query.sort]), int(c.id)),
        reverse=query.descending,
    )
    ordered = with_value + sorted(without, key=lambda c: int(c.id))  # no value: always last
    page = ordered[query.after : query.after + query.limit]
    body: dict[str, Any] = {"total": len(found), "results": [_result(c, query) for c in page]}
    if query.after + query.limit < len(found):
        body["paging"] = {"next": {"after": str(query.after + query.limit)}}
    return body


def _result(contact: Contact, query: Query) -> dict[str, Any]:
    return {
        "id": contact.id,
        "properties": {n: contact.properties.get(n) or None for n in query.properties},
        "createdAt": contact.properties["createdate"],
        "updatedAt": contact.properties["lastmodifieddate"],
        "archived": False,
    }


# The request body, for the sandbox's OpenAPI document (the route parses it by hand).
REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "filterGroups": {
            "type": "array",
            "maxItems": MAX_GROUPS,
            "items": {
                "type": "object",
                "properties": {
                    "filters": {
                        "type": "array",
                        "maxItems": MAX_GROUP_FILTERS,
                        "items": {
                            "type": "object",
                            "required": ["propertyName", "operator"],
                            "properties": {
                                "propertyName": {"type": "string"},
                                "operator": {"type": "string", "enum": sorted(OPERATORS)},
                                "value": {"type": "string"},
                                "highValue": {"type": "string"},
                                "values": {"type": "array", "items": {"type": "string"}},
                            },
                        },
                    }
                },
            },
        },
        "sorts": {
            "type": "array",
            "maxItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "propertyName": {"type": "string"},
                    "direction": {"type": "string", "enum": ["ASCENDING", "DESCENDING"]},
                },
            },
        },
        "query": {"type": "string"},
        "properties": {"type": "array", "items": {"type": "string"}},
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        "after": {"type": "string", "description": "an offset; after + limit <= 10000"},
    },
}
