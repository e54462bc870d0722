"""
===============================
Classic against deep hashing
===============================

Compare two classic hashers with a small deep one (DSBH, a 3-layer CNN trained with the
labels) on the 8x8 digits. The deep hasher trains for at most 15 epochs (about half a
minute on two CPU cores), choosing its epoch on a validation split of its training images.
"""

# %%
# Classic hashers see flat vectors, deep hashers see images: give
# :func:`~skhash.compare.compare` the images and it feeds each family what it needs.
import matplotlib.pyplot as plt

from skhash import DSBH
from skhash.compare import RetrievalProtocol, compare
from skhash.datasets import load_digits

X, y = load_digits(as_images=True, return_X_y=True)
X = X / 16.0  # pixels in [0, 1]

methods = {
    "LSH": "LSH",
    "ITQ": "ITQ",
    "DSBH": DSBH(max_epochs=15, batch_size=64, device="cpu"),
}
protocol = RetrievalProtocol(n_query=200, n_train=1000)
result = compare(methods, X, y, n_bits=(16, 32), protocol=protocol, random_state=0)
print(result.pretty_summary().to_string(index=False))

# %%
# DSBH learns from the labels and the classic hashers do not: its Hamming neighbours are of
# the query's class more often (compare the ``mAP`` and ``P@100`` columns above). It also
# takes far longer to fit (``fit (s)``: seconds against milliseconds). Its epoch was chosen
# on 10% of its training images held out for validation, never on the queries:
print(result.table[["method", "bits", "epochs_run", "best_epoch"]].dropna())

# %%
# mAP against the number of bits; the dotted line is the mAP of a random order.
fig = result.plot_map_vs_bits()

# %%
# Precision of the top ``k`` retrieved items:
fig = result.plot_precision_at_k()

# %%
# Precision-recall of Hamming-ball lookup (every item within radius ``r``, for
# ``r = 0 ... n_bits``), at 32 bits:
fig = result.plot_precision_recall(bits=32)
plt.show()
