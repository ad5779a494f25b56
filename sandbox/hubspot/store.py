"""HubSpot CRM records: contacts and their properties, and which properties exist.

HubSpot's CRM search reads an index that lags writes by seconds (up to about 30 s); reads by id
or email and batch reads are consistent. So every contact version also goes to a lagged view
(`sandbox/replica.py`), and the search (`searchable`) reads that.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sandbox.records import WALL_CLOCK, Clock, EmailIndex, id_counter, iso
from sandbox.replica import LaggedView

# The lifecycle stages in order; HubSpot will not move a contact to an earlier one.
LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
BUILT_IN = frozenset(
    {
        "email",
        "firstname",
        "lastname",
        "phone",
        "company",
        "website",
        "jobtitle",
        "address",
        "city",
        "state",
        "zip",
        "country",
        "lifecyclestage",
        "hs_lead_status",
    }
)
READ_ONLY = frozenset({"hs_object_id", "createdate", "lastmodifieddate"})
# What GET returns when the caller asks for no properties in particular.
DEFAULT_READ = ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname")


@dataclass
class Contact:
    id: str
    properties: dict[str, str] = field(default_factory=dict)

    @property
    def email(self) -> str:
        return self.properties.get("email", "")


class Conflict(Exception):
    def __init__(self, existing_id: str) -> None:
        super().__init__(existing_id)
        self.existing_id = existing_id


class HubSpotStore:
    def __init__(
        self, custom_properties: Iterable[str], clock: Clock = WALL_CLOCK, search_lag_s: float = 0.0
    ) -> None:
        self._clock = clock
        self._seed_custom = tuple(custom_properties)
        self._ids = id_counter(1_001)
        self.contacts: dict[str, Contact] = {}
        self.by_email = EmailIndex()
        self.custom_properties: dict[str, dict[str, Any]] = {}
        # The search index: contact versions, `search_lag_s` behind
        self.index = LaggedView[str, Contact](search_lag_s, clock)
        self.reset()

    def reset(self) -> None:
        self.contacts.clear()
        self.by_email.clear()
        self.custom_properties.clear()
        self.index.clear()
        for name in self._seed_custom:
            self.define_property(
                {"name": name, "label": name, "type": "string", "fieldType": "text"}
            )

    # -- properties ------------------------------------------------------------------------
    def define_property(self, definition: dict[str, Any]) -> bool:
        """Create a custom property; False if one with that name exists already."""
        name = str(definition["name"])
        if name in BUILT_IN or name in self.custom_properties:
            return False
        self.custom_properties[name] = {"groupName": "contactinformation", **definition}
        return True

    def property_errors(self, properties: dict[str, Any]) -> list[dict[str, str]]:
        """What HubSpot would refuse in a write, as (error code, property name, message)."""
        errors = []
        for name, value in properties.items():
            if name in READ_ONLY:
                errors.append(_error("READ_ONLY_VALUE", name, f'"{name}" is a read only property'))
            elif name not in BUILT_IN and name not in self.custom_properties:
                errors.append(
                    _error("PROPERTY_DOESNT_EXIST", name, f'Property "{name}" does not exist')
                )
            elif name == "lifecyclestage" and value not in ("", None, *LIFECYCLE_STAGES):
                message = f"{value} was not one of the allowed options"
                errors.append(_error("INVALID_OPTION", name, message))
        return errors

    # -- contacts --------------------------------------------------------------------------
    def find(self, email: str) -> Contact | None:
        contact_id = self.by_email.get(email)
        return self.contacts.get(contact_id) if isinstance(contact_id, str) else None

    def get(self, id_value: str, id_property: str | None) -> Contact | None:
        if id_property == "email":
            return self.find(id_value)
        return self.contacts.get(id_value)

    def create(self, properties: dict[str, Any]) -> Contact:
        existing = self.find(str(properties.get("email") or ""))
        if existing is not None and properties.get("email"):
            raise Conflict(existing.id)
        now = iso(self._clock())
        contact = Contact(str(next(self._ids)))
        contact.properties.update(createdate=now, hs_object_id=contact.id)
        self.contacts[contact.id] = contact
        self.update(contact, properties)
        return contact

    def upsert(self, email: str, properties: dict[str, Any]) -> tuple[Contact, bool]:
        contact = self.find(email)
        if contact is None:
            return self.create({**properties, "email": email}), True
        self.update(contact, properties)
        return contact, False

    def update(self, contact: Contact, properties: dict[str, Any]) -> None:
        if "email" in properties:
            other = self.find(str(properties["email"] or ""))
            if other is not None and other.id != contact.id:
                raise Conflict(other.id)
        self.by_email.drop(contact.email, contact.id)
        for name, value in properties.items():
            text = "" if value is None else str(value)
            if name == "lifecyclestage" and _moves_back(contact.properties.get(name, ""), text):
                # HubSpot keeps the later stage; clear the value first to go backwards.
                continue
            contact.properties[name] = text
        contact.properties["lastmodifieddate"] = iso(self._clock())
        self.by_email.put(contact.email, contact.id)
        # A copy: the fresh contact changes in place, the index's version must not.
        self.index.write(contact.id, Contact(contact.id, dict(contact.properties)))

    def searchable(self) -> Iterable[Contact]:
        """The contacts the search index shows (with no lag, the fresh ones: the same answer)."""
        return self.index.as_of().values() if self.index.lagging else self.contacts.values()

    # -- JSON ------------------------------------------------------------------------------
    @staticmethod
    def contact_json(contact: Contact, names: Iterable[str] = ()) -> dict[str, Any]:
        wanted = dict.fromkeys([*DEFAULT_READ, *names])
        properties = {name: contact.properties.get(name) for name in wanted}
        return {
            "id": contact.id,
            "properties": properties,
            "createdAt": contact.properties["createdate"],
            "updatedAt": contact.properties["lastmodifieddate"],
            "archived": False,
        }

    def snapshot(self) -> dict[str, Any]:
        return {
            "contacts": [
                {"id": c.id, "properties": dict(c.properties)} for c in self.contacts.values()
            ],
            "properties": sorted(self.custom_properties),
        }


def _moves_back(current: str, new: str) -> bool:
    if not current or not new or current not in LIFECYCLE_STAGES or new not in LIFECYCLE_STAGES:
        return False
    return LIFECYCLE_STAGES.index(new) < LIFECYCLE_STAGES.index(current)


def _error(code: str, name: str, message: str) -> dict[str, str]:
    return {"error": code, "name": name, "message": message}
