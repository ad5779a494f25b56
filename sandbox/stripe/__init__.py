"""Stripe stand-in: `routes` answers the API reads under `/stripe` from `store`; `objects` and
`charges` build realistic API objects from `fixtures.json`, `events` wraps them in webhook events,
and `webhook` encodes and signs a delivery."""
