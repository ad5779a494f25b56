"""The `switchboard` console script (DESIGN.md, "Reconcile"): `reconcile` asks the workers for
a sweep and follows it, `replay` and `status` call support's admin API. Each module has one job;
`main.py` is the entry point and the place to start reading."""
