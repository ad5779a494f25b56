"""`desired_key`: the same desired state gives the same key in every process (sets are hashed in
a per-process order), and a different one a different key."""

from __future__ import annotations

import os
import subprocess
import sys

from libs.runtime.integration import desired_key
from services.circle_sync.plan import Desired

SNIPPET = """
from libs.runtime.integration import desired_key
from services.circle_sync.plan import Desired
groups = frozenset({"Members", "Founders", "Alumni", "VIP", "Beta"})
print(desired_key(Desired("a@b.c", "A", groups, groups | {"Old"}, ("x@b.c",))))
"""


def key_in_process(seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    out = subprocess.run(
        [sys.executable, "-c", SNIPPET], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_the_key_is_the_same_in_every_process() -> None:
    assert len({key_in_process(seed) for seed in ("1", "2", "3")}) == 1


def test_a_different_desired_state_has_a_different_key() -> None:
    groups = frozenset({"Members"})
    one = desired_key(Desired("a@b.c", "A", groups, groups, ()))
    assert one == desired_key(Desired("a@b.c", "A", frozenset({"Members"}), groups, ()))
    assert one != desired_key(Desired("a@b.c", "A", frozenset(), groups, ()))
    assert one != desired_key(Desired("new@b.c", "A", groups, groups, ("a@b.c",)))
