"""Classic (shallow) hashers: random and learnt projections, quantization."""

from ._itq import ITQ
from ._kmeans_hashing import KMeansHashing
from ._lsh import LSH
from ._pca_hashing import PCAHashing
from ._spectral_hashing import SpectralHashing

__all__ = ["ITQ", "KMeansHashing", "LSH", "PCAHashing", "SpectralHashing"]
