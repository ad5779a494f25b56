"""Reconcile: read each provider back in pages, compare it with the canonical state and the
worker's ledger, and repair drift through the worker's normal step (`sweep.py`). Scheduled in
every worker and asked for by `switchboard reconcile` through the sweeps store (`store.py`)."""
