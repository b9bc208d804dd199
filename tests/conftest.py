"""Suite-wide settings.

Hypothesis runs without per-example deadlines: the suite shares two cores with
anvil nodes and validator processes, and a timing deadline would make property
tests flaky without testing anything about correctness. Speed targets live in
bench/, never here.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("thorough", parent=settings.get_profile("default"), max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
