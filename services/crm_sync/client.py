"""HubSpot CRM v3 client: read a contact by email, and upsert contacts by email, up to 100 in one
call.

Batch upsert with `idProperty=email` is race-free (no search-then-create, whose index lags), and
reading by `idProperty=email` is a direct lookup, not the lagging search API. One batch call may
carry many customers' contacts (`batching.ContactUpserts`); its answer is split back per input.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from libs.runtime.errors import PermanentProviderError, ProviderError, TransientProviderError
from libs.runtime.provider_http import ProviderHttp, bearer_client
from libs.runtime.worker_metrics import WorkerMetrics

CONTACTS = "/crm/v3/objects/contacts"
UPSERT = f"{CONTACTS}/batch/upsert"
#: HubSpot's limit of inputs per batch call
MAX_BATCH = 100
SEARCH = f"{CONTACTS}/search"
#: HubSpot's most results per search page
SEARCH_PAGE = 200

#: the integration's one name (metrics, errors, settings); HubSpot is the provider's
INTEGRATION = "crm"


class HubSpotClient:
    def __init__(self, client: httpx.AsyncClient, metrics: WorkerMetrics | None = None) -> None:
        self.http = ProviderHttp(INTEGRATION, client, metrics)

    #: an httpx client for the API, with the bearer token on every call
    make_http = staticmethod(bearer_client)

    async def get_contact(self, email: str, names: Iterable[str]) -> dict[str, str] | None:
        """The contact's values of `names` ("" when unset), or None if no contact has `email`."""
        wanted = sorted(names)
        response = await self.http.request(
            "GET",
            CONTACTS + "/{email}",
            path={"email": quote(email, safe="@")},
            ok=(200, 404),
            params={"idProperty": "email", "properties": ",".join(wanted)},
        )
        if response.status_code == 404:
            return None
        properties = response.json().get("properties") or {}
        return {name: str(properties.get(name) or "") for name in wanted}

    async def contacts_with(
        self, marker: str, names: Iterable[str], after_id: int | None
    ) -> tuple[list[tuple[int, dict[str, str]]], int | None]:
        """One page (200, HubSpot's most) of the contacts that have the `marker` property, in id
        order after `after_id`, with their values of `names`; and the id to continue after
        (None: the last page). Paged by id, not by `after`: HubSpot's search stops at 10,000
        results per query. A read, though it is a POST (the search index lags writes by
        seconds)."""
        filters: list[dict[str, Any]] = [{"propertyName": marker, "operator": "HAS_PROPERTY"}]
        if after_id is not None:
            filters.append({"propertyName": "hs_object_id", "operator": "GT", "value": after_id})
        wanted = sorted(set(names) | {"email", marker})
        response = await self.http.request(
            "POST",
            SEARCH,
            ok=(200,),
            json={
                "filterGroups": [{"filters": filters}],
                "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                "properties": wanted,
                "limit": SEARCH_PAGE,
            },
        )
        found = [
            (int(r["id"]), {n: str((r.get("properties") or {}).get(n) or "") for n in wanted})
            for r in response.json().get("results", [])
        ]
        last = found[-1][0] if len(found) == SEARCH_PAGE else None
        return found, last

    async def change_email(self, previous: str, email: str) -> bool:
        """Give the contact at `previous` the address `email`. False when that cannot be done as
        asked: no contact has `previous` any more (404), or another one already has `email`
        (409 CONFLICT); the caller then reads again."""
        response = await self.http.request(
            "PATCH",
            CONTACTS + "/{email}",
            path={"email": quote(previous, safe="@")},
            ok=(200, 404, 409),
            params={"idProperty": "email"},
            json={"properties": {"email": email}},
        )
        return response.status_code == 200

    async def upsert_contact(self, email: str, properties: Mapping[str, str]) -> dict[str, str]:
        """Create or update the contact at `email`; its values of `properties` as answered (a
        stage HubSpot would not move back keeps its value)."""
        [answer] = await self.upsert_contacts([(email, properties)])
        if isinstance(answer, ProviderError):
            raise answer
        return answer

    async def upsert_contacts(
        self, inputs: Sequence[tuple[str, Mapping[str, str]]]
    ) -> list[dict[str, str] | ProviderError]:
        """Upsert each `(email, properties)` in one call; per input, in the inputs' order, the
        contact's values of the properties sent ("" when unset), or that input's own error (a 207
        Multi-Status lists them: RATE_LIMITS is transient, the rest permanent). A failure of the
        whole call (429, 5xx, a 400 for every input) raises. At most 100 inputs, emails unique."""
        if len(inputs) > MAX_BATCH:
            raise ValueError(f"{len(inputs)} inputs: HubSpot takes at most {MAX_BATCH} per call")
        index = {email.lower(): i for i, (email, _) in enumerate(inputs)}
        if len(index) != len(inputs):
            raise ValueError("two inputs of one upsert have the same email")
        if not inputs:
            return []
        body = {
            "inputs": [
                {"idProperty": "email", "id": email, "properties": dict(properties)}
                for email, properties in inputs
            ]
        }
        response = await self.http.request("POST", UPSERT, ok=(200, 201, 207), json=body)
        payload: dict[str, Any] = response.json()
        status = response.status_code
        answers: dict[int, dict[str, str] | ProviderError] = {}
        unmatched: list[dict[str, Any] | ProviderError] = []
        # HubSpot does not promise the inputs' order: match results by email, errors by the ids
        # they name (`context.ids`, the inputs' emails)
        for result in payload.get("results") or []:
            found = _input_of(result, index)
            if found is None or found in answers:
                unmatched.append(result)
            else:
                answers[found] = _values(result, inputs[found][1])
        for error in payload.get("errors") or []:
            ids = [str(i).lower() for i in (error.get("context") or {}).get("ids") or []]
            named = [index[i] for i in ids if i in index and index[i] not in answers]
            for found in named:
                answers[found] = item_error(error, status)
            if not named:
                unmatched.append(item_error(error, status))
        missing = [i for i in range(len(inputs)) if i not in answers]
        if len(missing) == 1 and len(unmatched) == 1:
            # one input and one answer left (a result under another address, an error naming
            # none): they can only be each other's
            [left] = unmatched
            answers[missing[0]] = (
                left if isinstance(left, ProviderError) else _values(left, inputs[missing[0]][1])
            )
        return [answers[i] if i in answers else item_error({}, status) for i in range(len(inputs))]


def _input_of(result: dict[str, Any], index: Mapping[str, int]) -> int | None:
    """Which input a result answers: its `properties.email`, or its `id` when that is an email."""
    email = str((result.get("properties") or {}).get("email") or "").lower()
    if email in index:
        return index[email]
    return index.get(str(result.get("id") or "").lower())


def _values(result: dict[str, Any], sent: Mapping[str, str]) -> dict[str, str]:
    properties = result.get("properties") or {}
    return {name: str(properties.get(name) or "") for name in sent}


def item_error(error: dict[str, Any], status: int) -> ProviderError:
    category = str(error.get("category") or "BATCH_ERROR")
    message = str(error.get("message") or "the upsert returned no contact")
    kind = TransientProviderError if category == "RATE_LIMITS" else PermanentProviderError
    return kind(
        INTEGRATION, message, status=status, endpoint=f"POST {UPSERT}", code=category.lower()
    )
