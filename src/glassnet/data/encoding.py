"""One-hot encoding of class labels and of words over a vocabulary."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np

from glassnet._base.checks import as_array, as_float_array, check_labels


def one_hot(y: np.ndarray, n_classes: int, dtype: np.dtype | type = np.float32) -> np.ndarray:
    """Rows :math:`e_{y_i}` of the identity: ``Y[i, k] = 1`` if ``y[i] == k`` else 0, shape (n, n_classes).

    Examples
    --------
    >>> import glassnet as gn
    >>> gn.one_hot([0, 2, 1], 3)
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]], dtype=float32)
    """
    y = check_labels(y, n_classes)
    out = np.zeros((y.shape[0], n_classes), dtype=dtype)
    out[np.arange(y.shape[0]), y] = 1
    return out


def _class_table(classes: Sequence[Hashable]) -> dict[Hashable, int]:
    table: dict[Hashable, int] = {}
    for i, c in enumerate(classes):
        if c in table:
            raise ValueError(f"classes must be distinct, got {c!r} twice")
        table[c] = i
    return table


def _as_label_list(labels: Iterable[Hashable] | np.ndarray) -> list:
    if isinstance(labels, np.ndarray):
        if labels.ndim != 1:
            raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
        return labels.tolist()
    return list(labels)


def _label_array(classes: list) -> np.ndarray:
    """``classes`` as a 1-D array (numbers or strings where NumPy can, else objects) for fancy indexing."""
    arr = np.array(classes)
    if arr.shape != (len(classes),) or arr.dtype.kind not in "biufUS":
        arr = np.empty(len(classes), dtype=object)
        arr[:] = classes
    return arr


class OneHot:
    """One-hot encoder over a fixed list of classes ``c_0 .. c_{k-1}``: label ``c_j`` maps to ``e_j``.

    Give ``n_classes`` (classes 0..k-1), or ``classes`` (any distinct hashable labels, in that order), or call
    :meth:`fit` on labels (classes become the sorted distinct labels). ``transform`` gives (n, k) arrays of
    ``dtype``; ``inverse_transform`` maps each row back to ``c_{argmax_j Y_ij}``.
    """

    def __init__(
        self,
        n_classes: int | None = None,
        classes: Sequence[Hashable] | None = None,
        dtype: np.dtype | type = np.float32,
    ) -> None:
        if n_classes is not None and classes is not None:
            raise ValueError("give n_classes or classes, not both")
        self.dtype = dtype
        self.classes_: list | None = None
        if n_classes is not None:
            if isinstance(n_classes, bool) or not isinstance(n_classes, int | np.integer) or n_classes < 1:
                raise ValueError(f"n_classes must be an integer >= 1, got {n_classes!r}")
            self._set_classes(list(range(int(n_classes))))
        elif classes is not None:
            self._set_classes(_as_label_list(classes))

    def _set_classes(self, classes: list) -> None:
        if not classes:
            raise ValueError("classes must not be empty")
        self._table = _class_table(classes)
        self.classes_ = classes
        self._labels = _label_array(classes)
        # Classes 0..k-1 as plain ints take the vectorised path through one_hot.
        self._is_range = all(type(c) is int for c in classes) and classes == list(range(len(classes)))

    @property
    def n_classes(self) -> int:
        """Number of classes k."""
        self._check_fitted()
        return len(self.classes_)

    def _check_fitted(self) -> None:
        if self.classes_ is None:
            raise ValueError("OneHot has no classes yet: give n_classes or classes, or call fit(labels)")

    def fit(self, labels: Iterable[Hashable] | np.ndarray) -> OneHot:
        """Take the classes to be the distinct labels, sorted (in first-seen order if they do not sort)."""
        seen = list(dict.fromkeys(_as_label_list(labels)))
        try:
            seen = sorted(seen)
        except TypeError:
            pass
        self._set_classes(seen)
        return self

    def indices(self, labels: Iterable[Hashable] | np.ndarray) -> np.ndarray:
        """Class index ``j`` of each label (int64), or raise naming the first unknown label."""
        self._check_fitted()
        if self._is_range and isinstance(labels, np.ndarray) and labels.dtype.kind in "biuf":
            return check_labels(labels, len(self.classes_), name="labels")
        out = []
        for label in _as_label_list(labels):
            try:
                j = self._table.get(label)
            except TypeError:  # unhashable, so not a class
                j = None
            if j is None:
                k = len(self.classes_)
                raise ValueError(f"label {label!r} is not one of the {k} classes {self._shown()}")
            out.append(j)
        return np.array(out, dtype=np.int64)

    def _shown(self, limit: int = 10) -> str:
        head = ", ".join(repr(c) for c in self.classes_[:limit])
        return f"[{head}{', ...' if len(self.classes_) > limit else ''}]"

    def transform(self, labels: Iterable[Hashable] | np.ndarray) -> np.ndarray:
        """(n, k) matrix with ``Y[i, j] = 1`` if ``labels[i] == c_j`` else 0."""
        return one_hot(self.indices(labels), len(self.classes_), dtype=self.dtype)

    def fit_transform(self, labels: Iterable[Hashable] | np.ndarray) -> np.ndarray:
        """``fit(labels)`` then ``transform(labels)``."""
        return self.fit(labels).transform(labels)

    def inverse_transform(self, Y: np.ndarray) -> np.ndarray:
        """Labels ``c_{argmax_j Y_ij}`` for each row of an (n, k) matrix (one-hot or scores)."""
        self._check_fitted()
        Y = as_float_array(Y, "Y", dtype=np.float64, ndim=2)
        if Y.shape[1] != len(self.classes_):
            raise ValueError(f"Y must have {len(self.classes_)} columns (one per class), got shape {Y.shape}")
        return self._labels[np.argmax(Y, axis=1)]

    def __repr__(self) -> str:
        return f"OneHot(classes={self._shown() if self.classes_ is not None else None})"


_WORD = re.compile(r"\w+(?:'\w+)*")


def tokenize(text: str, lower: bool = True) -> list[str]:
    """Words of ``text``: letter, digit and underscore runs (inner apostrophes kept), no punctuation."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    return _WORD.findall(text.lower() if lower else text)


