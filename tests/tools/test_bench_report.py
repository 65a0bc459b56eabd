"""`python -m tools.bench` prints its markdown table of ratios (smoke run with --quick)."""

import os
import sys
import types

import numpy as np
import pytest

from tools import bench


def test_bench_quick_prints_a_markdown_table_of_ratios(capsys):
    assert bench.main(["--quick", "--repeats", "2"]) == 0
    out = capsys.readouterr().out
    for needle in ("numpy " + np.__version__, "BLAS:", "CPUs", "| measure | case | median |",
                   "vectorized / matmul-only", "loop / vectorized", "peak memory / bytes(z, a)",
                   "time ~ parameters^k", "time ~ m^k", "float32",
                   "naive FD loop / exhaustive check_network", "float64 softmax",
                   "check_network(directions=4) / exhaustive check", "fixed costs",
                   "exhaustive check peak memory, MiB"):
        assert needle in out, f"{needle!r} missing from the report:\n{out}"
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line]
    assert all(line.count("|") == 8 for line in rows), out


def fake_times(per_call, monkeypatch):
    """side_by_side without a clock: round r of fn i takes per_call[i] * (1 + r / 10)
    seconds, a machine that slows down steadily; no test here depends on timing."""

    def side_by_side(fns, settings):
        drift = 1 + np.arange(settings.repeats)[:, None] / 10
        return drift * np.asarray(per_call, dtype=float)[None, :]

    monkeypatch.setattr(bench, "side_by_side", side_by_side)


def test_ratio_is_measured_per_round(monkeypatch):
    fake_times([4.0, 2.0], monkeypatch)
    row = bench.ratio("4 / 2", "", lambda: None, lambda: None, bench.Settings(repeats=3))
    assert row.values == [2.0, 2.0, 2.0] and row.timed_ratio, row


def test_slope_of_time_proportional_to_n_is_one(monkeypatch):
    ns = [1, 2, 4]
    fake_times(ns, monkeypatch)
    row = bench.slope("time ~ n^k", "", ns, [lambda: None] * 3, bench.Settings(repeats=3))
    np.testing.assert_allclose(row.values, 1.0, rtol=1e-12)


def test_rows_that_spread_widely_are_flagged_as_noisy():
    assert bench.Row("a / b", "", [1.0, 1.6], timed_ratio=True).noisy
    assert not bench.Row("a / b", "", [1.0, 1.4], timed_ratio=True).noisy
    assert not bench.Row("slope", "", [0.1, 1.0]).noisy
    calm, busy = bench.Row("a / b", "", [1.0, 1.1], timed_ratio=True), bench.Row(
        "a / b", "", [1.0, 2.0], timed_ratio=True)
    assert bench.notes([calm]) == [] and "Noisy: 1 ratios" in bench.notes([calm, busy])[1]


def test_a_speed_up_target_is_a_lower_bound():
    fast = bench.Row("naive / check", "", [60.0, 70.0], 50.0, at_least=True)
    slow = bench.Row("naive / check", "", [40.0, 45.0], 50.0, at_least=True)
    assert "| >= 50 | met |" in fast.markdown() and "| >= 50 | MISSED |" in slow.markdown()
    assert "| <= 50 | MISSED |" in bench.Row("a / b", "", [60.0], 50.0).markdown()


def test_alternate_reverses_the_order_on_odd_rounds():
    calls = []
    times = bench.alternate([lambda: calls.append("a"), lambda: calls.append("b")], 3)
    assert calls == ["a", "b", "b", "a", "a", "b"] and times.shape == (3, 2), calls


def test_exhaustive_rows_hook_exists_and_returns_rows():
    assert isinstance(bench.exhaustive_rows(bench.Settings(quick=True)), list)


def test_parameters_counts_weights_and_biases():
    assert bench.parameters([4, 3, 2]) == 4 * 3 + 3 + 3 * 2 + 2


def test_bad_settings_exit_with_status_2():
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--repeats", "0"])
    assert exit_info.value.code == 2


def test_blas_reports_thread_settings_and_survives_show_config_changes(monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    assert "OPENBLAS_NUM_THREADS=1" in bench.blas()

    def broken(*args, **kwargs):
        raise KeyError("Build Dependencies")

    monkeypatch.setattr(np, "show_config", broken)
    assert bench.blas().startswith("unknown")
    fake = types.ModuleType("threadpoolctl")
    fake.threadpool_info = lambda: [{"internal_api": "openblas", "num_threads": 2}]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "threadpoolctl", fake)
    assert "openblas 2 threads" in bench.blas()


def test_machine_description_without_proc_or_loadavg(monkeypatch):
    assert bench.cpu_model("/nonexistent/cpuinfo")

    def no_loadavg():
        raise OSError

    monkeypatch.setattr(os, "getloadavg", no_loadavg)
    assert bench.load_average() == "unknown"
