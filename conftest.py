"""Hypothesis profiles: `dev` (default, fast), `ci` (more examples), `mutation`; all derandomized.

Choose with HYPOTHESIS_PROFILE=ci (or mutation). Derandomized: a plain `pytest`
tests the same examples on every run, so its verdict depends on the code alone.
New examples come from `--hypothesis-seed=N`, which makes the run depend on N: see
pytest_configure (and tools/flaky_loop.py --seeds).
"""

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev", max_examples=25, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
# mutmut runs the tests once per mutant: dev's example counts, but the same
# examples every time, so that killed/survived does not depend on luck.
settings.register_profile("mutation", parent=settings.get_profile("dev"), derandomize=True,
                          database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """With --hypothesis-seed, load `<profile>-seeded`: the profile without derandomize.

    A derandomized profile (every one here) draws each test's examples from a seed derived
    from the test's name and silently ignores --hypothesis-seed. The seeded
    variant keeps every other setting (ci keeps its example counts and the
    10,000-case sweep) and drops the example database, so one seed's failures
    are not replayed in the next seed's run.
    """
    if config.getoption("--hypothesis-seed", default=None) is None:
        return
    name = settings.get_current_profile_name()
    seeded = f"{name}-seeded"
    settings.register_profile(seeded, parent=settings.get_profile(name), derandomize=False,
                              database=None)
    settings.load_profile(seeded)