class Vocabulary:
    """Words ``w_0 .. w_{V-1}`` and their one-hot vectors: a sentence of n words becomes an (n, V) matrix.

    Words not in the vocabulary raise, unless ``unknown`` names a token (e.g. ``"<unk>"``) to map them to;
    that token is added as word 0 if absent. With ``lower``, words and sentences are lower-cased first.
    """

    def __init__(
        self,
        words: Iterable[str],
        unknown: str | None = None,
        lower: bool = True,
        dtype: np.dtype | type = np.float32,
    ) -> None:
        words = list(words)
        for w in words:
            if not isinstance(w, str) or not w:
                raise ValueError(f"words must be non-empty strings, got {w!r}")
        if unknown is not None and not isinstance(unknown, str):
            raise ValueError(f"unknown must be a token (str) or None, got {type(unknown).__name__}")
        self.lower, self.unknown, self.dtype = lower, unknown, dtype
        words = list(dict.fromkeys(w.lower() if lower else w for w in words))
        if unknown is not None and unknown not in words:
            words.insert(0, unknown)
        if not words:
            raise ValueError("a vocabulary needs at least one word, got none")
        self.words: list[str] = words
        self._index = {w: i for i, w in enumerate(words)}

    @classmethod
    def from_corpus(
        cls,
        texts: Iterable[str],
        lower: bool = True,
        min_count: int = 1,
        unknown: str | None = None,
        dtype: np.dtype | type = np.float32,
    ) -> Vocabulary:
        """Vocabulary of the words seen at least ``min_count`` times in ``texts``, most frequent first
        (ties in order of first appearance)."""
        if isinstance(texts, str):
            raise ValueError("texts must be a list of sentences, got a single str")
        counts = Counter(w for text in texts for w in tokenize(text, lower))
        words = [w for w, c in counts.most_common() if c >= min_count]
        return cls(words, unknown=unknown, lower=lower, dtype=dtype)

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and (word.lower() if self.lower else word) in self._index

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} words, unknown={self.unknown!r})"

    def index(self, word: str) -> int:
        """Position of ``word`` in the vocabulary (that of the unknown token for unseen words, if set)."""
        key = word.lower() if self.lower else word
        i = self._index.get(key)
        if i is None:
            if self.unknown is None:
                raise ValueError(
                    f"word {word!r} is not in the vocabulary of {len(self)} words; "
                    "build it with unknown='<unk>' to map unseen words to a token"
                )
            i = self._index[self.unknown]
        return i

    def ids(self, sentence: str) -> np.ndarray:
        """int64 index of each word of ``sentence``."""
        return np.array([self.index(w) for w in tokenize(sentence, self.lower)], dtype=np.int64)

    def encode(self, sentence: str) -> np.ndarray:
        """(n_words, V) one-hot matrix, row i = ``e_{index(word_i)}``."""
        return one_hot(self.ids(sentence), len(self), dtype=self.dtype)

    def decode(self, matrix: np.ndarray) -> str:
        """The sentence ``w_{argmax_j M_ij}`` for i = 1..n, words joined by spaces."""
        M = as_float_array(matrix, "matrix", dtype=np.float64, ndim=2)
        if M.shape[1] != len(self):
            raise ValueError(f"matrix must have {len(self)} columns (one per word), got shape {M.shape}")
        return " ".join(self.words[j] for j in np.argmax(M, axis=1))


def check_targets(Y: Any, n: int, shape: tuple[int, ...], dtype: np.dtype, name: str = "Y") -> np.ndarray:
    """Targets as a float array of ``n`` rows of ``shape``; integer labels are one-hot encoded."""
    Y = as_array(Y, name)
    n_out = shape[-1]
    if Y.ndim == 1 and Y.dtype.kind in "biu":
        if n_out == 1:
            check_labels(Y, 2, name)
            Y = Y[:, None]
        else:
            Y = one_hot(Y, n_out, dtype)
    elif Y.ndim == 1 and n_out == 1:
        Y = Y[:, None]
    Y = as_float_array(Y, name, dtype)
    if Y.shape[0] != n:
        raise ValueError(f"{name} must have {n} rows to match X, got {Y.shape[0]}")
    if Y.shape[1:] != shape:
        raise ValueError(f"{name} must have targets of shape {shape} (or integer labels), got {Y.shape[1:]}")
    return Y
