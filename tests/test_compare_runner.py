"""The protocol runner behind compare and robustness: failed settings, collapsed models,
timing, progress, warnings and model selection (issue 15, issue 11)."""

import matplotlib

matplotlib.use("Agg")

import warnings

import numpy as np
import pytest
from sklearn.exceptions import FitFailedWarning

from skhash import LSH, PCAHashing
from skhash.__main__ import main
from skhash.compare import DegenerateModelWarning, RetrievalProtocol, _runner, compare, robustness
from skhash.datasets import load_digits
from skhash.metrics import query_time
from skhash.utils.timing import measure_time

SMALL = RetrievalProtocol(n_query=50, n_train=300)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(as_images=True, return_X_y=True)
    return X / 16.0, y


# -- one failing setting does not abort the comparison ------------------------------------
def test_failed_setting_is_recorded_and_the_rest_runs(digits):
    X, y = digits
    with pytest.warns(FitFailedWarning, match="PCAH at 128 bits"):
        result = compare(["LSH", "PCAH"], X, y, n_bits=(8, 128), protocol=SMALL, random_state=0)
    table = result.table.set_index(["method", "bits"])
    assert table.loc[("PCAH", 128), "status"] == "failed"
    assert "n_bits=128" in table.loc[("PCAH", 128), "note"]
    assert np.isnan(table.loc[("PCAH", 128), "mAP"])
    others = table.drop(("PCAH", 128))
    assert (others["status"] == "ok").all() and (others["mAP"] > 0.2).all()
    pretty = result.pretty_summary()
    assert pretty["note"].str.startswith("FAILED: ValueError").sum() == 1
    report = result.to_markdown()
    assert "Failed settings" in report and "PCAH, 128 bits: ValueError" in report
    assert "128 bits: LSH" in report  # the best line skips the failed setting
    result.plot_all()  # failed settings leave gaps, not errors


def test_cli_goes_on_past_a_failed_setting(tmp_path, capsys):
    # The reproducer of issue 15: PCAH cannot give 128 bits from the digits' 64 features.
    out = tmp_path / "out"
    with pytest.warns(FitFailedWarning):
        status = main(
            ["compare", "--methods", "PCAH", "LSH", "--bits", "8", "128", "--quick", "--quiet"]
            + ["--out", str(out)]
        )
    assert status == 0
    printed = capsys.readouterr().out
    assert "FAILED: ValueError" in printed and "1 of 4 settings failed" in printed
    assert "PCAH, 128 bits: ValueError" in (out / "report.md").read_text()


def test_cli_fails_when_every_setting_fails(tmp_path, capsys):
    with pytest.warns(FitFailedWarning):
        status = main(
            ["compare", "--methods", "PCAH", "--bits", "128", "--quick", "--quiet"]
            + ["--out", str(tmp_path)]
        )
    assert status == 1
    assert "none (every setting failed or collapsed)" in (tmp_path / "report.md").read_text()


# -- degenerate models are flagged and never best -----------------------------------------
def test_too_few_distinct_codes_is_degenerate(digits):
    # Two bits give at most four codes for ten classes: the codes cannot tell them apart.
    X, y = digits
    with pytest.warns(DegenerateModelWarning, match="LSH at 2 bits"):
        result = compare(["LSH", "ITQ"], X, y, n_bits=(2, 16), protocol=SMALL, random_state=0)
    table = result.table.set_index(["method", "bits"])
    assert table.loc[("LSH", 2), "status"] == "degenerate"
    assert table.loc[("LSH", 2), "distinct_codes"] <= 4
    assert "distinct codes" in table.loc[("LSH", 2), "note"]
    assert (table.xs(16, level="bits")["status"] == "ok").all()
    # Both methods collapse at 2 bits: no best line there.
    assert table.loc[("ITQ", 2), "status"] == "degenerate"
    assert result.best()["bits"].tolist() == [16]
    report = result.to_markdown()
    assert "Degenerate models" in report and "- LSH, 2 bits:" in report
    assert "Best mAP: 16 bits: ITQ" in report
    labels = [t.get_text() for t in result.plot_map_vs_bits().axes[0].get_legend().get_texts()]
    assert "LSH (degenerate)" in labels


