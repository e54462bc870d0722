"""
=================================================
Choosing the method and the code length by search
=================================================

Hashers are scikit-learn estimators whose ``score`` is the mean average precision of
the validation part against the training part (the database). ``GridSearchCV`` can thus
pick the method and the number of bits with no ``scoring`` argument.
"""

# %%
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler

from skhash import ITQ, LSH, PCAHashing, SpectralHashing
from skhash.datasets import load_digits

X, y = load_digits(return_X_y=True)

pipe = Pipeline([("scale", MinMaxScaler()), ("hasher", ITQ())])
param_grid = {
    "hasher": [LSH(random_state=0), PCAHashing(), ITQ(random_state=0), SpectralHashing()],
    "hasher__n_bits": [8, 16, 32],
}
search = GridSearchCV(pipe, param_grid, cv=StratifiedKFold(3, shuffle=True, random_state=0))
search.fit(X, y)
print("best:", search.best_params_, f"mAP {search.best_score_:.3f}")

# %%
# The results as a table: one row per (method, bits).
import pandas as pd

results = pd.DataFrame(search.cv_results_)
results["method"] = [type(h).__name__ for h in results["param_hasher"]]
table = results.pivot_table(
    index="method", columns="param_hasher__n_bits", values="mean_test_score"
)
print(table.round(3))

# %%
# Other measures, such as mAP of the top 100 or precision of the top 10, come from
# :func:`skhash.metrics.get_retrieval_scorer`:
from skhash.metrics import get_retrieval_scorer

search_p10 = GridSearchCV(
    pipe,
    {"hasher": [ITQ(random_state=0)], "hasher__n_bits": [16, 32]},
    scoring=get_retrieval_scorer("precision@10"),
    cv=3,
).fit(X, y)
print("precision@10:", search_p10.cv_results_["mean_test_score"].round(3))

# %%
# Cross-validated mAP against the number of bits. The code lengths double from one to the
# next, so the axis is in powers of two; the legend sits outside the axes, clear of the lines.
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(7, 4))
for method, row in table.iterrows():
    ax.plot(row.index, row.values, marker="o", label=method)
ax.set_xscale("log", base=2)
ax.set_xticks([8, 16, 32], ["8", "16", "32"])
ax.minorticks_off()
ax.set(xlabel="bits", ylabel="cross-validated mAP", title="GridSearchCV results")
ax.grid(alpha=0.3)
ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
fig.tight_layout()
plt.show()
