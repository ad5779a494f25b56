from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.crm_sync.plan import (
    DEFAULT_STAGE_ORDER,
    LIFECYCLE_STAGE,
    Action,
    ChangeContactEmail,
    ClearLifecycleStage,
    Current,
    Desired,
    UpsertContact,
    plan,
)

MANAGED = frozenset({"lead", "customer"})


def desired(stage: str | None = "customer", lifecycle: str = "paid") -> Desired:
    properties = {"switchboard_lifecycle": lifecycle, "switchboard_customer_id": "cus_1"}
    if stage is not None:
        properties[LIFECYCLE_STAGE] = stage
    return Desired("jane@example.com", properties, MANAGED)


def contact(stage: str = "", lifecycle: str = "paid") -> Current:
    properties = {"switchboard_lifecycle": lifecycle, "switchboard_customer_id": "cus_1"}
    return Current(exists=True, properties={**properties, LIFECYCLE_STAGE: stage})


def upsert(**properties: str) -> UpsertContact:
    return UpsertContact(tuple(sorted(properties.items())))


@pytest.mark.parametrize(
    ("want", "have", "actions"),
    [
        (
            desired(),
            Current(exists=False),
            [
                upsert(
                    lifecyclestage="customer",
                    switchboard_customer_id="cus_1",
                    switchboard_lifecycle="paid",
                )
            ],
        ),
        (desired(), contact("customer"), []),
        (desired(), contact("lead"), [upsert(lifecyclestage="customer")]),  # forwards
        (desired(), contact(""), [upsert(lifecyclestage="customer")]),
        (
            desired(lifecycle="canceled"),
            contact("customer"),
            [upsert(switchboard_lifecycle="canceled")],
        ),
        # backwards from a stage the mapping writes: clear first, as HubSpot requires
        (
            desired("lead"),
            contact("customer"),
            [ClearLifecycleStage(), upsert(lifecyclestage="lead")],
        ),
        # backwards from a stage someone else set: leave it
        (desired(), contact("evangelist"), []),
        (desired("lead", "lead"), contact("salesqualifiedlead", "lead"), []),
        # a stage outside the known order cannot be proven forwards
        (desired(), contact("trial_user"), []),
        # a lifecycle the mapping gives no stage does not touch the stage
        (desired(None), contact("opportunity"), []),
    ],
)
def test_plan(want: Desired, have: Current, actions: list[Action]) -> None:
    assert plan(want, have) == actions


def test_a_custom_stage_order_decides_what_is_forwards() -> None:
    want = Desired(
        "jane@example.com", {LIFECYCLE_STAGE: "customer"}, MANAGED, ("trial", "customer")
    )
    have = Current(exists=True, properties={LIFECYCLE_STAGE: "trial"})
    assert plan(want, have) == [upsert(lifecyclestage="customer")]


def test_a_contact_found_under_an_earlier_address_is_moved_first() -> None:
    have = Current(
        exists=True,
        properties={"switchboard_lifecycle": "paid", "switchboard_customer_id": "cus_1"},
        found_under="old@example.com",
    )
    assert plan(desired("customer"), have) == [
        ChangeContactEmail("old@example.com"),
        upsert(lifecyclestage="customer"),
    ]
    in_sync = Current(True, {**have.properties, LIFECYCLE_STAGE: "customer"}, "old@example.com")
    assert plan(desired("customer"), in_sync) == [ChangeContactEmail("old@example.com")]
    # backwards from a managed stage: move, clear, set
    stage = Current(True, {**have.properties, LIFECYCLE_STAGE: "customer"}, "old@example.com")
    assert plan(desired("lead"), stage) == [
        ChangeContactEmail("old@example.com"),
        ClearLifecycleStage(),
        upsert(lifecyclestage="lead"),
    ]
    assert str(ChangeContactEmail("old@example.com")) == "change_email"


def test_action_names_are_stable() -> None:
    actions = plan(desired("lead", "lead"), contact("customer", lifecycle="lead"))
    assert [str(a) for a in actions] == ["clear_lifecyclestage", "upsert_contact:lifecyclestage"]


# -- properties ----------------------------------------------------------------------------------

STAGES = (*DEFAULT_STAGE_ORDER, "trial_user")  # one custom stage the order does not know
VALUES = ("", "paid", "canceled", "cus_1")


