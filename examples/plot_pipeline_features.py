"""
=======================================
Hashing your own features in a Pipeline
=======================================

Hashers take any numeric feature vectors: embeddings from a network, hand-made
descriptors, columns of a table. Put a scaler in front when the features have different
units, as you would for any distance-based method.
"""

# %%
# Features with very different scales: the 13 chemical measurements of the wine data set.
import numpy as np
from sklearn.datasets import load_wine
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skhash import ITQ

X, y = load_wine(return_X_y=True, as_frame=True)
print(X.describe().loc[["mean", "std"]].round(1).T.head(6))
X_db, X_query, y_db, y_query = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)

# %%
# Without scaling, the few features with large values ("proline", in the hundreds) take
# over the principal components and the codes ignore the rest.
raw = ITQ(n_bits=8, random_state=0).fit(X_db, y_db)
scaled = make_pipeline(StandardScaler(), ITQ(n_bits=8, random_state=0)).fit(X_db, y_db)
print(f"mAP without scaling: {raw.score(X_query, y_query):.3f}")
print(f"mAP with scaling:    {scaled.score(X_query, y_query):.3f}")

# %%
# The pipeline's ``transform`` gives the codes, with feature names ``bit0 ... bit7``; its
# last step searches the database of the training codes.
codes = scaled.transform(X_query.iloc[:3])
print(scaled.get_feature_names_out(), codes, sep="\n")
hasher = scaled[-1]
dist, ind = hasher.kneighbors(scaled[:-1].transform(X_query.iloc[:3]), n_neighbors=5)
print("query classes:", y_query.iloc[:3].tolist())
print("neighbour classes:\n", np.asarray(y_db)[ind])

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6, 2.5))
ax.imshow(scaled.transform(X_query.sort_index())[:40].T, cmap="gray_r", aspect="auto")
ax.set(xlabel="query", ylabel="bit", title="8-bit codes of 40 wines")
fig.tight_layout()
plt.show()
