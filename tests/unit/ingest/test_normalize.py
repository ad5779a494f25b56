"""Stripe event → `StripeChange` (services/ingest/normalize.py) on payloads built from Stripe's
own example objects (sandbox/stripe/fixtures.json, a copy of stripe/openapi's fixtures3.json)
through the sandbox's builders, in both invoice shapes (before and after API 2025-03-31)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from libs.contracts import CustomerState, Lifecycle, Signal, transition
from sandbox.stripe import charges, objects
from sandbox.stripe import events as se
from services.ingest.canonical import CanonicalCustomer, apply_change
from services.ingest.normalize import (
    HANDLED_TYPES,
    NotAStripeEvent,
    StripeChange,
    normalize,
    parse_event,
    stripe_id_of,
)

Obj = dict[str, Any]

CREATED = 1_790_000_000
CUS = "cus_QXg1o8vcGmoR32"
SUB = "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw"
INV = "in_1Pgc6tB7WZ01zgkWu9fdqL6I"
CH = "ch_1PgafuB7WZ01zgkWXYmPNZs8"
PI = "pi_1PgafyB7WZ01zgkWSjxsAJo3"
EMAIL = "jane.doe@example.com"
PRODUCT = "prod_Membership0001"
PRICE = "price_1Membership000000001"

#: DESIGN.md, "Stripe events to handle first"
DESIGN_TYPES = {
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
}


# --- builders on top of sandbox.stripe.events -------------------------------------------------


def checkout(**overrides: Any) -> Obj:
    event = se.checkout_session_completed(
        event_id="evt_checkout",
        customer_id=CUS,
        subscription_id=SUB,
        invoice_id=INV,
        email=EMAIL,
        created=CREATED,
    )
    event["data"]["object"].update(overrides)
    return event


def invoice_event(event_type: str, *, legacy: bool) -> Obj:
    """An invoice event as Stripe renders it for an endpoint on a current API version, or (legacy)
    on one before 2025-03-31: top-level `subscription` and `charge`, line items with a `price`
    object instead of `pricing.price_details`."""
    paid = event_type == "invoice.paid"
    fields: Obj = {
        "invoice_id": INV,
        "customer_id": CUS,
        "email": EMAIL,
        "created": CREATED,
        "paid": paid,
        "price_id": PRICE,
        "product_id": PRODUCT,
        "next_payment_attempt": None if paid else CREATED + 3600,
    }
    if not legacy:
        obj = objects.invoice(subscription_id=SUB, **fields)
        return se.event(event_type, obj, event_id="evt_invoice", created=CREATED)
    obj = objects.legacy_invoice(subscription_id=SUB, charge_id=CH, **fields)
    for line in obj["lines"]["data"]:
        # `pricing` replaced `price` on line items in 2025-03-31.basil.
        line.pop("pricing", None)
        line["price"] = objects.price(
            price_id=PRICE, product_id=PRODUCT, amount=line["amount"], created=CREATED
        )
    return se.event(
        event_type,
        obj,
        event_id="evt_invoice",
        created=CREATED,
        api_version=se.LEGACY_API_VERSION,
    )


def subscription_event(event_type: str, status: str) -> Obj:
    obj = objects.subscription(
        subscription_id=SUB,
        customer_id=CUS,
        created=CREATED - 86_400,
        status=status,
        price_id=PRICE,
        product_id=PRODUCT,
    )
    return se.event(
        event_type,
        obj,
        event_id="evt_subscription",
        created=CREATED,
        previous_attributes={"status": "active"},
    )


def refunded(**overrides: Any) -> Obj:
    event = se.charge_refunded(
        event_id="evt_refund",
        charge_id=CH,
        customer_id=CUS,
        email=EMAIL,
        created=CREATED,
        payment_intent_id=PI,
    )
    event["data"]["object"].update(overrides)
    return event


def disputed() -> Obj:
    return se.charge_dispute_created(
        event_id="evt_dispute",
        dispute_id="dp_1Pgc71B7WZ01zgkWMevJiAUx",
        charge_id=CH,
        payment_intent_id=PI,
        created=CREATED,
    )


def customer_updated(email: str = "new.address@example.com", previous: str = EMAIL) -> Obj:
    return se.customer_updated(
        event_id="evt_customer",
        customer_id=CUS,
        email=email,
        previous_email=previous,
        created=CREATED,
        customer_created=CREATED - 86_400,
        name="Jane Doe",
    )


def lifecycle_after(change: StripeChange, start: Lifecycle) -> Lifecycle:
    """Where the change moves a customer in `start` (whose last move is older than the event)."""
    state = CustomerState(lifecycle=start, lifecycle_at=CREATED - 60, version=3)
    return transition(state, change.signal, change.occurred_at).after.lifecycle


# --- what each handled type means ------------------------------------------------------------


def test_the_handled_types_are_the_ones_design_lists() -> None:
    assert set(HANDLED_TYPES) == DESIGN_TYPES


L = Lifecycle
CASES: list[tuple[str, Callable[[], Obj], Signal, Lifecycle, Lifecycle]] = [
    ("checkout paid", checkout, Signal.PAYMENT_SUCCEEDED, L.LEAD, L.PAID),
    (
        "invoice.paid",
        lambda: invoice_event("invoice.paid", legacy=False),
        Signal.PAYMENT_SUCCEEDED,
        L.PAST_DUE,
        L.ACTIVE,
    ),
    (
        "invoice.paid legacy",
        lambda: invoice_event("invoice.paid", legacy=True),
        Signal.PAYMENT_SUCCEEDED,
        L.CANCELED,
        L.PAID,
    ),
    (
        "invoice.payment_failed",
        lambda: invoice_event("invoice.payment_failed", legacy=False),
        Signal.PAYMENT_FAILED,
        L.ACTIVE,
        L.PAST_DUE,
    ),
    (
        "invoice.payment_failed legacy",
        lambda: invoice_event("invoice.payment_failed", legacy=True),
        Signal.PAYMENT_FAILED,
        L.PAID,
        L.PAST_DUE,
    ),
    (
        "subscription.updated active",
        lambda: subscription_event("customer.subscription.updated", "active"),
        Signal.SUBSCRIPTION_ACTIVE,
        L.PAST_DUE,
        L.ACTIVE,
    ),
    (
        "subscription.updated past_due",
        lambda: subscription_event("customer.subscription.updated", "past_due"),
        Signal.SUBSCRIPTION_PAST_DUE,
        L.ACTIVE,
        L.PAST_DUE,
    ),
    (
        "subscription.updated canceled",
        lambda: subscription_event("customer.subscription.updated", "canceled"),
        Signal.SUBSCRIPTION_CANCELED,
        L.ACTIVE,
        L.CANCELED,
    ),
    (
        "subscription.deleted",
        lambda: se.customer_subscription_deleted(
            event_id="evt_del", subscription_id=SUB, customer_id=CUS, created=CREATED
        ),
        Signal.SUBSCRIPTION_CANCELED,
        L.ACTIVE,
        L.CANCELED,
    ),
    (
        "subscription.paused",
        lambda: se.customer_subscription_paused(
            event_id="evt_pause", subscription_id=SUB, customer_id=CUS, created=CREATED
        ),
        Signal.SUBSCRIPTION_PAUSED,
        L.ACTIVE,
        L.PAUSED,
    ),
    (
        "subscription.resumed",
        lambda: se.customer_subscription_resumed(
            event_id="evt_resume", subscription_id=SUB, customer_id=CUS, created=CREATED
        ),
        Signal.SUBSCRIPTION_RESUMED,
        L.PAUSED,
        L.PAID,
    ),
    ("charge.refunded in full", refunded, Signal.REFUNDED, L.ACTIVE, L.CANCELED),
    ("charge.dispute.created", disputed, Signal.DISPUTED, L.ACTIVE, L.CANCELED),
    ("customer.updated", customer_updated, Signal.NONE, L.ACTIVE, L.ACTIVE),
]


@pytest.mark.parametrize(
    ("build", "signal", "start", "end"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_each_handled_type_maps_to_its_signal_and_lifecycle(
    build: Callable[[], Obj], signal: Signal, start: Lifecycle, end: Lifecycle
) -> None:
    event = build()
    change = normalize(event)
    assert change.handled is True
    assert (change.event_id, change.event_type, change.occurred_at) == (
        event["id"],
        event["type"],
        CREATED,
    )
    assert change.signal is signal
    assert lifecycle_after(change, start) is end


def test_checkout_session_completed_names_the_buyer_and_the_subscription() -> None:
    change = normalize(checkout(metadata={"product": PRODUCT}))
    assert change.stripe_customer_id == CUS
    assert change.email == EMAIL
    assert change.subscription_id == SUB
    assert INV in change.payment_ids
    assert change.products == (PRODUCT,)


@pytest.mark.parametrize(
    ("payment_status", "signal"),
    [
        ("paid", Signal.PAYMENT_SUCCEEDED),
        ("no_payment_required", Signal.PAYMENT_SUCCEEDED),
        ("unpaid", Signal.NONE),  # an async payment method: money not there yet
    ],
)
def test_checkout_grants_only_when_the_payment_is_there(
    payment_status: str, signal: Signal
) -> None:
    change = normalize(checkout(payment_status=payment_status))
    assert change.signal is signal
    assert change.email == EMAIL  # the buyer is known either way


def test_checkout_of_a_guest_with_a_prefilled_email() -> None:
    event = checkout(customer=None, customer_email="guest@example.com")
    event["data"]["object"]["customer_details"]["email"] = None
    change = normalize(event)
    assert change.stripe_customer_id is None
    assert change.email == "guest@example.com"


def test_checkout_with_an_expanded_customer_reads_its_id() -> None:
    expanded = objects.customer(customer_id=CUS, email=EMAIL, created=CREATED)
    assert normalize(checkout(customer=expanded)).stripe_customer_id == CUS


# --- invoices in both shapes -----------------------------------------------------------------


@pytest.mark.parametrize("event_type", ["invoice.paid", "invoice.payment_failed"])
@pytest.mark.parametrize("legacy", [False, True], ids=["current", "before-2025-03-31"])
def test_an_invoice_names_its_subscription_and_products_in_both_shapes(
    event_type: str, legacy: bool
) -> None:
    event = invoice_event(event_type, legacy=legacy)
    invoice = event["data"]["object"]
    line = invoice["lines"]["data"][0]
    if legacy:  # the fields the old shape has, and not the new ones
        assert invoice["subscription"] == SUB
        assert "parent" not in invoice
        assert "pricing" not in line
        assert line["price"]["product"] == PRODUCT
    else:
        assert invoice["parent"]["subscription_details"]["subscription"] == SUB
        assert "subscription" not in invoice
        assert "price" not in line
        assert line["pricing"]["price_details"]["product"] == PRODUCT
    change = normalize(event)
    assert change.subscription_id == SUB
    assert change.products == (PRODUCT,)
    assert change.stripe_customer_id == CUS
    assert change.email == EMAIL
    assert change.payment_ids[0] == INV
    if legacy:
        assert CH in change.payment_ids


def test_a_current_invoice_with_a_null_top_level_subscription_reads_the_parent() -> None:
    # Stripe's own example invoice carries both: `subscription: null` and `parent`.
    event = invoice_event("invoice.paid", legacy=False)
    event["data"]["object"]["subscription"] = None
    assert normalize(event).subscription_id == SUB


def test_a_legacy_invoice_line_with_an_expanded_product() -> None:
    event = invoice_event("invoice.paid", legacy=True)
    line = event["data"]["object"]["lines"]["data"][0]
    line["price"]["product"] = {"id": PRODUCT, "object": "product", "name": "Membership"}
    assert normalize(event).products == (PRODUCT,)


def test_an_invoice_with_several_lines_lists_each_product_once() -> None:
    event = invoice_event("invoice.paid", legacy=False)
    lines = event["data"]["object"]["lines"]["data"]
    second, third = copy.deepcopy(lines[0]), copy.deepcopy(lines[0])
    second["pricing"]["price_details"]["product"] = "prod_Addon0001"
    lines.extend([second, third])
    assert normalize(event).products == (PRODUCT, "prod_Addon0001")


def test_an_invoice_without_a_subscription() -> None:
    event = invoice_event("invoice.paid", legacy=False)
    event["data"]["object"]["parent"] = None  # a one-off invoice
    assert normalize(event).subscription_id is None


# --- subscriptions: no email on them ---------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "signal"),
    [
        ("active", Signal.SUBSCRIPTION_ACTIVE),
        ("trialing", Signal.SUBSCRIPTION_ACTIVE),
        ("past_due", Signal.SUBSCRIPTION_PAST_DUE),
        ("unpaid", Signal.SUBSCRIPTION_PAST_DUE),
        ("paused", Signal.SUBSCRIPTION_PAUSED),
        ("canceled", Signal.SUBSCRIPTION_CANCELED),
        ("incomplete_expired", Signal.SUBSCRIPTION_CANCELED),
        ("incomplete", Signal.NONE),
    ],
)
def test_subscription_updated_maps_the_status(status: str, signal: Signal) -> None:
    change = normalize(subscription_event("customer.subscription.updated", status))
    assert change.signal is signal


@pytest.mark.parametrize(
    "event_type",
    [
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.paused",
        "customer.subscription.resumed",
    ],
)
def test_a_subscription_event_has_the_customer_but_no_email(event_type: str) -> None:
    event = subscription_event(event_type, "active")
    assert "email" not in event["data"]["object"]
    change = normalize(event)
    assert change.email is None  # ingest has to resolve it (known customer or Stripe API)
    assert change.stripe_customer_id == CUS
    assert change.subscription_id == SUB
    assert change.products == (PRODUCT,)


def test_a_deleted_subscription_cancels_whatever_status_it_shows() -> None:
    event = subscription_event("customer.subscription.deleted", "active")
    assert normalize(event).signal is Signal.SUBSCRIPTION_CANCELED


# --- charges: refunds and disputes -----------------------------------------------------------


def test_a_full_refund_names_the_customer_the_charge_and_the_payment() -> None:
    change = normalize(refunded())
    assert change.stripe_customer_id == CUS
    assert change.email == EMAIL
    assert change.charge_id == CH
    assert set(change.payment_ids) >= {CH, PI}


def test_a_partial_refund_keeps_access() -> None:
    charge = charges.charge(
        charge_id=CH, customer_id=CUS, email=EMAIL, created=CREATED, payment_intent_id=PI
    )
    charge.update(amount_refunded=500, refunded=False)
    event = se.event("charge.refunded", charge, event_id="evt_partial", created=CREATED)
    change = normalize(event)
    assert change.handled is True
    assert change.signal is Signal.NONE


def test_a_guest_refund_carries_only_the_email() -> None:
    change = normalize(refunded(customer=None))
    assert change.stripe_customer_id is None
    assert change.email == EMAIL
    assert change.signal is Signal.REFUNDED


def test_a_dispute_names_only_its_charge() -> None:
    event = disputed()
    dispute = event["data"]["object"]
    assert "customer" not in dispute  # Stripe's Dispute has no customer field
    change = normalize(event)
    assert change.signal is Signal.DISPUTED
    assert change.stripe_customer_id is None
    assert change.email is None
    assert change.charge_id == CH
    assert set(change.payment_ids) == {CH, PI}


def test_stripes_example_dispute_without_a_payment_intent() -> None:
    dispute = objects.fixture("dispute")  # as published: payment_intent null
    assert dispute["payment_intent"] is None
    event = se.event("charge.dispute.created", dispute, event_id="evt_dp", created=CREATED)
    change = normalize(event)
    assert change.charge_id == dispute["charge"]
    assert change.payment_ids == (dispute["charge"],)


def test_a_dispute_on_an_expanded_charge() -> None:
    event = disputed()
    event["data"]["object"]["charge"] = charges.charge(
        charge_id=CH, customer_id=CUS, email=EMAIL, created=CREATED
    )
    assert normalize(event).charge_id == CH


# --- customer.updated: email changes ---------------------------------------------------------


def test_an_email_change_names_the_old_and_new_address() -> None:
    change = normalize(customer_updated("new.address@example.com", EMAIL))
    assert change.stripe_customer_id == CUS
    assert change.email == "new.address@example.com"
    assert change.previous_email == EMAIL
    assert change.name == "Jane Doe"


def test_a_customer_update_that_did_not_touch_the_email_is_no_email_change() -> None:
    event = customer_updated()
    event["data"]["previous_attributes"] = {"name": "Jane"}
    change = normalize(event)
    assert change.email == "new.address@example.com"
    assert change.previous_email is None


def test_a_change_of_case_only_is_no_email_change() -> None:
    # Emails are compared case-insensitively everywhere in Switchboard (one identity per address),
    # so Jane@… → jane@… is the same address; ingest must not move (and so drop) the identity.
    change = normalize(customer_updated("jane.doe@example.com", "Jane.Doe@Example.COM"))
    assert change.email == "jane.doe@example.com"
    assert change.previous_email is None


def test_an_email_in_another_case_does_not_change_the_canonical_customer() -> None:
    customer = CanonicalCustomer.model_validate(
        {
            "_id": "cust_1",
            "email": "Jane.Doe@Example.com",
            "name": "Jane Doe",
            "lifecycle": "active",
            "version": 4,
        }
    )
    same = apply_change(customer, normalize(customer_updated("jane.doe@example.com", EMAIL)))
    assert same.changed is False
    assert same.customer.email == "Jane.Doe@Example.com"
    assert same.customer.version == 4
    other = apply_change(customer, normalize(customer_updated("jane@elsewhere.example", EMAIL)))
    assert other.changed is True
    assert other.customer.email == "jane@elsewhere.example"
    assert other.customer.version == 5


# --- unknown types ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event_type",
    [
        "customer.subscription.created",
        "invoice.payment_succeeded",
        "radar.early_fraud_warning.created",
    ],
)
def test_an_unknown_type_is_accepted_as_not_handled(event_type: str) -> None:
    obj = objects.subscription(subscription_id=SUB, customer_id=CUS, created=CREATED)
    change = normalize(se.event(event_type, obj, event_id="evt_other", created=CREATED))
    assert change.handled is False
    assert change.signal is Signal.NONE
    assert change.event_type == event_type
    assert change.stripe_customer_id == CUS  # kept, so the event can be shown on the customer


# --- stripe_id_of ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (CUS, CUS),
        ({"id": CUS, "object": "customer", "email": EMAIL}, CUS),
        ("", None),
        (None, None),
        ({"object": "customer"}, None),
        ({"id": ""}, None),
        ({"id": 42}, None),
        (42, None),
        ([CUS], None),
    ],
)
def test_stripe_id_of_reads_an_id_or_an_expanded_object(value: Any, expected: str | None) -> None:
    assert stripe_id_of(value) == expected


# --- not a Stripe event ----------------------------------------------------------------------

GOOD: Obj = {"id": "evt_1", "object": "event", "type": "invoice.paid", "created": CREATED}


def with_(**changes: Any) -> Obj:
    body = {**GOOD, "data": {"object": {"id": INV, "object": "invoice"}}}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], 'the body is not a Stripe event (expected "object": "event")'),
        ("evt_1", 'the body is not a Stripe event (expected "object": "event")'),
        ({"hello": "world"}, 'the body is not a Stripe event (expected "object": "event")'),
        (with_(object="invoice"), 'the body is not a Stripe event (expected "object": "event")'),
        (with_(id=...), "the event has no valid id (expected evt_...)"),
        (with_(id="in_123"), "the event has no valid id (expected evt_...)"),
        (with_(id=123), "the event has no valid id (expected evt_...)"),
        (with_(type=...), "the event has no type"),
        (with_(type=""), "the event has no type"),
        (with_(type=["invoice.paid"]), "the event has no type"),
        (with_(created=...), "the event has no valid created time"),
        (with_(created="1790000000"), "the event has no valid created time"),
        (with_(created=-1), "the event has no valid created time"),
        (with_(created=True), "the event has no valid created time"),
        (with_(created=1.5), "the event has no valid created time"),
        (with_(data=...), "the event has no data.object"),
        (with_(data=[]), "the event has no data.object"),
        (with_(data={"object": None}), "the event has no data.object"),
        (with_(data={"object": "in_123"}), "the event has no data.object"),
    ],
)
def test_a_body_that_is_not_a_stripe_event_is_refused_with_what_is_wrong(
    body: Any, message: str
) -> None:
    with pytest.raises(NotAStripeEvent) as info:
        normalize(body)
    assert str(info.value) == message
    with pytest.raises(NotAStripeEvent):
        parse_event(body)


def test_parse_event_returns_the_envelope_and_the_object() -> None:
    event = disputed()
    assert parse_event(event) == (
        "evt_dispute",
        "charge.dispute.created",
        CREATED,
        event["data"]["object"],
    )


# --- properties ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
# Every field a reader looks at, so generated objects reach the readers' deeper paths.
READ_FIELDS = [
    "id",
    "customer",
    "customer_details",
    "customer_email",
    "customer_name",
    "email",
    "name",
    "payment_status",
    "metadata",
    "subscription",
    "payment_intent",
    "invoice",
    "charge",
    "parent",
    "lines",
    "items",
    "status",
    "billing_details",
    "receipt_email",
    "refunded",
]
event_types = st.sampled_from(sorted(HANDLED_TYPES | {"customer.created", "payout.paid"}))


def assert_only_not_a_stripe_event(body: Any) -> StripeChange | None:
    try:
        change = normalize(body)
    except NotAStripeEvent:
        return None
    assert isinstance(change, StripeChange)
    return change


@given(st.dictionaries(st.sampled_from([*GOOD, "data"]) | st.text(max_size=8), json_values))
def test_an_arbitrary_json_object_either_normalizes_or_is_not_a_stripe_event(body: Obj) -> None:
    assert_only_not_a_stripe_event(body)


@settings(max_examples=300)
@given(
    event_types,
    st.dictionaries(st.sampled_from(READ_FIELDS), json_values),
    json_values,
)
def test_a_valid_envelope_around_any_object_normalizes(
    event_type: str, obj: Obj, previous: Any
) -> None:
    """Stripe signed it and the envelope is right: record it, never crash on its contents (a
    crash after the 2xx would leave an event the relay retries forever)."""
    body = {
        "id": "evt_prop",
        "object": "event",
        "type": event_type,
        "created": CREATED,
        "data": {"object": obj, "previous_attributes": previous},
    }
    change = assert_only_not_a_stripe_event(body)
    assert change is not None
    assert change.handled is (event_type in HANDLED_TYPES)
    for value in (change.stripe_customer_id, change.subscription_id, change.charge_id):
        assert value is None or (isinstance(value, str) and value)
    assert all(isinstance(v, str) and v for v in (*change.payment_ids, *change.products))


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    children: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        children = list(value.items())
    elif isinstance(value, list):
        children = list(enumerate(value))
    for key, child in children:
        found.append((*prefix, key))
        found.extend(paths(child, (*prefix, key)))
    return found


REALISTIC = [build for _, build, *_ in CASES]


@settings(max_examples=300)
@given(st.sampled_from(REALISTIC), st.data())
def test_a_realistic_event_with_one_field_replaced_normalizes(
    build: Callable[[], Obj], data: st.DataObject
) -> None:
    event = build()
    path = data.draw(st.sampled_from(paths(event["data"])))
    target: Any = event["data"]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = data.draw(json_values)
    assert_only_not_a_stripe_event(event)


@given(json_values)
def test_stripe_id_of_is_an_id_or_none(value: Any) -> None:
    found = stripe_id_of(value)
    assert found is None or (isinstance(found, str) and found)
