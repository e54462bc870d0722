"""Quality gate of the deep hashers, and the regression tests of issue 19.

Every deep hasher, tiny and fast, on scikit-learn's digits (300 queries, the other 1,497
images the training set and the database), must retrieve better than LSH on the same pixels
(P@10), use every bit (no bit constant over the database) and not collapse (distinct codes,
bounded correlation between bits). Each fit runs in a child process, so that a crash in
native code fails one test naming the signal instead of killing the session.

The five defects of issue 19 each have a test on the measure that exposed it: DSBH's
pre-sign outputs near 0, DPSH's pair weighting, BiHalf's threshold and redundant bits, class
centres with constant bits, HashNet's continuation that did not reach the sign.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _subprocess import run_in_subprocess  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from skhash.deep import _losses as L  # noqa: E402

N_BITS = 16
# One row per hasher: tiny settings for the gate (test settings, not the defaults).
COMMON = dict(
    n_bits=N_BITS, device="cpu", batch_size=64, augmentation=None, random_state=0, n_jobs=1
)
GATE_SETTINGS = {
    "SCAE": dict(pretrain_epochs=1, max_epochs=4),
    "DSBH": dict(channels=(8, 16, 32), hidden=64, max_epochs=4),
    "DPHB": dict(width=1 / 8, fc_dim=64, max_epochs=4),
    "DAHP": dict(width=8, max_epochs=5),
    "DPSH": dict(max_epochs=3),
    "DSH": dict(max_epochs=3),
    "HashNet": dict(max_epochs=3),
    "CSQ": dict(max_epochs=3),
    "GreedyHash": dict(max_epochs=3),
    "OrthoHash": dict(max_epochs=3),
    "BiHalf": dict(max_epochs=4),
    # contrastive: two views need an augmentation to differ (its own default)
    "CIBHash": dict(max_epochs=10, augmentation="near_duplicates"),
}
MAX_MEAN_BIT_CORRELATION = 0.6


# -- the measures ----------------------------------------------------------------------------
def digits_split():
    X, y = load_digits(return_X_y=True)
    perm = np.random.RandomState(0).permutation(len(X))
    q, db = perm[:300], perm[300:]
    images = (X / 16).reshape(-1, 8, 8).astype(np.float32)
    return images[db], y[db], images[q], y[q]


def hamming(q_codes, db_codes):
    q, db = q_codes.astype(np.int64), db_codes.astype(np.int64)
    return q @ (1 - db).T + (1 - q) @ db.T


def code_measures(hasher, X_db, y_db, X_q, y_q):
    """P@10 (tie-aware), distinct codes, constant bits, mean |correlation| between bits."""
    from skhash.metrics import precision_at_k

    db_codes, q_codes = hasher.transform(X_db), hasher.transform(X_q)
    p10 = precision_at_k(y_q, y_db, hamming(q_codes, db_codes), k=10, tie_aware=True)
    std = db_codes.std(axis=0)
    varying = db_codes[:, std > 0].astype(np.float64)
    corr = np.corrcoef(varying.T) if varying.shape[1] > 1 else np.ones((1, 1))
    off = ~np.eye(len(corr), dtype=bool)
    return {
        "p10": float(p10),
        "distinct": len(np.unique(db_codes, axis=0)),
        "constant_bits": int((std == 0).sum()),
        "bit_correlation": float(np.abs(corr[off]).mean()) if off.any() else 1.0,
    }


def fit_and_measure(name):
    """Fit hasher ``name`` with its gate settings on the digits and measure its codes."""
    import skhash

    torch.set_num_threads(1)
    X_db, y_db, X_q, y_q = digits_split()
    hasher = getattr(skhash, name)(**{**COMMON, **GATE_SETTINGS[name]}).fit(X_db, y_db)
    return code_measures(hasher, X_db, y_db, X_q, y_q)


def lsh_p10():
    from skhash import LSH

    X_db, y_db, X_q, y_q = digits_split()
    flat = lambda X: X.reshape(len(X), -1)  # noqa: E731
    lsh = LSH(n_bits=N_BITS, random_state=0).fit(flat(X_db), y_db)
    return code_measures(lsh, flat(X_db), y_db, flat(X_q), y_q)["p10"]


@pytest.fixture(scope="module")
def lsh_reference():
    return lsh_p10()


@pytest.mark.parametrize("name", list(GATE_SETTINGS))
def test_quality_gate(name, lsh_reference):
    measures = run_in_subprocess(fit_and_measure, name)
    assert measures["p10"] > lsh_reference, (measures, lsh_reference)
    assert measures["constant_bits"] == 0, measures
    assert measures["distinct"] >= 10, measures  # at least one code per digit
    assert measures["bit_correlation"] < MAX_MEAN_BIT_CORRELATION, measures


# -- the five defects of issue 19 ------------------------------------------------------------
@pytest.mark.parametrize("n_bits", [16, 32, 64])
def test_hadamard_centres_split_every_bit(n_bits):
    # Before: the first 10 Hadamard rows left 1, 2 and 4 bits constant over every centre.
    for n_classes in (2, 3, 4, 5, 10, 11, n_bits, n_bits + 3, 2 * n_bits):
        C = L.hash_centers(n_classes, n_bits, torch.Generator().manual_seed(0))
        plus = (C > 0).sum(dim=0)
        assert int(plus.min()) >= 1 and int(plus.max()) <= n_classes - 1, n_classes
        distance = (n_bits - C @ C.T) / 2
        off = ~torch.eye(n_classes, dtype=bool)
        assert distance[off].min() >= n_bits / 2
        if 5 <= n_classes <= n_bits:  # signed rows: orthogonal, none antipodal
            assert (distance[off] == n_bits / 2).all()
    # 10 classes: every bit is +1 for at least 2 and at most 8 of them
    plus = (L.hash_centers(10, n_bits) > 0).sum(dim=0)
    assert int(plus.min()) >= 2 and int(plus.max()) <= 8
    # more classes than Hadamard codes: random centres after them
    C = L.hash_centers(3 * n_bits, n_bits, torch.Generator().manual_seed(0))
    assert len(C.unique(dim=0)) == 3 * n_bits


def fit_codes(name, params, X=None, y=None):
    """Fit ``name`` with ``params`` on the digits; codes and embedding of the training set."""
    import skhash

    torch.set_num_threads(1)
    if X is None:
        X, y, _, _ = digits_split()
    hasher = getattr(skhash, name)(**{**COMMON, **params}).fit(X, y)
    out = {"codes": hasher.transform(X), "embedding": hasher.embed(X)}
    if name == "HashNet":
        steps = int(hasher.module_.heads[0].steps)
        out["final_beta"] = float(hasher._beta(torch.tensor(steps - 1)))
    return out


def test_dsbh_pre_sign_outputs_leave_zero():
    # Before: mean |u| 0.022 on MNIST (99.3% of the values below 0.1): codes flipped at noise.
    out = run_in_subprocess(fit_codes, "DSBH", GATE_SETTINGS["DSBH"])
    u = np.abs(out["embedding"])
    assert u.mean() > 0.5 and (u < 0.1).mean() < 0.2, (u.mean(), (u < 0.1).mean())


def test_dpsh_pair_weighting_balances_similar_and_dissimilar_pairs():
    from skhash import DPSH

    rng = np.random.default_rng(0)
    u = torch.tensor(rng.normal(size=(12, 8)), dtype=torch.float32)
    Y = torch.eye(4)[torch.tensor(rng.integers(0, 4, 12))]
    S = L.pairwise_similarity(Y)
    theta = 0.5 * u @ u.T
    pair = torch.nn.functional.softplus(theta) - S * theta
    balanced = pair[S > 0].mean() + pair[S == 0].mean()
    outputs = {"codes": u}
    batch = {"y": Y}
    terms = DPSH(quantization_weight=0)._loss(outputs, batch)  # the default: balanced
    assert torch.allclose(terms["pairwise"], balanced)
    uniform = DPSH(quantization_weight=0, pair_weighting="uniform")._loss(outputs, batch)
    assert torch.allclose(uniform["pairwise"], pair.mean())


def test_dpsh_balanced_pairs_retrieve_better_than_uniform():
    # Before (uniform, the paper's likelihood): mAP 0.53/0.70/0.60 on MNIST after 6 epochs.
    X, y, X_q, y_q = digits_split()
    scores = {}
    for weighting in ("balanced", "uniform"):
        params = {**GATE_SETTINGS["DPSH"], "pair_weighting": weighting, "max_epochs": 2}
        out = run_in_subprocess(fit_codes, "DPSH", params)
        codes = out["codes"]
        from skhash.metrics import mean_average_precision

        scores[weighting] = mean_average_precision(y, y, hamming(codes, codes), tie_aware=True)
    assert scores["balanced"] > scores["uniform"] + 0.02, scores


@pytest.fixture(scope="module")
def bihalf_codes():
    return run_in_subprocess(fit_codes, "BiHalf", GATE_SETTINGS["BiHalf"])["codes"]


def test_bihalf_thresholds_where_training_split(bihalf_codes):
    # Before: training split every bit at its batch median, transform at 0 (3.4 standard
    # deviations away on MNIST): 38 distinct codes for 4,000 images.
    ones = bihalf_codes.mean(axis=0)  # fraction of items with each bit at 1
    assert np.all(np.abs(ones - 0.5) < 0.15), ones


def test_bihalf_running_split_follows_the_batch_medians():
    from skhash.deep._bihalf import _BiHalfNetwork
    from skhash.deep._heads import LinearHead

    class Shifted(torch.nn.Module):  # a backbone whose features sit far from 0
        out_features = 4

        def forward(self, x):
            return x + 5.0

    head = LinearHead(4, 3)
    with torch.no_grad():
        head.hash.weight.copy_(torch.eye(3, 4))
        head.hash.bias.zero_()
    network = _BiHalfNetwork(
        Shifted(), [head], levels=None, freeze_backbone=False, gamma=1.0, decoder=None, n_bits=3
    )
    generator = torch.Generator().manual_seed(0)
    network.train()
    for _ in range(30):
        network(torch.randn(64, 4, generator=generator))
    assert torch.allclose(network.split, torch.full((3,), 5.0), atol=0.1)
    network.eval()
    codes = network(torch.randn(1000, 4, generator=generator))["binary"]
    assert torch.all(((codes > 0).float().mean(dim=0) - 0.5).abs() < 0.06)


def test_bihalf_bits_are_not_redundant(bihalf_codes):
    # Before: with the small CNN, mean |correlation| 0.83 between bits on MNIST.
    corr = np.corrcoef(bihalf_codes.T.astype(np.float64))
    assert np.abs(corr[~np.eye(N_BITS, dtype=bool)]).mean() < 0.3


@pytest.mark.parametrize("n_train", [300, 1497])
def test_hashnet_continuation_reaches_the_sign_whatever_the_data_size(n_train):
    # Before: beta = (1 + 0.005 t) ** 0.5 reached 1.7 after 6 epochs on 4,000 images.
    X, y, _, _ = digits_split()
    out = run_in_subprocess(fit_codes, "HashNet", {"max_epochs": 2}, X[:n_train], y[:n_train])
    assert out["final_beta"] == pytest.approx(10.0, rel=1e-4)


def test_hashnet_fixed_gamma_is_still_available():
    from skhash import HashNet

    assert HashNet(continuation_gamma=0.005)._beta(torch.tensor(600)) == pytest.approx(2.0)
    assert HashNet(continuation_gamma=0)._beta(torch.tensor(1000)) == 1
