"""Soak benchmark under faults (see run.py)."""
