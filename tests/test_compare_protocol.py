"""RetrievalProtocol presets: the standard splits of the literature on data of their sizes
(issue 11). Synthetic labels and features; classic hashers keep it cheap."""

import numpy as np
import pytest

from skhash.compare import RetrievalProtocol, compare


def _single_label(n_classes, per_class):
    return np.repeat(np.arange(n_classes), per_class)


def _multi_label(n_samples, n_classes, seed=0):
    rng = np.random.default_rng(seed)
    Y = (rng.random((n_samples, n_classes)) < 0.15).astype(np.uint8)
    Y[np.arange(n_samples), rng.integers(0, n_classes, n_samples)] = 1  # no empty rows
    return Y


@pytest.mark.parametrize(
    "name, y, sizes",
    [
        ("cifar10", _single_label(10, 6000), (1000, 5000, 54000)),
        ("cifar10-59k", _single_label(10, 6000), (1000, 59000, 59000)),
        ("cifar10-50k", _single_label(10, 6000), (10000, 50000, 50000)),
        ("imagenet100", _single_label(100, 1335), (5000, 10000, 128500)),
        ("nuswide21", _multi_label(195834, 21), (2100, 10500, 193734)),
        ("coco", _multi_label(122218, 80), (5000, 10000, 117218)),
    ],
)
def test_preset_split_sizes(name, y, sizes):
    protocol = RetrievalProtocol.preset(name)
    split = protocol.split(y, random_state=0)
    q, tr, db = split.query_indices, split.train_indices, split.database_indices
    assert (len(q), len(tr), len(db)) == sizes
    assert not np.intersect1d(q, db).size and not np.intersect1d(q, tr).size
    assert bool(np.isin(tr, db).all()) == protocol.train_in_database
    if y.ndim == 1:  # stratified: every class gets its share of queries
        counts = np.bincount(y[q])
        assert counts.min() == counts.max() == len(q) // len(counts)


def test_preset_values():
    cifar = RetrievalProtocol.preset("cifar10", n_repeats=2)
    assert (cifar.n_query, cifar.n_train, cifar.train_in_database, cifar.map_k) == (
        1000,
        5000,
        False,
        None,
    )
    assert cifar.n_repeats == 2 and cifar.name == "cifar10"
    assert repr(cifar) == "RetrievalProtocol.preset('cifar10', n_repeats=2)"
    assert RetrievalProtocol.preset("nuswide21").map_k == 5000
    assert RetrievalProtocol.preset("imagenet100").map_k == 1000
    assert RetrievalProtocol.preset("coco").map_k == 5000
    with pytest.raises(ValueError, match="Unknown protocol preset 'cifar100'.*cifar10-59k"):
        RetrievalProtocol.preset("cifar100")


def test_preset_checks_the_data():
    cifar = RetrievalProtocol.preset("cifar10")
    with pytest.raises(
        ValueError, match="'cifar10' protocol is for data with 10 classes; y has 5"
    ):
        cifar.split(_single_label(5, 12000))
    # A class with too few images for its 100 queries and 500 training images.
    y = _single_label(10, 6000)
    y = np.concatenate([y[y != 3], np.full(550, 3)])
    with pytest.raises(ValueError, match="cannot fill the 'cifar10' protocol.*class 3 has 550"):
        cifar.split(y)
    with pytest.raises(ValueError, match="Too few samples for the 'cifar10-50k' protocol"):
        RetrievalProtocol.preset("cifar10-50k").split(_single_label(10, 1000))
    with pytest.raises(ValueError, match="21 label columns; y has 20"):
        RetrievalProtocol.preset("nuswide21").split(_multi_label(20000, 20))


def test_compare_with_the_cifar10_preset():
    # The CIFAR-10 protocol on data of CIFAR-10's size: 60,000 samples, 10 classes.
    rng = np.random.default_rng(0)
    y = _single_label(10, 6000)
    X = rng.normal(size=(len(y), 16)) + 3 * np.eye(10, 16)[y]
    result = compare(["LSH"], X, y, n_bits=16, protocol="cifar10", random_state=0)
    assert (result.n_query, result.n_train, result.n_database) == (1000, 5000, 54000)
    assert result.table["status"].tolist() == ["ok"]
    assert result.table["mAP"].iloc[0] > result.table["chance_mAP"].iloc[0] + 0.05
    report = result.to_markdown()
    assert "cifar10 protocol: 1000 queries, a database of 54000" in report
    assert "5000 training samples kept out of the database; mAP over the whole database" in report


def test_compare_uses_the_protocol_map_cutoff():
    rng = np.random.default_rng(0)
    y = _single_label(10, 200)
    X = rng.normal(size=(len(y), 16)) + np.eye(10, 16)[y]
    protocol = RetrievalProtocol(n_query=100, n_train=500, map_k=50)
    result = compare(["LSH"], X, y, n_bits=16, protocol=protocol, k=50, random_state=0)
    # The protocol's mAP is mAP@50 here, the same number as the mAP@k column with k=50.
    assert result.table["mAP"].iloc[0] == pytest.approx(result.table["mAP@k"].iloc[0])
    assert "mAP@50" in result.pretty_summary().columns
