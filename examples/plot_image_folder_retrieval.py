"""
==================================
Image retrieval from a folder
==================================

Index a folder of image files (one subfolder per class, as torchvision's ``ImageFolder``)
and show, for ten query images, their ten nearest neighbours in Hamming distance.

We first write a small folder of MNIST digits to a temporary directory, to stand in for
your own pictures.
"""

# %%
import os
import tempfile

import numpy as np
from PIL import Image

from skhash.datasets import load_mnist_5k

X, y = load_mnist_5k(as_images=True, return_X_y=True, shuffle=True, random_state=0)
root = tempfile.mkdtemp(prefix="skhash_images_")
for i, (image, label) in enumerate(zip(X[:1200], y[:1200], strict=True)):
    folder = os.path.join(root, f"digit_{label}")
    os.makedirs(folder, exist_ok=True)
    Image.fromarray(image.astype(np.uint8)).save(os.path.join(folder, f"{i:04d}.png"))
print(sorted(os.listdir(root)))

# %%
# Load the folder
# ---------------
from skhash.datasets import load_image_folder, make_retrieval_split

data = load_image_folder(root, image_size=(28, 28), color_mode="grayscale")
print(data.images.shape, data.target_names)

# %%
# Index and search
# ----------------
# ITQ on the raw pixels; swap in ``DSBH(...)`` to learn the codes from the labels.
from skhash import ITQ

split = make_retrieval_split(data.images, data.target, n_query=10, random_state=0)
flat = data.images.reshape(len(data.images), -1)
hasher = ITQ(n_bits=64, random_state=0).fit(
    flat[split.database_indices], data.target[split.database_indices]
)
dist, ind = hasher.kneighbors(flat[split.query_indices], n_neighbors=10)
print(f"mAP: {hasher.score(flat[split.query_indices], split.y_query):.3f}")

# %%
# The picture grid
# ----------------
# One row per query (left, framed) with its ten nearest database images; a red title marks
# a neighbour of another class, the numbers are Hamming distances.
import matplotlib.pyplot as plt

database_images = data.images[split.database_indices, 0]
database_labels = data.target[split.database_indices]
n_queries = len(split.query_indices)
fig, axes = plt.subplots(n_queries, 11, figsize=(11, 1.15 * n_queries))
for row, q in enumerate(split.query_indices):
    axes[row, 0].imshow(data.images[q, 0], cmap="gray")
    axes[row, 0].set_title("query", fontsize=8)
    for spine in axes[row, 0].spines.values():
        spine.set(color="tab:blue", linewidth=2)
    for col in range(10):
        j = ind[row, col]
        ax = axes[row, col + 1]
        ax.imshow(database_images[j], cmap="gray")
        same = database_labels[j] == data.target[q]
        ax.set_title(str(dist[row, col]), fontsize=8, color="black" if same else "red")
for ax in axes.ravel():
    ax.set(xticks=[], yticks=[])
fig.suptitle("Queries and their 10 nearest neighbours (64-bit ITQ)")
fig.tight_layout()
plt.show()

# %%
import shutil

shutil.rmtree(root)
