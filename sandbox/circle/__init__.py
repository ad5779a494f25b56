"""Circle stand-in (Admin API v2): `routes` answers under `/circle`, `store` holds the members
and access groups."""
