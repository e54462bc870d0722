"""What the classic hashers share: dense or sparse input."""

import numpy as np
from sklearn.utils.validation import validate_data

from ..base import BaseHasher, check_numeric_dtype
from ..utils.interrupt import in_row_slices


class ClassicHasher(BaseHasher):
    """Base of the classic hashers: 2-D float input, dense or sparse (converted to CSR).

    Every classic hasher only reads its input through a centred linear projection
    (:func:`~skhash.classic._pca_utils.project`) and, when it learns one, a principal
    component analysis that centres sparse data implicitly
    (:func:`~skhash.classic._pca_utils.fit_pca`), so sparse input gives the codes of its
    dense equivalent without ever being densified.
    """

    # Encoding and embedding go through the rows in slices of bounded size: memory stays
    # bounded (no full embedding behind the codes) and Ctrl-C is answered between slices.
    def _slice_width(self, X):
        return max(X.shape[1], self.index_.n_bits_ if hasattr(self, "index_") else 0, 1)

    def _encode(self, X):
        encode = super()._encode
        return in_row_slices(encode, X, n_columns=self._slice_width(X))

    def _embed_rows(self, X, layer="hash"):
        return in_row_slices(
            lambda rows: self._embed(rows, layer=layer), X, n_columns=self._slice_width(X)
        )

    def _validate_input(self, X, *, reset):
        check_numeric_dtype(X)
        return validate_data(
            self,
            X,
            reset=reset,
            accept_sparse="csr",
            dtype=[np.float64, np.float32],
            ensure_min_samples=1,
        )

    def _restore_attributes(self, attributes, archive):
        from .._persistence import FileFormatError

        super()._restore_attributes(attributes, archive)
        n_features = getattr(self, "n_features_in_", None)
        for name in ("mean_", "components_"):
            value = getattr(self, name, None)
            if value is not None and np.shape(value)[-1] != n_features:
                raise FileFormatError(
                    f"{archive.path}: {name} has shape {np.shape(value)} for "
                    f"n_features_in_={n_features}: damaged file."
                )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
