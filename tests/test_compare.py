"""Tests of skhash.compare (compare, robustness, perturb) and the command line."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from skhash import ITQ, LSH
from skhash.__main__ import main
from skhash.compare import (
    QUICK_DEEP_DEFAULTS,
    ComparisonResult,
    RetrievalProtocol,
    compare,
    make_method,
    perturb,
    robustness,
)
from skhash.datasets import load_digits

SCORES = ["mAP", "mAP@k", "precision@k", "precision@radius"]
TIMES = ["fit_time_s", "encode_ms_per_sample", "query_ms_per_query"]
DIAGNOSTICS = ["chance_mAP", "distinct_codes", "constant_bits", "epochs_run", "best_epoch"]
SMALL = RetrievalProtocol(n_query=50, n_train=300)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(as_images=True, return_X_y=True)
    return X / 16.0, y


@pytest.fixture(scope="module")
def result(digits):
    X, y = digits
    return compare(["LSH", "ITQ"], X, y, n_bits=16, protocol=SMALL, random_state=0)


def test_compare_table(result):
    table = result.table
    assert isinstance(result, ComparisonResult)
    assert list(table.columns) == [
        *["method", "family", "bits", "repeat", "status", "note"],
        *SCORES,
        *TIMES,
        *DIAGNOSTICS,
    ]
    assert table[["method", "bits", "repeat"]].values.tolist() == [["LSH", 16, 0], ["ITQ", 16, 0]]
    assert (table["family"] == "classic").all()
    assert (table["status"] == "ok").all() and (table["note"] == "").all()
    # Ten balanced classes: a random order finds the right class about one time in ten.
    assert table["chance_mAP"].between(0.09, 0.11).all()
    assert table["epochs_run"].isna().all()
    assert table[SCORES].apply(lambda c: c.between(0, 1)).all().all()
    assert (table[TIMES] >= 0).all().all()
    # ITQ beats random hyperplanes on the digits: the scores are real, not placeholders.
    assert table.loc[1, "mAP"] > table.loc[0, "mAP"] > 0.2


def test_compare_is_reproducible(digits, result):
    X, y = digits
    again = compare(["LSH", "ITQ"], X, y, n_bits=16, protocol=SMALL, random_state=0)
    pd.testing.assert_frame_equal(again.table[SCORES], result.table[SCORES])
    other = compare(["LSH", "ITQ"], X, y, n_bits=16, protocol=SMALL, random_state=1)
    assert not np.allclose(other.table["mAP"], result.table["mAP"])


def test_compare_repeats_summary_and_curves(digits):
    X, y = digits
    protocol = RetrievalProtocol(n_query=40, n_train=200, n_repeats=2)
    res = compare([LSH(), ITQ(n_iter=5)], X, y, n_bits=(8, 16), protocol=protocol, random_state=0)
    assert len(res.table) == 2 * 2 * 2
    summary = res.summary()
    assert len(summary) == 4
    assert (summary["n_repeats"] == 2).all()
    assert (summary["mAP_std"] > 0).all()
    first = res.table[(res.table["method"] == "LSH") & (res.table["bits"] == 8)]
    assert summary.loc[0, "mAP"] == pytest.approx(first["mAP"].mean())
    pr = res.curves[(res.curves["curve"] == "pr") & (res.curves["bits"] == 8)]
    # Radius 0..8 per method and repeat, recall reaching 1 at the largest radius.
    assert len(pr) == 2 * 2 * 9
    assert pr.groupby(["method", "repeat"])["recall"].max().eq(1).all()
    assert "±" in res.pretty_summary()["mAP"].iloc[0]


def test_compare_vectors_and_named_estimators(digits):
    X, y = digits
    res = compare(
        {"mine": ITQ(n_iter=3), "lsh": "lsh"},
        X.reshape(len(X), -1),
        y,
        n_bits=8,
        protocol=SMALL,
        random_state=0,
    )
    assert res.table["method"].tolist() == ["mine", "lsh"]


def test_plots_and_markdown(result, tmp_path):
    figures = result.plot_all()
    assert set(figures) == {"map_vs_bits", "precision_recall", "precision_at_k"}
    assert all(isinstance(f, Figure) for f in figures.values())
    assert [line.get_label() for line in figures["precision_at_k"].axes[0].lines] == ["LSH", "ITQ"]
    report = result.to_markdown()
    assert "| ITQ | classic | 16 |" in report and "Best mAP: 16 bits: ITQ" in report
    paths = result.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [
            "results.csv",
            "summary.csv",
            "curves.csv",
            "map_vs_bits.png",
            "precision_recall.png",
            "precision_at_k.png",
            "report.md",
        ]
    )
    assert len(pd.read_csv(paths["results"])) == 2
    with pytest.raises(ValueError, match="No result for bits"):
        result.plot_precision_recall(bits=64)


def test_protocol_sizes():
    assert RetrievalProtocol.auto(60000) == RetrievalProtocol(n_query=1000, n_train=5000)
    digits = RetrievalProtocol.auto(1797)
    assert (digits.n_query, digits.n_train) == (180, 1617)
    assert RetrievalProtocol.auto(5000).resolve(5000) == (500, 4500)
    assert RetrievalProtocol(n_query=0.1, n_train=None).resolve(1000) == (100, 900)
    assert RetrievalProtocol(n_query=100, n_train=0.5).resolve(1000) == (100, 500)


def test_split_sizes_reach_the_table(digits, result):
    assert (result.n_query, result.n_train, result.n_database) == (50, 300, 1747)
    assert result.k == 100


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"methods": ["ITQ", "nope"]}, "Unknown method 'nope'"),
        ({"n_bits": (16, 0)}, "positive integers"),
        ({"n_bits": -8}, "positive integers"),
        ({"protocol": RetrievalProtocol(n_query=100, n_train=5000)}, "Too few samples"),
        ({"protocol": "cifar"}, "Unknown protocol preset 'cifar'"),
        ({"protocol": 3}, "RetrievalProtocol"),
        ({"k": 0}, "k must be"),
        ({"methods": [42]}, "names or hasher estimators"),
    ],
)
def test_bad_inputs(digits, kwargs, match):
    X, y = digits
    kwargs = {"methods": ["ITQ"], "n_bits": 8, **kwargs}
    with pytest.raises(ValueError, match=match):
        compare(X=X, y=y, **kwargs)


def test_too_few_samples_and_missing_labels(digits):
    X, y = digits
    with pytest.raises(ValueError, match="Too few samples"):
        compare(["ITQ"], X[:15], y[:15], n_bits=4)
    with pytest.raises(ValueError, match="needs labels"):
        compare(["ITQ"], X, None, n_bits=4)
    with pytest.raises(ValueError, match="n_repeats"):
        RetrievalProtocol(n_repeats=0)
    with pytest.raises(ValueError, match="fraction"):
        RetrievalProtocol(n_query=1.5)


def test_make_method_names():
    assert type(make_method("spectralhashing")).__name__ == "SpectralHashing"
    assert type(make_method("pcah")).__name__ == "PCAHashing"


# -- robustness ---------------------------------------------------------------------------
def test_perturb_properties():
    rng = np.random.default_rng(0)
    images = rng.random((4, 8, 8))
    for kind in ("noise", "rotation", "crop", "brightness"):
        assert np.array_equal(perturb(images, kind, 0), images)
        out = perturb(images, kind, 0.3 if kind != "rotation" else 20, random_state=0)
        assert out.shape == images.shape
        assert not np.allclose(out, images)
        assert out.min() >= images.min() and out.max() <= images.max()
    flat = perturb(images.reshape(4, 64), "noise", 0.1, random_state=0)
    assert flat.shape == (4, 64)
    np.testing.assert_array_equal(
        flat, perturb(images, "noise", 0.1, random_state=0).reshape(4, 64)
    )
    bright = perturb(images, "brightness", 0.2, value_range=(0, 2))
    np.testing.assert_allclose(bright, images + 0.4)
    with pytest.raises(ValueError, match="kind must be one of"):
        perturb(images, "swirl", 1)
    with pytest.raises(ValueError, match="non-negative"):
        perturb(images, "noise", -1)
    with pytest.raises(ValueError, match="image_shape"):
        perturb(rng.random((2, 10)), "noise", 0.1)


def test_robustness_drops(digits):
    X, y = digits
    drops = robustness(
        ["LSH", "ITQ"],
        X,
        y,
        n_bits=16,
        perturbations={"noise": [0.0, 0.5], "rotation": [30]},
        protocol=SMALL,
        random_state=0,
    )
    assert len(drops) == 2 * 3
    assert np.isfinite(drops[["clean_mAP", "mAP", "mAP_drop", "relative_drop"]]).all().all()
    zero = drops[drops["strength"] == 0]
    assert (zero["mAP_drop"] == 0).all()
    strong = drops[drops["strength"] > 0]
    assert (strong["mAP_drop"] > 0).all()
    np.testing.assert_allclose(drops["mAP_drop"], drops["clean_mAP"] - drops["mAP"])
    with pytest.raises(ValueError, match="Unknown perturbation"):
        robustness(["ITQ"], X, y, perturbations={"swirl": [1]})


# -- command line -------------------------------------------------------------------------
def test_cli_end_to_end(tmp_path, capsys):
    out = tmp_path / "results"
    status = main(
        [
            "compare",
            "--dataset",
            "digits",
            "--bits",
            "8",
            "16",
            "--methods",
            "LSH",
            "ITQ",
            "--out",
            str(out),
            "--quick",
            "--quiet",
            "--robustness",
            "--robustness-bits",
            "8",
        ]
    )
    assert status == 0
    names = {p.name for p in out.iterdir()}
    assert {
        "results.csv",
        "summary.csv",
        "report.md",
        "map_vs_bits.png",
        "precision_recall.png",
        "precision_at_k.png",
        "robustness.csv",
    } <= names
    table = pd.read_csv(out / "results.csv")
    assert len(table) == 4 and set(table["method"]) == {"LSH", "ITQ"}
    report = (out / "report.md").read_text()
    assert "100 queries, a database of 1697, 300 training samples" in report
    assert "## Robustness" in report
    assert (out / "map_vs_bits.png").read_bytes()[:4] == b"\x89PNG"
    printed = capsys.readouterr().out
    assert "ITQ" in printed and "mAP" in printed
    # The robustness table is printed too, not only written (issue 25).
    robust = printed[printed.index("Robustness at 8 bits: mAP drop") :]
    assert "noise" in robust and "LSH" in robust and "ITQ" in robust


def test_cli_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["compare", "--methods", "nope", "--out", str(tmp_path), "--quiet"])
    assert exc.value.code == 2
    assert "Unknown method 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["compare", "--dataset", str(tmp_path / "missing"), "--quiet"])
    assert "image folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["compare", "--protocol", "cifar10", "--out", str(tmp_path), "--quiet"])
    assert exc.value.code == 2
    assert "Too few samples for the 'cifar10' protocol" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "compare" in capsys.readouterr().out


def test_cli_help_says_the_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "default: all = the classic LSH PCAH ITQ SH KMH" in text  # what runs
    assert "the deep SCAE DSBH DPHB DAHP" in text
    assert "default: auto = CUDA when available, else MPS, else the CPU" in text  # the device
    assert "code length of the robustness measurement (default: 32)" in text


@pytest.mark.slow
def test_quick_deep_settings_learn(digits):
    """The deep settings of --quick learn on the quick protocol (issue 25: with one epoch,
    10 of the 12 deep cells collapsed to a few codes at chance level)."""
    pytest.importorskip("torch")
    X, y = digits
    protocol = RetrievalProtocol(n_query=100, n_train=300)
    result = compare("deep", X, y, n_bits=(16, 64), protocol=protocol, quick=True, random_state=0)
    table = result.table
    assert (table["status"] == "ok").all(), table[["method", "bits", "note"]]
    assert (table["mAP"] > 3 * table["chance_mAP"]).all(), table[["method", "bits", "mAP"]]


def test_method_groups_expand_inside_lists():
    pytest.importorskip("torch")
    from skhash.compare._methods import BASELINE_METHODS, resolve_methods

    resolved = resolve_methods(["baselines", "itq"], quick=True)
    assert list(resolved) == [*BASELINE_METHODS, "ITQ"]
    assert all(
        resolved[name].get_params()["max_epochs"] == QUICK_DEEP_DEFAULTS[name]["max_epochs"]
        for name in BASELINE_METHODS
    )
    assert list(resolve_methods("classic")) == ["LSH", "PCAH", "ITQ", "SH", "KMH"]
    with pytest.raises(ValueError, match="Unknown method 'baseline'"):
        resolve_methods(["baseline"])
