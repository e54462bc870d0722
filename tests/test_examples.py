"""The gallery examples, run as a user runs them (``python examples/plot_x.py``): they finish,
show their figures, and their text agrees with their numbers (issue 15)."""

import runpy
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# Examples that train deep hashers for long enough to make their point: slow tests.
SLOW = {"plot_classic_vs_deep.py"}


def _run(name, monkeypatch):
    """Run an example as ``__main__``; return its globals and the figures open at show()."""
    shown = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.append(plt.get_fignums()))
    monkeypatch.chdir(EXAMPLES)
    plt.close("all")
    try:
        namespace = runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    finally:
        figures = {n: plt.figure(n) for n in plt.get_fignums()}
        plt.close("all")
    return namespace, shown, figures


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(p.name, marks=pytest.mark.slow) if p.name in SLOW else p.name
        for p in sorted(EXAMPLES.glob("plot_*.py"))
    ],
)
def test_example_runs_and_shows_its_figures(name, monkeypatch):
    _, shown, _ = _run(name, monkeypatch)
    # Run as a script, each example ends by showing every figure it drew.
    assert shown and shown[-1], f"{name} does not call plt.show() with its figures open"


def test_grid_search_figure_is_readable(monkeypatch):
    namespace, _, _ = _run("plot_grid_search.py", monkeypatch)
    fig = namespace["fig"]
    ax = fig.axes[0]
    fig.canvas.draw()
    # Only the three code lengths are labelled: no minor log-axis labels overlapping them.
    labels = [t.get_text() for t in ax.get_xticklabels(minor=False) if t.get_text()]
    assert labels == ["8", "16", "32"]
    assert not [t for t in ax.get_xticklabels(minor=True) if t.get_text()]
    # The legend lies outside the axes, so it covers no line.
    legend = ax.get_legend().get_window_extent()
    assert legend.x0 >= ax.get_window_extent().x1


def test_robustness_example_plots_the_drop(monkeypatch):
    namespace, _, _ = _run("plot_robustness.py", monkeypatch)
    drops = namespace["drops"]
    ax = namespace["fig"].axes[0]
    assert "drop" in ax.get_ylabel()
    first = drops[drops["perturbation"] == "noise"].groupby("method", sort=False)
    plotted = ax.get_lines()[0].get_ydata()
    assert list(plotted) == list(next(iter(first))[1]["mAP_drop"])


@pytest.mark.slow
def test_classic_vs_deep_says_what_its_table_shows(monkeypatch):
    namespace, _, _ = _run("plot_classic_vs_deep.py", monkeypatch)
    summary = namespace["result"].summary().set_index(["method", "bits"])["mAP"]
    source = (EXAMPLES / "plot_classic_vs_deep.py").read_text()
    assert "of the query's class more often" in source
    for bits in (16, 32):  # the claim: DSBH beats both classic hashers at every length
        assert summary[("DSBH", bits)] > max(summary[("ITQ", bits)], summary[("LSH", bits)])
