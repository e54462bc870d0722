"""
===============================
Classic against deep hashing
===============================

Compare two classic hashers with a small deep one (DSBH, a 3-layer CNN trained with the
labels) on the 8x8 digits. The deep hasher trains for three epochs only, to keep this
example under a minute on a CPU: longer trainings do better.
"""

# %%
# Classic hashers see flat vectors, deep hashers see images: give
# :func:`~skhash.compare.compare` the images and it feeds each family what it needs.
from skhash import DSBH
from skhash.compare import RetrievalProtocol, compare
from skhash.datasets import load_digits

X, y = load_digits(as_images=True, return_X_y=True)
X = X / 16.0  # pixels in [0, 1]

methods = {
    "LSH": "LSH",
    "ITQ": "ITQ",
    "DSBH": DSBH(max_epochs=3, batch_size=64, device="cpu"),
}
protocol = RetrievalProtocol(n_query=200, n_train=800)
result = compare(methods, X, y, n_bits=(16, 32), protocol=protocol, random_state=0)
print(result.pretty_summary().to_string(index=False))

# %%
# The supervised deep hasher learns from the labels, so its Hamming neighbours are far more
# often of the right class; it also takes far longer to fit (``fit (s)``). Classic hashers
# are unsupervised and fit in milliseconds.
fig = result.plot_map_vs_bits()

# %%
# Precision of the top ``k`` retrieved items, and precision-recall of Hamming-ball lookup
# (every item within radius ``r``, for ``r = 0 ... n_bits``):
fig = result.plot_precision_at_k()
fig = result.plot_precision_recall(bits=32)
