"""The `crm:` section of the mapping: which HubSpot properties each lifecycle sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from libs.contracts import Lifecycle
from libs.runtime.mapping import DEFAULT_MAPPING_FILE, MappingError, load_section
from services.crm_sync.integration import SECTION, CrmMapping, desired_state
from services.crm_sync.main import create_app
from services.crm_sync.plan import DEFAULT_STAGE_ORDER
from services.crm_sync.settings import CrmSettings
from tests.events import customer_event


def load(path: Path) -> CrmMapping:
    mapping: CrmMapping = load_section(path, SECTION, CrmMapping)
    return mapping


@pytest.mark.parametrize(
    ("lifecycle", "stage"),
    [
        (Lifecycle.LEAD, "lead"),
        (Lifecycle.PAID, "customer"),
        (Lifecycle.ACTIVE, "customer"),
        (Lifecycle.CANCELED, "customer"),
    ],
)
def test_the_shipped_mapping(lifecycle: Lifecycle, stage: str) -> None:
    event = customer_event("jane@example.com", lifecycle, customer_id="cus_42")
    desired = desired_state(event, load(DEFAULT_MAPPING_FILE), DEFAULT_STAGE_ORDER)
    assert desired.properties == {
        "lifecyclestage": stage,
        "switchboard_lifecycle": lifecycle.value,
        "switchboard_customer_id": "cus_42",
    }
    assert desired.managed_stages == {"lead", "customer"}


def test_several_products_take_the_furthest_stage(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(
        "crm:\n  products:\n"
        "    prod_a: {paid: {lifecyclestage: opportunity, plan: a}}\n"
        "    prod_b: {paid: {lifecyclestage: customer, plan: b}}\n"
    )
    event = customer_event("jane@example.com", products=("prod_a", "prod_b"))
    desired = desired_state(event, load(path), DEFAULT_STAGE_ORDER)
    assert desired.properties["lifecyclestage"] == "customer"
    assert desired.properties["plan"] == "a"  # otherwise the first product's value


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("crm:\n  default:\n    paid: customer\n", "crm.default.paid"),
        ("crm:\n  default:\n    paid: [customer]\n", "crm.default.paid"),
        ("crm:\n  default:\n    paid: {lifecyclestage: ''}\n", "crm.default.paid"),
        ("crm:\n  default:\n    paid: {switchboard_lifecycle: x}\n", "crm.default.paid"),
        ("crm:\n  default:\n    sold: {lifecyclestage: customer}\n", "crm.default.sold.[key]"),
        ("crm: [lifecyclestage]\n", "crm"),
    ],
)
def test_a_bad_section_stops_the_service_at_start_naming_file_key_and_why(
    tmp_path: Path, section: str, key: str
) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(section)
    with pytest.raises(MappingError) as caught:
        create_app(CrmSettings(env="local", mapping_file=path))
    assert (caught.value.file, caught.value.key) == (path, key)
    assert caught.value.why


def test_reserved_properties_say_why(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text("crm:\n  default:\n    paid: {switchboard_lifecycle: x}\n")
    with pytest.raises(MappingError, match="written by Switchboard"):
        load(path)
