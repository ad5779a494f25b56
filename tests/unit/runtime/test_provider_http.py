"""Outbound calls: every httpx outcome becomes one of our errors, and every call is timed by
route and status."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import CollectorRegistry

from libs.runtime.errors import (
    PermanentProviderError,
    ProviderAuthError,
    ProviderError,
    TransientProviderError,
)
from libs.runtime.provider_http import ProviderHttp
from libs.runtime.worker_metrics import WorkerMetrics

TEMPLATE = "/api/admin/v2/access_groups/{id}/community_members"


def http(handler: httpx.MockTransport) -> tuple[ProviderHttp, CollectorRegistry]:
    registry = CollectorRegistry()
    client = httpx.AsyncClient(transport=handler, base_url="http://circle")
    return ProviderHttp("circle", client, WorkerMetrics(registry)), registry


def count(registry: CollectorRegistry, status: str) -> float:
    labels = {"integration": "circle", "route": f"POST {TEMPLATE}", "status": status}
    return registry.get_sample_value("switchboard_downstream_request_seconds_count", labels) or 0


async def call(provider: ProviderHttp) -> httpx.Response:
    return await provider.request("POST", TEMPLATE, path={"id": 7}, json={"email": "a@b.c"})


@pytest.mark.parametrize(
    ("status", "headers", "kind", "retry_after"),
    [
        (503, {}, TransientProviderError, None),
        (429, {"Retry-After": "7"}, TransientProviderError, 7.0),
        (429, {}, TransientProviderError, None),
        (401, {}, ProviderAuthError, None),
        (422, {}, PermanentProviderError, None),
    ],
)
async def test_statuses_become_errors_and_are_timed_by_template_and_status(
    status: int, headers: dict[str, str], kind: type[ProviderError], retry_after: float | None
) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(status, headers=headers, text="Retry later")

    provider, registry = http(httpx.MockTransport(handler))
    with pytest.raises(ProviderError) as caught:
        await call(provider)
    assert type(caught.value) is kind
    assert (caught.value.status, caught.value.retry_after) == (status, retry_after)
    assert caught.value.endpoint == f"POST {TEMPLATE}"
    assert seen == ["/api/admin/v2/access_groups/7/community_members"]  # id filled in
    assert count(registry, str(status)) == 1  # label is the template: no ids in metrics


async def test_a_success_is_returned_and_timed() -> None:
    provider, registry = http(httpx.MockTransport(lambda _: httpx.Response(201, json={})))
    assert (await call(provider)).status_code == 201
    assert count(registry, "201") == 1


@pytest.mark.parametrize(
    ("exc", "code"),
    [(httpx.ReadTimeout("slow"), "timeout"), (httpx.ConnectError("refused"), "connection")],
)
async def test_timeouts_and_connection_errors_are_transient(exc: Exception, code: str) -> None:
    def handler(_: httpx.Request) -> httpx.Response:
        raise exc

    provider, registry = http(httpx.MockTransport(handler))
    with pytest.raises(TransientProviderError) as caught:
        await call(provider)
    assert caught.value.code == code
    assert count(registry, "error") == 1
