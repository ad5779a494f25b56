"""Kit stand-in (API v4, the provider of the `convertkit` integration): `routes` answers under
`/kit`, `store` holds the subscribers and tags."""
