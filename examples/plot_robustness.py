"""
==========================================
Robustness to perturbed queries
==========================================

Queries in the wild are noisy, rotated, cropped, brighter, compressed, blurred or mirrored
copies of database images. How much retrieval quality does each hasher lose?
:func:`skhash.compare.robustness` fits each method on clean images, perturbs the queries at
set strengths (:data:`skhash.compare.PERTURBATIONS`, the edits of the near-duplicate
benchmark) and reports the mAP drop.
"""

# %%
from skhash.compare import RetrievalProtocol, perturb, robustness
from skhash.datasets import load_digits

X, y = load_digits(as_images=True, return_X_y=True)
X = X / 16.0

# %%
# The perturbations, on one digit:
import matplotlib.pyplot as plt

settings = [("noise", 0.2), ("rotation", 30), ("crop", 0.3), ("brightness", 0.3)]
fig, axes = plt.subplots(1, 5, figsize=(8, 2))
axes[0].imshow(X[0], cmap="gray", vmin=0, vmax=1)
axes[0].set_title("original", fontsize=9)
for ax, (kind, strength) in zip(axes[1:], settings, strict=True):
    ax.imshow(perturb(X[:1], kind, strength, random_state=0)[0], cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"{kind} {strength}", fontsize=9)
for ax in axes:
    ax.set(xticks=[], yticks=[])
fig.tight_layout()

# %%
# The mAP drop of four classic hashers at 32 bits:
drops = robustness(
    ["LSH", "PCAH", "ITQ", "SH"],
    X,
    y,
    n_bits=32,
    protocol=RetrievalProtocol(n_query=200, n_train=1000),
    random_state=0,
)
table = drops.pivot_table(
    index="method", columns=["perturbation", "strength"], values="mAP_drop", sort=False
)
print(table.round(3).T)

# %%
# The drop against the strength of each perturbation (higher is worse; 0 is no loss):
groups = drops.groupby("perturbation", sort=False)
fig, axes = plt.subplots(2, (len(groups) + 1) // 2, figsize=(15, 6), sharey=True, squeeze=False)
axes = axes.ravel()
for ax in axes[len(groups) :]:
    ax.set_visible(False)
for ax, (kind, group) in zip(axes[: len(groups)], groups, strict=True):
    for method, rows in group.groupby("method", sort=False):
        ax.plot(rows["strength"], rows["mAP_drop"], marker="o", label=method)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set(title=kind, xlabel="strength")
    ax.grid(alpha=0.3)
axes[0].set_ylabel("mAP drop (clean - perturbed)")
axes[len(groups) - 1].legend(fontsize="small")
fig.tight_layout()
plt.show()
