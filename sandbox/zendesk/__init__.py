"""Zendesk stand-in (Support tickets): `routes` answers under `/zendesk`, `store` holds the
tickets, requesters and idempotency keys."""
