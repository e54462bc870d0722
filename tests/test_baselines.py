"""The literature's deep baselines (DPSH, DSH, HashNet, CSQ, GreedyHash, OrthoHash, BiHalf).

Every loss is checked against its paper's formula written out independently here (loops
over items, pairs and bits in numpy), on random inputs; the estimators train on the digits
with tiny settings. The quality targets are slow tests (and ``benchmarks/baselines.py``).
"""

import copy
import itertools
import math
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")
hypothesis = pytest.importorskip("hypothesis")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from skhash import CSQ, DPSH, DSH, LSH, BiHalf, GreedyHash, HashNet, OrthoHash  # noqa: E402
from skhash.compare import compare, make_method  # noqa: E402
from skhash.compare._protocol import RetrievalProtocol  # noqa: E402
from skhash.deep import _losses as L  # noqa: E402
from skhash.deep._greedyhash import _GreedyHashHead  # noqa: E402
from skhash.metrics import precision_at_k  # noqa: E402

SUPERVISED = (DPSH, DSH, HashNet, CSQ, GreedyHash, OrthoHash)
FAST = dict(n_bits=8, device="cpu", batch_size=32, max_epochs=1, augmentation=None)
SEEDS = st.integers(0, 2**31 - 1)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:160] / 16).reshape(-1, 8, 8).astype(np.float32), y[:160]


def random_problem(seed, n=6, k=8, n_classes=3, multilabel=False):
    """Real codes (numpy float64) and a label-indicator matrix for one batch."""
    rng = np.random.default_rng(seed)
    u = rng.normal(scale=1.5, size=(n, k))
    if multilabel:
        Y = (rng.random((n, n_classes)) < 0.4).astype(float)
    else:
        Y = np.eye(n_classes)[rng.integers(0, n_classes, n)]
    return u, Y


def shares_label(Y, i, j):
    return float(any(Y[i, c] and Y[j, c] for c in range(Y.shape[1])))


def outputs_of(u, **extra):
    return {"codes": torch.tensor(u, dtype=torch.float32), **extra}


def batch_of(Y):
    return {"y": torch.tensor(Y, dtype=torch.float32)}


def total(terms):
    return float(sum(terms.values()).detach())


def fitted(cls, **params):
    """An estimator as after ``fit``, for calling its ``_loss`` on hand-made outputs."""
    hasher = cls(**params)
    hasher._multilabel = False
    return hasher


# -- losses against the papers' formulas ----------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(seed=SEEDS, multilabel=st.booleans())
def test_dpsh_loss_is_the_papers_likelihood_and_quantization(seed, multilabel):
    u, Y = random_problem(seed, multilabel=multilabel)
    n, k = u.shape
    eta = 0.3
    likelihood = 0.0
    for i, j in itertools.product(range(n), repeat=2):
        theta = 0.5 * u[i] @ u[j]
        likelihood -= shares_label(Y, i, j) * theta - math.log(1 + math.exp(theta))
    quantization = sum((np.sign(u[i, b]) - u[i, b]) ** 2 for i in range(n) for b in range(k))
    expected = likelihood / n**2 + eta * quantization / (n * k)
    # the paper's likelihood weighs every pair alike (the default balances them: issue 19)
    dpsh = fitted(DPSH, quantization_weight=eta, pair_weighting="uniform")
    terms = dpsh._loss(outputs_of(u), batch_of(Y))
    assert set(terms) == {"pairwise", "quantization"}
    assert math.isclose(total(terms), expected, rel_tol=1e-4)


@settings(max_examples=25, deadline=None)
@given(seed=SEEDS)
def test_dsh_loss_is_the_papers_contrastive_loss_over_2k(seed):
    u, Y = random_problem(seed, k=6)
    n, k = u.shape
    m, alpha = 2 * k, 0.01  # the paper's margin and regulariser weight
    expected = 0.0
    for i, j in itertools.product(range(n), repeat=2):
        d = np.sum((u[i] - u[j]) ** 2)
        similar = shares_label(Y, i, j)
        expected += 0.5 * similar * d + 0.5 * (1 - similar) * max(m - d, 0)
        expected += alpha * (np.abs(np.abs(u[i]) - 1).sum() + np.abs(np.abs(u[j]) - 1).sum())
    expected /= n**2
    terms = fitted(DSH, n_bits=k)._loss(outputs_of(u), batch_of(Y))
    assert math.isclose(2 * k * total(terms), expected, rel_tol=1e-4)


