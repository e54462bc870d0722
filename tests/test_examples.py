"""The gallery examples, run as a user runs them (``python examples/plot_x.py``): they finish,
show their figures, and their text agrees with their numbers (issue 15)."""

import importlib.util
import os
import re
import runpy
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# Examples that train deep hashers for long enough to make their point: slow tests.
SLOW = {"plot_classic_vs_deep.py"}
DEEP_HASHERS = r"\b(SCAE|DSBH|DPHB|DAHP|DPSH|DSH|HashNet|CSQ|GreedyHash|OrthoHash|BiHalf)\b"
NO_TORCH = importlib.util.find_spec("torch") is None


def _marks(path):
    """Slow examples are marked slow; examples with deep hashers need torch (the
    minimum-versions environment has none)."""
    marks = [pytest.mark.slow] if path.name in SLOW else []
    uses_torch = re.search(rf"import torch|{DEEP_HASHERS}", path.read_text())
    if uses_torch:
        marks.append(pytest.mark.skipif(NO_TORCH, reason="the example trains a deep hasher"))
    return marks


_RUNS = {}


def _run(name):
    """Run an example as ``__main__`` (once per test session); return its globals and the
    figures open when it called ``plt.show()``."""
    if name not in _RUNS:
        shown = []
        original_show, cwd = plt.show, os.getcwd()
        plt.show = lambda *a, **k: shown.append(plt.get_fignums())
        os.chdir(EXAMPLES)
        plt.close("all")
        try:
            namespace = runpy.run_path(str(EXAMPLES / name), run_name="__main__")
        finally:
            plt.show = original_show
            os.chdir(cwd)
            plt.close("all")  # the namespace keeps the figures the tests look at
        _RUNS[name] = namespace, shown
    return _RUNS[name]


@pytest.mark.parametrize(
    "name",
    [pytest.param(p.name, marks=_marks(p)) for p in sorted(EXAMPLES.glob("plot_*.py"))],
)
def test_example_runs_and_shows_its_figures(name):
    _, shown = _run(name)
    # Run as a script, each example ends by showing every figure it drew.
    assert shown and shown[-1], f"{name} does not call plt.show() with its figures open"


def test_grid_search_figure_is_readable():
    namespace, _ = _run("plot_grid_search.py")
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


def test_robustness_example_plots_the_drop():
    namespace, _ = _run("plot_robustness.py")
    drops = namespace["drops"]
    ax = namespace["fig"].axes[0]
    assert "drop" in ax.get_ylabel()
    first = drops[drops["perturbation"] == "noise"].groupby("method", sort=False)
    plotted = ax.get_lines()[0].get_ydata()
    assert list(plotted) == list(next(iter(first))[1]["mAP_drop"])


@pytest.mark.slow
def test_classic_vs_deep_says_what_its_table_shows():
    namespace, _ = _run("plot_classic_vs_deep.py")
    summary = namespace["result"].summary().set_index(["method", "bits"])["mAP"]
    text = " ".join((EXAMPLES / "plot_classic_vs_deep.py").read_text().replace("#", " ").split())
    assert "of the query's class more often" in text
    for bits in (16, 32):  # the claim: DSBH beats both classic hashers at every length
        assert summary[("DSBH", bits)] > max(summary[("ITQ", bits)], summary[("LSH", bits)])


def test_readme_quick_start_prints_what_it_says(capsys):
    readme = (EXAMPLES.parent / "README.md").read_text()
    block = readme.split("## Quick start", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    promised = [
        line.split("prints", 1)[1].strip() for line in block.splitlines() if "prints" in line
    ]
    assert promised, "the quick start's comment no longer says what it prints"
    exec(compile(block, "README.md", "exec"), {})
    assert capsys.readouterr().out.split() == promised
