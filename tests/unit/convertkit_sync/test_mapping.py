"""The `convertkit:` section of the mapping: what each lifecycle tags, and refusing a bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from libs.contracts import Lifecycle
from libs.runtime.mapping import DEFAULT_MAPPING_FILE, MappingError, load_section
from services.convertkit_sync.integration import (
    SECTION,
    ConvertkitMapping,
    desired_state,
    first_name,
)
from services.convertkit_sync.main import create_app
from services.convertkit_sync.settings import ConvertkitSettings
from tests.events import customer_event


def shipped() -> ConvertkitMapping:
    mapping: ConvertkitMapping = load_section(DEFAULT_MAPPING_FILE, SECTION, ConvertkitMapping)
    return mapping


@pytest.mark.parametrize(
    ("lifecycle", "tags"),
    [
        (Lifecycle.LEAD, set()),
        (Lifecycle.PAID, {"customer"}),
        (Lifecycle.ACTIVE, {"customer"}),
        (Lifecycle.PAST_DUE, {"customer"}),
        (Lifecycle.PAUSED, {"customer"}),
        (Lifecycle.CANCELED, {"churned"}),
    ],
)
def test_the_shipped_mapping(lifecycle: Lifecycle, tags: set[str]) -> None:
    desired = desired_state(customer_event("jane@example.com", lifecycle), shipped())
    assert desired.tags == tags
    assert desired.managed_tags == {"customer", "churned", "canary"}  # canary: its own product
    assert desired.first_name == "Jane"


def test_a_product_with_its_own_rules_replaces_the_default(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(
        "convertkit:\n  default: {paid: [customer]}\n  products:\n    prod_vip: {paid: [vip]}\n"
    )
    mapping: ConvertkitMapping = load_section(path, SECTION, ConvertkitMapping)
    event = customer_event("jane@example.com", products=("prod_vip",))
    desired = desired_state(event, mapping)
    assert desired.tags == {"vip"}
    assert desired.managed_tags == {"customer", "vip"}


def test_first_name_is_the_first_word() -> None:
    assert first_name("Jane van Doe") == "Jane"
    assert first_name("  ") is None
    assert first_name(None) is None


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("convertkit:\n  default:\n    paid: customer\n", "convertkit.default.paid"),
        ("convertkit:\n  default:\n    bought: [customer]\n", "convertkit.default.bought.[key]"),
        ("convertkit:\n  tags: [customer]\n", "convertkit.tags"),
        ("circle: {}\n", "convertkit"),
    ],
)
def test_a_bad_section_stops_the_service_at_start_naming_file_key_and_why(
    tmp_path: Path, section: str, key: str
) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(section)
    with pytest.raises(MappingError) as caught:
        create_app(ConvertkitSettings(env="local", mapping_file=path))
    assert caught.value.file == path
    assert caught.value.key == key
    assert caught.value.why
    assert str(caught.value).startswith(f"{path}: {key}: ")
