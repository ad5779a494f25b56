"""The Stripe objects the sandbox's test events referred to, so ingest can read them back, and a
log of the events it sent."""

from __future__ import annotations

import copy
from typing import Any

Obj = dict[str, Any]


class StripeStore:
    def __init__(self) -> None:
        self.objects: dict[str, Obj] = {}
        self.sent: list[Obj] = []
        # Insertion order breaks ties between objects created in the same second.
        self._order: dict[str, int] = {}

    def reset(self) -> None:
        self.objects.clear()
        self.sent.clear()
        self._order.clear()

    def put(self, *objs: Obj) -> None:
        for obj in objs:
            self._order.setdefault(obj["id"], len(self._order))
            self.objects[obj["id"]] = copy.deepcopy(obj)

    def get(self, kind: str, object_id: str) -> Obj | None:
        obj = self.objects.get(object_id)
        return copy.deepcopy(obj) if obj is not None and obj.get("object") == kind else None

    def latest(self, kind: str, customer_id: str) -> Obj | None:
        """The newest object of `kind` belonging to the customer (the later-made one on a tie)."""
        found = [
            o
            for o in self.objects.values()
            if o["object"] == kind and o.get("customer") == customer_id
        ]
        newest = max(found, key=lambda o: (o["created"], self._order[o["id"]]), default=None)
        return copy.deepcopy(newest) if newest is not None else None

    def record_sent(self, event: Obj, status_code: int | None) -> None:
        obj = event["data"]["object"]
        customer = obj["id"] if obj.get("object") == "customer" else obj.get("customer")
        entry = {"id": event["id"], "type": event["type"], "customer": customer}
        self.sent.append({**entry, "created": event["created"], "ingest_status": status_code})

    def snapshot(self) -> dict[str, Any]:
        def of(kind: str) -> list[Obj]:
            return [o for o in self.objects.values() if o["object"] == kind]

        return {
            "customers": [{"id": c["id"], "email": c["email"]} for c in of("customer")],
            "subscriptions": [
                {"id": s["id"], "customer": s["customer"], "status": s["status"]}
                for s in of("subscription")
            ],
            "charges": [
                {"id": c["id"], "customer": c["customer"], "refunded": c["refunded"]}
                for c in of("charge")
            ],
            "events": list(self.sent),
        }
