"""What crm_sync has established in HubSpot for one customer (`libs/runtime/ledger.py`): the
address its contact has, and the values of the properties Switchboard wrote. Pure."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel

from .plan import Current, Desired


class CrmLedger(BaseModel):
    #: the contact's address as last written; None: no contact written yet
    email: str | None = None
    #: the values the contact holds of the properties we wrote, as HubSpot answered them
    properties: dict[str, str] = {}

    @classmethod
    def from_current(cls, desired: Desired, current: Current) -> CrmLedger:
        """The ledger a read of HubSpot gives (a replay, or a customer older than the ledger)."""
        if not current.exists:
            return cls()
        return cls(email=current.found_under or desired.email, properties=dict(current.properties))

    def current(self, desired: Desired) -> Current:
        """What HubSpot holds, as far as our own writes tell."""
        if self.email is None:
            return Current(exists=False)
        moved = None if self.email.casefold() == desired.email.casefold() else self.email
        return Current(exists=True, properties=dict(self.properties), found_under=moved)

    def wrote(self, email: str, answered: Mapping[str, str]) -> None:
        self.email = email
        self.properties.update(answered)

    def become(self, other: CrmLedger) -> None:
        self.email, self.properties = other.email, dict(other.properties)
