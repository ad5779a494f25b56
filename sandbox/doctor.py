"""What `switchboard doctor` reads from the providers' account settings, and how a test makes
it wrong: the HubSpot token's scopes, whether the Stripe key may write, and the Stripe webhook
endpoints. `POST /_sandbox/doctor` changes any of them (`doctor_routes.py`). A wrong
credential needs no switch: the command sends another one and the stand-in answers 401, as the
real API would."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

#: what Switchboard's CRM sync needs, and all a healthy private app is given
CRM_SCOPES = ("crm.objects.contacts.read", "crm.objects.contacts.write")

#: the event types the sandbox's trigger sends, which are the ones ingest handles (DESIGN.md,
#: "Stripe events to handle first"); a healthy endpoint enables each of them
HANDLED_EVENTS = (
    "checkout.session.completed",
    "invoice.paid",
    "invoice.payment_failed",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "charge.refunded",
    "charge.dispute.created",
    "customer.updated",
)


class Endpoint(BaseModel):
    """A webhook endpoint as a test registers it (Stripe's object is built from it)."""

    model_config = ConfigDict(extra="forbid")

    url: str
    enabled_events: list[str] = list(HANDLED_EVENTS)
    status: Literal["enabled", "disabled"] = "enabled"


class DoctorConfig(BaseModel):
    """The body of `POST /_sandbox/doctor`; a field left out keeps its value."""

    model_config = ConfigDict(extra="forbid")

    hubspot_scopes: list[str] = list(CRM_SCOPES)
    #: whether a restricted (`rk_`) Stripe key was given write permissions; a standard
    #: (`sk_`) key can always write
    stripe_key_writes: bool = False
    #: None: one endpoint, at the sandbox's ingest URL, with every handled event
    webhook_endpoints: list[Endpoint] | None = None


def endpoint_objects(config: DoctorConfig, ingest_url: str, livemode: bool) -> list[Any]:
    """The endpoints as `GET /v1/webhook_endpoints` lists them."""
    endpoints = config.webhook_endpoints
    if endpoints is None:
        endpoints = [Endpoint(url=ingest_url)]
    return [
        {
            "id": f"we_sandbox{index:04d}",
            "object": "webhook_endpoint",
            "api_version": None,
            "application": None,
            "created": 1_700_000_000 + index,
            "description": None,
            "enabled_events": list(endpoint.enabled_events),
            "livemode": livemode,
            "metadata": {},
            "status": endpoint.status,
            "url": endpoint.url,
        }
        for index, endpoint in enumerate(endpoints, start=1)
    ]
