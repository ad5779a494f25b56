"""The mapping file: what each lifecycle means downstream, per integration and product.

Each integration validates its own section with its own pydantic model, so a new integration
adds a section and a model and changes nothing here. A bad file stops the service at start with
the file, the key and why (`MappingError`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from libs.contracts import Lifecycle

T = TypeVar("T")

DEFAULT_MAPPING_FILE = Path(__file__).resolve().parents[2] / "config" / "mapping.yaml"


class MappingError(Exception):
    def __init__(self, file: Path, key: str, why: str) -> None:
        super().__init__(f"{file}: {key}: {why}")
        self.file, self.key, self.why = file, key, why


class IntegrationMapping(BaseModel, Generic[T]):
    model_config = ConfigDict(extra="forbid")

    default: dict[Lifecycle, T] = {}
    products: dict[str, dict[Lifecycle, T]] = {}

    @field_validator("default", "products", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    def for_products(self, products: tuple[str, ...]) -> list[dict[Lifecycle, T]]:
        """The rule sets that apply to a customer holding `products`."""
        own = [self.products[p] for p in products if p in self.products]
        return own or [self.default]

    def granted_while(self, keep: Callable[[Lifecycle], bool]) -> list[T]:
        """Every value the mapping gives in the lifecycles `keep` picks (e.g. the paying ones)."""
        rule_sets = [self.default, *self.products.values()]
        return [value for rules in rule_sets for state, value in rules.items() if keep(state)]

    def everything(self) -> list[T]:
        """Every value the mapping mentions: what this integration manages."""
        values = list(self.default.values())
        for rules in self.products.values():
            values.extend(rules.values())
        return values


def load_section(path: Path, integration: str, model: type[BaseModel]) -> Any:
    try:
        document = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise MappingError(path, "-", "the file does not exist") from None
    except yaml.YAMLError as exc:
        raise MappingError(path, "-", f"not valid YAML: {exc}") from None
    if not isinstance(document, dict):
        raise MappingError(path, "-", "the top level must be a mapping of integration names")
    if integration not in document:
        raise MappingError(path, integration, "no section for this integration")
    try:
        return model.model_validate(document[integration])
    except ValidationError as exc:
        err = exc.errors()[0]
        location = ".".join(str(part) for part in (integration, *err["loc"]))
        raise MappingError(path, location, err["msg"]) from None