@settings(max_examples=25, deadline=None)
@given(seed=SEEDS, steps=st.integers(0, 5000), multilabel=st.booleans())
def test_hashnet_loss_is_the_papers_weighted_likelihood(seed, steps, multilabel):
    z, Y = random_problem(seed, n=7, multilabel=multilabel)
    n, k = z.shape
    gamma, power = 0.005, 0.5
    beta = (1 + gamma * steps) ** power
    h = np.tanh(beta * z)
    alpha = 10 / k
    S = np.array([[shares_label(Y, i, j) for j in range(n)] for i in range(n)])
    n_similar, n_dissimilar = S.sum(), S.size - S.sum()
    weighted = 0.0
    for i, j in itertools.product(range(n), repeat=2):
        ip = alpha * h[i] @ h[j]
        weight = S.size / n_similar if S[i, j] else S.size / n_dissimilar
        weighted += weight * (math.log(1 + math.exp(ip)) - S[i, j] * ip)
    expected = weighted / S.size
    outputs = outputs_of(z, steps=torch.tensor(steps))
    terms = fitted(HashNet, n_bits=k)._loss(outputs, batch_of(Y))
    assert math.isclose(total(terms), expected, rel_tol=1e-4)


def test_hashnet_balanced_loss_with_one_kind_of_pair():
    h = torch.tensor([[0.5, -0.5], [0.2, 0.1]])
    S = torch.ones(2, 2)  # no dissimilar pair: the similar pairs' mean alone
    expected = L.pairwise_likelihood_loss(h, h, S, scale=1.0)
    assert torch.isclose(L.pairwise_likelihood_loss(h, h, S, scale=1.0, balanced=True), expected)


@settings(max_examples=25, deadline=None)
@given(seed=SEEDS, multilabel=st.booleans())
def test_csq_loss_is_the_papers_central_similarity_and_quantization(seed, multilabel):
    z, Y = random_problem(seed, n=5, k=8, n_classes=4, multilabel=multilabel)
    n, k = z.shape
    rng = np.random.default_rng(seed + 1)
    centers = rng.choice([-1.0, 1.0], size=(Y.shape[1], k))
    tie = rng.choice([-1.0, 1.0], size=k)
    lam = 0.01
    h = np.tanh(z)
    central = 0.0
    for i in range(n):
        vote = sum(centers[c] for c in range(Y.shape[1]) if Y[i, c])
        for b in range(k):
            vote_b = vote[b] if np.ndim(vote) else 0.0
            t = 1.0 if vote_b > 0 else -1.0 if vote_b < 0 else tie[b]
            p, target = (1 + h[i, b]) / 2, (1 + t) / 2
            central -= target * math.log(p) + (1 - target) * math.log(1 - p)
    quantization = np.mean((np.abs(h) - 1) ** 2)
    expected = central / (n * k) + lam * quantization
    outputs = outputs_of(
        z,
        centers=torch.tensor(centers, dtype=torch.float32),
        tie_break=torch.tensor(tie, dtype=torch.float32),
    )
    terms = fitted(CSQ, n_bits=k, quantization_weight=lam)._loss(outputs, batch_of(Y))
    assert math.isclose(total(terms), expected, rel_tol=1e-4)


@settings(max_examples=25, deadline=None)
@given(seed=SEEDS)
def test_greedyhash_loss_and_straight_through_gradient(seed):
    h, Y = random_problem(seed, n=6, k=5, n_classes=3)
    n, k = h.shape
    rng = np.random.default_rng(seed + 1)
    W = rng.normal(size=(3, k))  # the classifier, no bias
    alpha = 0.1
    cross_entropy = 0.0
    for i in range(n):
        logits = W @ np.sign(h[i])
        c = int(Y[i].argmax())
        cross_entropy -= logits[c] - math.log(np.exp(logits).sum())
    penalty = sum(abs(h[i, b] - np.sign(h[i, b])) ** 3 for i in range(n) for b in range(k))
    expected = cross_entropy / n + alpha * penalty / (n * k)

    net = _GreedyHashHead(k, k, 3)
    net.hash = torch.nn.Identity()  # the codes are the inputs
    net.classifier.weight.data = torch.tensor(W, dtype=torch.float32)
    codes = torch.tensor(h, dtype=torch.float32, requires_grad=True)
    outputs = net(codes)
    terms = fitted(GreedyHash, n_bits=k)._loss(outputs, batch_of(Y))
    assert math.isclose(total(terms), expected, rel_tol=1e-4)
    # Straight through: the gradient reaching h is the one reaching sign(h) (plus the penalty's).
    outputs["binary"].retain_grad()
    terms["classification"].backward()
    assert torch.allclose(codes.grad, outputs["binary"].grad)


