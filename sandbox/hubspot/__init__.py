"""HubSpot stand-in (CRM v3, the provider of the `crm` integration): `routes` answers under
`/hubspot`, `store` holds the contacts and properties."""