def test_chance_level_model_is_degenerate(digits):
    # Labels that have nothing to do with the images: every hasher is at chance level.
    X, y = digits
    y_random = np.random.default_rng(0).permutation(y)
    with pytest.warns(DegenerateModelWarning, match="chance level"):
        result = compare(["ITQ"], X, y_random, n_bits=16, protocol=SMALL, random_state=0)
    row = result.table.iloc[0]
    assert row["status"] == "degenerate" and "chance level" in row["note"]
    assert abs(row["mAP"] - row["chance_mAP"]) < 0.02
    assert result.best().empty
    assert "none (every setting failed or collapsed)" in result.to_markdown()


def test_constant_bits_are_degenerate():
    codes = np.zeros((100, 8), dtype=np.uint8)
    codes[:, :3] = np.random.default_rng(0).integers(0, 2, size=(100, 3))
    y = np.repeat(np.arange(4), 25)
    distinct, constant, reason = _runner.diagnose(codes, y, clean_map=0.9, chance=0.25)
    assert (distinct, constant) == (8, 5)
    assert reason == "5 of 8 bits constant"
    assert _runner.diagnose(codes[:, :3], y, clean_map=0.9, chance=0.25)[2] == ""


def test_robustness_marks_degenerate_models(digits):
    X, y = digits
    with pytest.warns(DegenerateModelWarning):
        drops = robustness(
            ["LSH", "ITQ"],
            X,
            y,
            n_bits=(2, 16),
            perturbations={"noise": [0.3]},
            protocol=SMALL,
            random_state=0,
        )
    status = drops.set_index(["method", "bits"])["status"]
    assert status[("LSH", 2)] == "degenerate" and status[("ITQ", 16)] == "ok"
    from skhash.compare._result import robustness_markdown

    text = robustness_markdown(drops, (2, 16))
    assert "| LSH 2 (degenerate) |" in text and "| ITQ 16 |" in text
    best = text.split("Highest mAP on perturbed queries")[1]
    assert best.startswith(" (mean over the perturbations): ITQ at 16 bits")


# -- timing --------------------------------------------------------------------------------
class _Counter:
    def __init__(self, seconds=0.0):
        self.calls, self.seconds = 0, seconds

    def __call__(self):
        self.calls += 1
        if self.seconds:
            import time

            time.sleep(self.seconds)
        return self.calls


def test_measure_time_warms_up_then_takes_the_median():
    counter = _Counter()
    timing = measure_time(counter, n_repeats=5, warmup=2)
    assert counter.calls == 7 and timing.n_timed == 5 and timing.result == 7
    assert timing.median == pytest.approx(np.median(timing.times))
    assert timing.warmup_s >= 0


def test_measure_time_budget():
    # A call longer than the budget on its warm-up run is the measurement: no more calls.
    slow = _Counter(seconds=0.05)
    timing = measure_time(slow, n_repeats=3, max_time=0.01)
    assert slow.calls == 1 and timing.n_timed == 1 and timing.median >= 0.05
    # Shorter calls repeat until the budget is spent (at least one timed call).
    fast = _Counter(seconds=0.02)
    timing = measure_time(fast, n_repeats=10, max_time=0.05)
    assert 2 <= timing.n_timed < 10 and fast.calls == timing.n_timed + 1
    with pytest.raises(ValueError, match="n_repeats"):
        measure_time(fast, n_repeats=0)
    with pytest.raises(TypeError, match="callable"):
        measure_time(42)


def test_query_time_uses_the_shared_helper(digits):
    X, y = digits
    hasher = LSH(n_bits=16, random_state=0).fit(X.reshape(len(X), -1), y)
    calls = []
    original = hasher.kneighbors

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    hasher.kneighbors = counted
    assert query_time(hasher, X[:10].reshape(10, -1), n_neighbors=5, n_repeats=4) > 0
    assert len(calls) == 5  # one warm-up call, then four timed ones


def test_compare_times_after_a_warm_up(digits, monkeypatch):
    X, y = digits
    fits = []
    original = PCAHashing.fit

    def counted(self, *args, **kwargs):
        fits.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(PCAHashing, "fit", counted)
    compare(["PCAH"], X, y, n_bits=8, protocol=SMALL, random_state=0)
    # A fit of milliseconds: one warm-up fit and three timed fits, of which the median.
    assert len(fits) == 4


# -- progress and warnings -----------------------------------------------------------------
def test_progress_bar_defaults(digits, capsys, monkeypatch):
    X, y = digits
    compare(["LSH"], X, y, n_bits=8, protocol=SMALL, random_state=0)
    assert "compare" not in capsys.readouterr().err  # silent in a script by default
    compare(["LSH"], X, y, n_bits=8, protocol=SMALL, random_state=0, verbose=1)
    assert "compare" in capsys.readouterr().err
    monkeypatch.setattr(_runner, "in_notebook", lambda: True)
    compare(["LSH"], X, y, n_bits=8, protocol=SMALL, random_state=0)
    assert "compare" in capsys.readouterr().err  # on by default in a notebook
    compare(["LSH"], X, y, n_bits=8, protocol=SMALL, random_state=0, verbose=0)
    assert "compare" not in capsys.readouterr().err


