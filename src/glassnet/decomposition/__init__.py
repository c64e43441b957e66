"""Dimension reduction through the (truncated) SVD: PCA, truncated SVD (LSA) and randomized SVD (``svd``), and
Fisher's linear discriminant analysis (``lda``), the one of them that uses the labels.
"""

from glassnet.decomposition.lda import LDA
from glassnet.decomposition.svd import PCA, TruncatedSVD, randomized_svd

__all__ = ["LDA", "PCA", "TruncatedSVD", "randomized_svd"]