@settings(max_examples=25, deadline=None)
@given(seed=SEEDS, multilabel=st.booleans())
def test_orthohash_loss_is_the_papers_margin_cross_entropy(seed, multilabel):
    v, Y = random_problem(seed, n=6, k=8, n_classes=4, multilabel=multilabel)
    n, k = v.shape
    codebook = np.random.default_rng(seed + 1).choice([-1.0, 1.0], size=(4, k))
    s, m = 8.0, 0.3
    expected = 0.0
    for i in range(n):
        logits = np.array(
            [
                s * (v[i] @ codebook[c] / np.linalg.norm(v[i]) / np.linalg.norm(codebook[c]))
                - s * m * Y[i, c]
                for c in range(4)
            ]
        )
        log_softmax = logits - math.log(np.exp(logits).sum())
        if Y[i].sum():
            expected -= sum(Y[i, c] / Y[i].sum() * log_softmax[c] for c in range(4))
    expected /= n
    outputs = outputs_of(v, centers=torch.tensor(codebook, dtype=torch.float32))
    terms = fitted(OrthoHash, n_bits=k, scale=s, margin=m)._loss(outputs, batch_of(Y))
    assert math.isclose(total(terms), expected, rel_tol=1e-4, abs_tol=1e-6)


@settings(max_examples=25, deadline=None)
@given(seed=SEEDS, n=st.integers(1, 9), gamma=st.floats(0, 10))
def test_bi_half_layer_splits_every_bit_at_the_median(seed, n, gamma):
    rng = np.random.default_rng(seed)
    h = torch.tensor(rng.normal(size=(n, 5)), dtype=torch.float32, requires_grad=True)
    b = L.bi_half_sign(h, gamma)
    for bit in range(5):
        column = h[:, bit].detach().numpy()
        top = set(np.argsort(-column, kind="stable")[: n // 2])
        assert [i for i in range(n) if b[i, bit] > 0] == sorted(top)
    assert (b.sum(dim=0) == (n // 2) - (n - n // 2)).all()  # n // 2 ones in every bit
    grad = torch.tensor(rng.normal(size=(n, 5)), dtype=torch.float32)
    b.backward(grad)
    expected = grad + gamma * (h.detach() - b.detach()) / h.numel()  # the paper's Eq. 9
    assert torch.allclose(h.grad, expected, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(seed=SEEDS, n=st.integers(2, 7))
def test_similarity_preservation_loss_over_distinct_pairs(seed, n):
    rng = np.random.default_rng(seed)
    b, x = rng.choice([-1.0, 1.0], size=(n, 6)), rng.normal(size=(n, 2, 3))

    def cos(a, c):
        return a @ c / np.linalg.norm(a) / np.linalg.norm(c)

    pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
    expected = np.mean(
        [(cos(b[i], b[j]) - cos(x[i].ravel(), x[j].ravel())) ** 2 for i, j in pairs]
    )
    loss = L.similarity_preservation_loss(torch.tensor(b), torch.tensor(x))
    assert math.isclose(float(loss), expected, rel_tol=1e-6)
    assert float(L.similarity_preservation_loss(torch.ones(1, 6), torch.ones(1, 6))) == 0


def test_quantization_loss_powers():
    u = torch.tensor([[0.5, -2.0]])
    assert float(L.quantization_loss(u, p=1)) == (0.5 + 1.0) / 2
    assert float(L.quantization_loss(u)) == (0.25 + 1.0) / 2
    assert float(L.quantization_loss(u, p=3)) == (0.125 + 1.0) / 2


def test_pairwise_margin_loss_euclidean_distance_and_errors():
    a, b = torch.tensor([[1.0, 1, 1, 1]]), torch.tensor([[-1.0, -1, -1, -1]])
    # On binary codes ||a - b||^2 / 4 is the Hamming distance: the two distances agree.
    for S in (torch.ones(1, 1), torch.zeros(1, 1)):
        hamming = L.pairwise_margin_loss(a, b, S)
        assert L.pairwise_margin_loss(a, b, S, distance="euclidean") == hamming
    with pytest.raises(ValueError, match="distance"):
        L.pairwise_margin_loss(a, b, torch.ones(1, 1), distance="cosine")
    # The Euclidean form has a gradient at zero distance (the diagonal of a batch).
    u = torch.tensor([[0.3, -0.2]], requires_grad=True)
    L.pairwise_margin_loss(u, u, torch.zeros(1, 1), distance="euclidean").backward()
    assert torch.isfinite(u.grad).all()


# -- the two anchor defects (issue 13) ------------------------------------------------------
def hamming(a, b):
    return int((a != b).sum())


def test_two_label_targets_are_not_pulled_to_class_zero():
    # Ties towards +1 made every two-label target as close to the class of the all-ones
    # Hadamard row as to its own classes: 105 of the 105 label pairs of 15 classes at 16 bits.
    n_classes, n_bits = 2 * 16, 16  # every Hadamard code, the all-ones row among them
    generator = torch.Generator().manual_seed(0)
    centers = L.hash_centers(n_classes, n_bits, generator)
    tie_break = L.random_signs((n_bits,), generator)
    ones = [c for c in range(n_classes) if (centers[c] == 1).all()]
    assert len(ones) == 1  # the all-ones row is one class's centre
    zero = ones[0]

    def as_close_to_class_zero(target, a, c):
        own = (hamming(target, centers[a]) + hamming(target, centers[c])) / 2
        return hamming(target, centers[zero]) <= own

    others = [c for c in range(n_classes) if c != zero and not (centers[c] == -1).all()]
    # antipodal classes (a +/- pair) have no code between them: left out
    pairs = [
        (a, c)
        for a, c in itertools.combinations(others, 2)
        if not torch.equal(centers[a], -centers[c])
    ]
    targets = {}
    for a, c in pairs:
        Y = torch.zeros(1, n_classes)
        Y[0, [a, c]] = 1
        targets[a, c] = L.center_targets(Y, centers, tie_break)[0]
    assert not any(as_close_to_class_zero(targets[a, c], a, c) for a, c in pairs)
    # The old rule (ties to +1) on the same centres: the test tells the two rules apart.
    old = {(a, c): torch.where(centers[a] + centers[c] >= 0, 1.0, -1.0) for a, c in pairs}
    assert all(as_close_to_class_zero(old[a, c], a, c) for a, c in pairs)


def test_unlabelled_item_gets_the_tie_break_code_not_class_zero():
    centers = L.hash_centers(10, 16)
    tie_break = L.random_signs((16,), torch.Generator().manual_seed(3))
    target = L.center_targets(torch.zeros(1, 10), centers, tie_break)[0]
    assert torch.equal(target, tie_break)
    assert not torch.equal(target, centers[0])
    # Without a code of the fit's own, a fixed random one (still not class 0's centre).
    default = L.center_targets(torch.zeros(1, 10), centers)[0]
    assert set(default.tolist()) == {-1.0, 1.0} and not torch.equal(default, centers[0])
    # A single label gives its centre exactly, whatever the tie-break code.
    one_hot = torch.eye(10)
    assert torch.equal(L.center_targets(one_hot, centers, tie_break), centers)


@pytest.mark.parametrize(
    ("n_classes", "n_bits"), [(10, 12), (3, 12), (40, 16), (100, 16), (21, 24), (80, 48)]
)
def test_random_centres_keep_a_quarter_of_the_bits_apart(n_classes, n_bits):
    # Before: 10 classes at 12 bits drew codes with no minimum distance (two 1 bit apart).
    for seed in range(3):
        C = L.hash_centers(n_classes, n_bits, torch.Generator().manual_seed(seed))
        assert C.shape == (n_classes, n_bits) and set(C.unique().tolist()) == {-1.0, 1.0}
        distance = (n_bits - C @ C.T) / 2
        assert distance[~torch.eye(n_classes, dtype=bool)].min() >= math.ceil(n_bits / 4)


def test_hadamard_centres_first_and_a_warning_when_no_spacing_exists():
    C = L.hash_centers(20, 8, torch.Generator().manual_seed(0))  # 16 Hadamard rows, 4 random
    H = torch.tensor(__import__("scipy").linalg.hadamard(8)).float()
    # the rows, some negated so that every bit splits the centres (issue 19), then negations
    assert torch.equal(C[:8].abs() @ H.abs().T, 8 * torch.ones(8, 8))  # a +/-1 matrix
    assert torch.equal((C[:8] @ H.T).abs(), 8 * torch.eye(8))  # row i is +/- H[i]
    assert torch.equal(C[8:16], -C[:8])
    with pytest.warns(UserWarning, match="closest two class centres are 0 bit"):
        L.hash_centers(10, 3, torch.Generator().manual_seed(0))  # 8 codes of 3 bits exist


def test_csq_keeps_its_centres_and_tie_break_code_in_the_pickle(digits):
    X, y = digits
    Y = np.stack([y % 2 == 0, y < 5, y == 7], axis=1).astype(int)  # multi-label
    hasher = CSQ(random_state=0, **{**FAST, "n_bits": 12}).fit(X, Y)
    net = hasher.module_.heads[0]
    assert net.centers.shape == (3, 12) and net.tie_break.shape == (12,)
    distance = (12 - net.centers @ net.centers.T) / 2
    assert distance[~torch.eye(3, dtype=bool)].min() >= 3
    other = CSQ(random_state=1, **{**FAST, "n_bits": 12}).fit(X, Y)
    assert not torch.equal(other.module_.heads[0].tie_break, net.tie_break)  # drawn from the fit
    loaded = pickle.loads(pickle.dumps(hasher))
    assert torch.equal(loaded.module_.heads[0].tie_break, net.tie_break)
    assert torch.equal(loaded.module_.heads[0].centers, net.centers)
    np.testing.assert_array_equal(loaded.transform(X[:20]), hasher.transform(X[:20]))


# -- the estimators -------------------------------------------------------------------------
LOSS_TERMS = {
    DPSH: {"pairwise", "quantization"},
    DSH: {"contrastive", "regularization"},
    HashNet: {"pairwise"},
    CSQ: {"central", "quantization"},
    GreedyHash: {"classification", "penalty"},
    OrthoHash: {"cosine"},
    BiHalf: {"reconstruction"},
}


@pytest.mark.parametrize("cls", list(LOSS_TERMS), ids=lambda c: c.__name__)
def test_fits_encodes_and_searches(cls, digits):
    X, y = digits
    hasher = cls(random_state=0, **FAST).fit(X, y)
    again = cls(random_state=0, **FAST).fit(X, y)
    codes = hasher.transform(X[:10])
    np.testing.assert_array_equal(again.transform(X[:10]), codes)  # seeded: reproducible
    assert codes.shape == (10, 8) and set(np.unique(codes)) <= {0, 1}
    assert LOSS_TERMS[cls] | {"train_loss"} <= set(hasher.history_[-1])
    dist, ind = hasher.kneighbors(X[:5], n_neighbors=3)
    assert dist.shape == ind.shape == (5, 3)
    assert 0 <= hasher.score(X[:40], y[:40]) <= 1


@pytest.mark.parametrize("cls", SUPERVISED, ids=lambda c: c.__name__)
def test_supervised_baselines_take_multilabel_targets(cls, digits):
    X, y = digits
    Y = np.stack([y % 2 == 0, y < 5, y == 7], axis=1).astype(int)
    hasher = cls(random_state=0, **FAST).fit(X, Y)
    assert np.isfinite(hasher.history_[-1]["train_loss"])
    assert 0 <= hasher.score(X[:40], Y[:40]) <= 1


@pytest.mark.parametrize("cls", SUPERVISED, ids=lambda c: c.__name__)
def test_supervised_baselines_need_labels(cls, digits):
    X, _ = digits
    with pytest.raises(ValueError, match="requires y"):
        cls(**FAST).fit(X)


@pytest.mark.parametrize("cls", list(LOSS_TERMS), ids=lambda c: c.__name__)
def test_learn_on_digits(cls, digits):
    X, y = digits
    hasher = cls(random_state=0, **{**FAST, "n_bits": 16, "max_epochs": 8}).fit(X, y)
    losses = [r["train_loss"] for r in hasher.history_]
    assert losses[-1] < losses[0]
    chance = 0.1
    assert hasher.score(X, y) > (0.3 if cls is BiHalf else 0.5) > chance


def test_hashnet_counts_steps_and_warm_start_continues(digits):
    X, y = digits
    hasher = HashNet(random_state=0, **{**FAST, "max_epochs": 2}).fit(X, y)
    batches_per_epoch = math.ceil(len(X) / FAST["batch_size"])
    assert int(hasher.module_.heads[0].steps) == 2 * batches_per_epoch
    hasher.set_params(warm_start=True, max_epochs=1).fit(X, y)
    assert int(hasher.module_.heads[0].steps) == 3 * batches_per_epoch
    assert hasher._beta(hasher.module_.heads[0].steps) > 1  # the activation has sharpened
    assert HashNet(continuation_gamma=0)._beta(torch.tensor(1000)) == 1


def test_orthohash_codebook_and_batch_norm(digits):
    X, y = digits
    hasher = OrthoHash(random_state=0, **FAST).fit(X, y)
    net = hasher.module_.heads[0]
    assert net.hash.bias is None and isinstance(net.norm, torch.nn.BatchNorm1d)
    codebook = net.centers
    assert codebook.shape == (10, 8)
    assert (codebook @ codebook.T)[~torch.eye(10, dtype=bool)].abs().max() <= 8  # distinct
    assert torch.equal(codebook[:8] @ codebook[:8].T, 8 * torch.eye(8))  # orthogonal rows
    plus = (codebook > 0).sum(dim=0)
    assert plus.min() >= 1 and plus.max() <= 9  # every bit splits the classes (issue 19)


def test_bihalf_is_unsupervised_and_balances_its_bits(digits):
    X, y = digits
    hasher = BiHalf(random_state=0, **FAST).fit(X)  # no labels needed
    labelled = BiHalf(random_state=0, **FAST).fit(X, y)  # y labels the database only
    np.testing.assert_array_equal(labelled.transform(X[:10]), hasher.transform(X[:10]))
    assert hasher.database_labels_ is None
    assert 0 <= labelled.score(X[:40], y[:40]) <= 1
    net = copy.deepcopy(hasher.module_).train()  # a copy: training mode updates batch-norm
    with torch.no_grad():
        x = hasher._preprocessing(torch.as_tensor(X[:32, None]), "cpu")
        binary = net(x)["binary"]
    assert (binary.sum(dim=0) == 0).all()  # 16 of 32 items +1 in every bit


def test_bihalf_similarity_objective_needs_a_frozen_backbone(digits):
    X, _ = digits
    with pytest.raises(ValueError, match="freeze_backbone=True"):
        BiHalf(objective="similarity", **FAST).fit(X)
    hasher = BiHalf(objective="similarity", freeze_backbone=True, random_state=0, **FAST).fit(X)
    assert "similarity" in hasher.history_[-1]
    assert hasher.module_.decoder is None and hasher.module_.gamma == 6  # the paper's gamma
    assert BiHalf(**FAST).fit(X).module_.gamma == 1


def test_baselines_run_in_the_comparison(digits):
    X, y = digits
    for name in ("DPSH", "dsh", "HashNet", "CSQ", "GreedyHash", "OrthoHash", "BiHalf"):
        assert type(make_method(name, quick=True)).__name__.lower() == name.lower()
    protocol = RetrievalProtocol(n_query=20, n_train=100)
    result = compare(["CSQ", "BiHalf"], X, y, n_bits=8, protocol=protocol, quick=True)
    table = result.table
    assert set(table["method"]) == {"CSQ", "BiHalf"}
    assert (table["family"] == "deep").all()


# -- targets (slow; the figures are in docs/benchmarks.md) ----------------------------------
def digits_split():
    X, y = load_digits(return_X_y=True)
    perm = np.random.default_rng(0).permutation(len(X))
    return (X / 16).reshape(-1, 8, 8).astype(np.float32), X, y, perm[300:], perm[:300]


def hamming_distances(hasher, queries, database):
    a, b = hasher.transform(queries), hasher.transform(database)
    return (a[:, None, :] != b[None, :, :]).sum(axis=2)


@pytest.mark.slow
@pytest.mark.parametrize("cls", SUPERVISED, ids=lambda c: c.__name__)
def test_supervised_target_precision_at_10_on_digits(cls):
    images, _, y, db, q = digits_split()
    hasher = cls(n_bits=32, device="cpu", random_state=0).fit(images[db], y[db])
    distances = hamming_distances(hasher, images[q], images[db])
    assert precision_at_k(y[q], y[db], distances, 10, tie_aware=True) > 0.85


@pytest.mark.slow
def test_bihalf_target_beats_lsh_on_digits():
    images, X, y, db, q = digits_split()
    for n_bits in (16, 32, 64):
        bihalf = BiHalf(n_bits=n_bits, device="cpu", random_state=0).fit(images[db], y[db])
        lsh = LSH(n_bits=n_bits, random_state=0).fit(X[db], y[db])
        assert bihalf.score(images[q], y[q]) > lsh.score(X[q], y[q])
