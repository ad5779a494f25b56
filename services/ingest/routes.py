"""Ingest's HTTP entrypoints: translate requests into use cases and results into responses."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from libs.runtime.http import error_response
from libs.runtime.logging import get_logger

from .metrics import IngestMetrics
from .normalize import TOO_DEEP, NotAStripeEvent, require_utf8
from .service import IngestService
from .settings import IngestSettings
from .signature import SignatureError, verify_signature

log = get_logger()


class WebhookAccepted(BaseModel):
    received: bool = True
    event_id: str
    duplicate: bool


class ErrorBody(BaseModel):
    error: str
    message: str


def webhook_router(
    settings: IngestSettings, service: IngestService, metrics: IngestMetrics
) -> APIRouter:
    router = APIRouter()
    secrets = [s.get_secret_value() for s in settings.stripe_webhook_secrets]

    def reject(status: int, code: str, message: str) -> JSONResponse:
        metrics.webhooks.labels("stripe", "unknown", code).inc()
        log.warning("webhook_rejected", provider="stripe", outcome=code, status=status)
        return error_response(status, code, message)

    @router.post(
        "/webhooks/stripe",
        response_model=WebhookAccepted,
        responses={400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 413: {"model": ErrorBody}},
        summary="Receive a Stripe webhook",
    )
    async def stripe_webhook(
        request: Request,
        stripe_signature: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        started = time.perf_counter()
        try:
            declared = int(request.headers.get("content-length") or 0)
            if declared > settings.max_body_bytes:
                return reject(413, "payload_too_large", "the body is larger than 1 MiB")
            raw = bytearray()
            async for chunk in request.stream():
                raw += chunk
                if len(raw) > settings.max_body_bytes:
                    return reject(413, "payload_too_large", "the body is larger than 1 MiB")
            try:
                verify_signature(
                    bytes(raw),
                    stripe_signature,
                    secrets,
                    now=int(time.time()),
                    tolerance=settings.stripe_signature_tolerance_seconds,
                )
            except SignatureError as exc:
                return reject(401, exc.code, exc.message)
            try:
                require_utf8(bytes(raw))
                accepted = await service.accept(bytes(raw))
            except NotAStripeEvent as exc:
                return reject(400, exc.code, str(exc))
            except RecursionError:
                # the JSON parser gives up on deep nesting (e.g. 100,000 brackets) this way;
                # nothing was stored yet
                return reject(400, TOO_DEEP.code, str(TOO_DEEP))
            outcome = "duplicate" if accepted.duplicate else "accepted"
            type_label = metrics.type_label(accepted.event_type)
            metrics.webhooks.labels("stripe", type_label, outcome).inc()
            body = WebhookAccepted(event_id=accepted.event_id, duplicate=accepted.duplicate)
            return JSONResponse(body.model_dump(), status_code=200)
        finally:
            metrics.processing.labels("stripe").observe(time.perf_counter() - started)

    return router