def test_warns_when_queries_share_no_label(digits):
    X, y = digits
    # Multi-label rows with no label at all are relevant to nothing.
    Y = np.eye(10, dtype=np.uint8)[y]
    Y[:300] = 0
    with pytest.warns(UserWarning, match="queries of split 0 share no label with the database"):
        compare(["LSH"], X, Y, n_bits=8, protocol=SMALL, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        compare(["LSH"], X, y, n_bits=8, protocol=SMALL, random_state=0)


# -- model selection on a validation split of the training set -----------------------------
def test_deep_hashers_choose_their_epoch_on_the_training_set(digits):
    pytest.importorskip("torch")
    from skhash import DSBH

    X, y = digits
    seen = {}
    original = DSBH.fit

    def spy(self, X_fit, y_fit=None):
        seen["n_fit"] = len(X_fit)
        seen["validation_fraction"] = self.validation_fraction
        return original(self, X_fit, y_fit)

    DSBH.fit = spy
    try:
        result = compare(
            {"DSBH": DSBH(max_epochs=3, batch_size=64, device="cpu")},
            X,
            y,
            n_bits=16,
            protocol=SMALL,
            random_state=0,
        )
    finally:
        DSBH.fit = original
    # The hasher sees the training part only (the queries never reach fit), and carves its
    # validation split out of it.
    assert seen == {"n_fit": 300, "validation_fraction": 0.1}
    row = result.table.iloc[0]
    assert row["epochs_run"] == 3 and 1 <= row["best_epoch"] <= 3
    report = result.to_markdown()
    assert "held out 10% of its training set as a validation split (never the queries)" in report
    assert f"DSBH 16 bits: epoch {int(row['best_epoch'])} of 3" in report

    fixed = compare(
        {"DSBH": DSBH(max_epochs=2, batch_size=64, device="cpu")},
        X,
        y,
        n_bits=16,
        protocol=SMALL,
        validation_fraction=None,
        random_state=0,
    )
    assert np.isnan(fixed.table["epochs_run"].iloc[0])
    assert "trained for all their epochs (no validation split" in fixed.to_markdown()


# -- a hasher's warning is said once per method, through the bar, and in the report -------
def test_a_hashers_warning_is_said_once_per_method_and_reported(digits, tmp_path):
    from sklearn.exceptions import DataDimensionalityWarning

    X, y = digits
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # PCA hashing at 64 bits on the digits (rank < 64) warns at every timed fit.
        result = compare(["PCAH", "ITQ"], X, y, n_bits=(60, 64), protocol=SMALL, random_state=0)
    rank = [w for w in caught if issubclass(w.category, DataDimensionalityWarning)]
    said = sorted(str(w.message).split(":")[0] for w in rank)
    assert said == ["ITQ at 60 bits", "PCAH at 60 bits"]  # once per method, not per fit
    assert all(w.filename == __file__ for w in rank)  # the user's line, not an internal one
    assert [(w["method"], w["bits"]) for w in result.warnings] == [
        ("PCAH", [60, 64]),
        ("ITQ", [60, 64]),
    ]
    assert {w["category"] for w in result.warnings} == {"DataDimensionalityWarning"}
    report = result.to_markdown()
    assert "Warnings of the hashers (each said once per method)" in report
    assert "- PCAH (60, 64 bits), DataDimensionalityWarning: PCAHashing: n_bits=60" in report


def test_warnings_go_through_the_progress_bar_without_a_source_line(digits, capsys):
    X, y = digits
    saved = warnings.showwarning
    try:
        # As in a script: the interpreter's own showwarning, which the runner may replace.
        warnings.showwarning = warnings._showwarning_orig
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = warnings._showwarning_orig
            compare(["PCAH"], X, y, n_bits=(60, 64), protocol=SMALL, random_state=0, verbose=1)
    finally:
        warnings.showwarning = saved
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "DataDimensionalityWarning" in line]
    assert len(lines) == 1, err
    assert lines[0].startswith("DataDimensionalityWarning: PCAH at 60 bits: PCAHashing")
    assert "_runner.py" not in err and "warnings.warn" not in err
