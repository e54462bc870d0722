"""
===========
Quick start
===========

Learn 32-bit codes for the 8x8 digits with iterative quantization (ITQ), search the
database by Hamming distance, score the retrieval, and compare a few hashers in one call.
"""

# %%
# Fit a hasher
# ------------
# A hasher is a scikit-learn transformer: ``fit`` learns the hash function *and* indexes
# the codes of its training data as the searchable database, like ``NearestNeighbors``.
from skhash import ITQ
from skhash.datasets import load_digits, make_retrieval_split

X, y = load_digits(return_X_y=True)
split = make_retrieval_split(X, y, n_query=100, random_state=0)

itq = ITQ(n_bits=32, random_state=0).fit(split.X_database, split.y_database)
codes = itq.transform(split.X_query)
print(codes.shape, codes.dtype, codes[0, :16])

# %%
# Search the database
# -------------------
# ``kneighbors`` returns Hamming distances and database indices, nearest first.
dist, ind = itq.kneighbors(split.X_query[:3], n_neighbors=5)
print("distances:\n", dist)
print("query labels:", split.y_query[:3])
print("labels of their neighbours:\n", split.y_database[ind])

# %%
# Score it
# --------
# ``score`` is the mean average precision (mAP) of the queries: an item is relevant when
# it shares the query's label. The :mod:`skhash.metrics` give the other usual measures.
from skhash.metrics import precision_at_k, precision_within_radius

distances = itq.hamming_distances(split.X_query)
print(f"mAP          {itq.score(split.X_query, split.y_query):.3f}")
print(f"precision@10 {precision_at_k(split.y_query, split.y_database, distances, k=10):.3f}")
print(f"P(r<=2)      {precision_within_radius(split.y_query, split.y_database, distances):.3f}")

# %%
# Compare hashers
# ---------------
# :func:`skhash.compare.compare` runs several methods at several code lengths under the
# query / training / database protocol of hashing papers and returns tidy tables.
from skhash.compare import compare

result = compare(["LSH", "PCAH", "ITQ"], X, y, n_bits=(8, 16, 32, 64), random_state=0)
print(result.pretty_summary().to_string(index=False))

# %%
# ITQ keeps improving with more bits; plain PCA hashing gets worse, because its extra bits
# come from low-variance directions.
fig = result.plot_map_vs_bits()

# %%
# Run as a script (``python examples/plot_quickstart.py``), this opens the figure.
import matplotlib.pyplot as plt

plt.show()