@st.composite
def cases(draw: st.DrawFn) -> tuple[Desired, Current]:
    managed = draw(st.frozensets(st.sampled_from(STAGES)))
    properties = {"switchboard_lifecycle": draw(st.sampled_from(VALUES[1:]))}
    if managed and draw(st.booleans()):
        properties[LIFECYCLE_STAGE] = draw(st.sampled_from(sorted(managed)))  # from the mapping
    exists = draw(st.booleans())
    have = {
        "switchboard_lifecycle": draw(st.sampled_from(VALUES)),
        LIFECYCLE_STAGE: draw(st.sampled_from(("", *STAGES))),
    }
    found_under = draw(st.sampled_from((None, "old@example.com"))) if exists else None
    return (
        Desired("a@example.com", properties, managed, previous_emails=("old@example.com",)),
        Current(exists, have if exists else {}, found_under),
    )


def hubspot_accepts(current: str, new: str) -> bool:
    """HubSpot's rule: a stage only moves forwards, unless it was cleared first."""
    if not current or not new:
        return True
    order = DEFAULT_STAGE_ORDER
    return current in order and new in order and order.index(new) >= order.index(current)


def apply(have: Current, actions: list[Action]) -> Current:
    properties = dict(have.properties) if have.exists else {}
    found_under = have.found_under
    for action in actions:
        if isinstance(action, ChangeContactEmail):
            assert action.previous_email == found_under
            found_under = None  # the contact now has the desired address
            continue
        if found_under is not None:
            raise AssertionError("an upsert by the new address before the move makes a 2nd contact")
        changes: Mapping[str, str] = (
            {LIFECYCLE_STAGE: ""}
            if isinstance(action, ClearLifecycleStage)
            else dict(action.properties)
        )
        for name, value in changes.items():
            if name == LIFECYCLE_STAGE and not hubspot_accepts(properties.get(name, ""), value):
                continue  # HubSpot keeps the later stage
            properties[name] = value
    return Current(bool(actions) or have.exists, properties, found_under)


def stage_is_kept(want: Desired, have: Current) -> bool:
    """The plan leaves a stage someone else set when it cannot move it forwards."""
    stage = have.properties.get(LIFECYCLE_STAGE, "") if have.exists else ""
    wanted = want.properties.get(LIFECYCLE_STAGE, stage)
    return bool(stage) and stage not in want.managed_stages and not hubspot_accepts(stage, wanted)


@given(cases())
def test_applying_the_plan_yields_the_desired_properties(case: tuple[Desired, Current]) -> None:
    want, have = case
    after = apply(have, plan(want, have))
    for name, value in want.properties.items():
        if name == LIFECYCLE_STAGE and stage_is_kept(want, have):
            assert after.properties[name] == have.properties[name]  # someone else's stage
        else:
            assert after.properties[name] == value


@given(cases())
def test_the_plan_is_idempotent_even_under_hubspots_stage_rule(
    case: tuple[Desired, Current],
) -> None:
    want, have = case
    assert plan(want, apply(have, plan(want, have))) == []


@given(cases())
def test_the_plan_is_empty_when_already_in_sync(case: tuple[Desired, Current]) -> None:
    want, have = case
    synced = Current(True, {**have.properties, **want.properties})
    assert plan(want, synced) == []
    # found under an earlier address, it still has to move
    moved = Current(True, synced.properties, "old@example.com")
    assert plan(want, moved) == [ChangeContactEmail("old@example.com")]


@given(cases())
def test_a_stage_is_cleared_only_when_it_is_managed(case: tuple[Desired, Current]) -> None:
    want, have = case
    actions = plan(want, have)
    if ClearLifecycleStage() in actions:
        assert have.exists
        assert have.properties[LIFECYCLE_STAGE] in want.managed_stages
        at = actions.index(ClearLifecycleStage())
        assert at == (0 if have.found_under is None else 1)  # only a move comes before
        upsert_ = actions[at + 1]
        assert isinstance(upsert_, UpsertContact)
        assert (LIFECYCLE_STAGE, want.properties[LIFECYCLE_STAGE]) in upsert_.properties


@given(cases())
def test_a_contact_is_moved_exactly_when_found_under_an_earlier_address(
    case: tuple[Desired, Current],
) -> None:
    want, have = case
    moves = [a for a in plan(want, have) if isinstance(a, ChangeContactEmail)]
    assert moves == ([ChangeContactEmail(have.found_under)] if have.found_under else [])
