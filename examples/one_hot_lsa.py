"""One-hot word vectors versus latent semantic analysis (LSA) on a tiny corpus.

A one-hot vector spends one float per vocabulary word on every token, so the encoded corpus costs
``n_tokens x V`` floats. LSA factorises the (log-scaled) word-by-sentence count matrix
``C ~ U_k diag(s_k) V_k^T`` with a truncated SVD and keeps the k-dimensional word vectors ``U_k diag(s_k)``:
``n_tokens x k`` floats, and words used in the same sentences end up close in cosine similarity.

Run: python examples/one_hot_lsa.py
"""

from __future__ import annotations

import numpy as np

from glassnet.data.encoding import Vocabulary, tokenize
from glassnet.decomposition import TruncatedSVD

CORPUS = [
    "The cat chased a mouse through the garden",
    "The dog chased the cat around the garden",
    "The cat and the dog drank warm milk",
    "The dog found a mouse near the milk bowl",
    "The king and the queen lived in the castle",
    "The queen wore a golden crown in the castle",
    "The king lost his crown in the old kingdom",
    "A prince and a queen ruled the kingdom",
    "The bank raised interest on the money it lends",
    "Investors moved money from the bank to the stock market",
    "The stock market fell and interest rates rose",
    "Stock prices rose when the bank cut interest",
    "The king kept his money in the bank",
    "The queen fed milk to her cat in the castle",
]
STOP_WORDS = set("the a and in to on it his her from when through near around".split())
K = 3
QUERIES = ["cat", "queen", "stock"]


def word_sentence_counts(vocab: Vocabulary, texts: list[str]) -> np.ndarray:
    """``C[w, d]`` = number of times word w occurs in sentence d."""
    C = np.zeros((len(vocab), len(texts)), dtype=np.float32)
    for d, text in enumerate(texts):
        np.add.at(C[:, d], vocab.ids(text), 1)
    return C


def nearest(word: str, vocab: Vocabulary, W: np.ndarray, n: int = 3) -> list[tuple[str, float]]:
    """The ``n`` words of highest cosine similarity ``cos(u, v) = u.v / (|u| |v|)`` to ``word``."""
    unit = W / np.linalg.norm(W, axis=1, keepdims=True)
    sims = unit @ unit[vocab.index(word)]
    order = [j for j in np.argsort(-sims, kind="stable") if vocab.words[j] != word][:n]
    return [(vocab.words[j], float(sims[j])) for j in order]


def main() -> None:
    sentences = [" ".join(w for w in tokenize(text) if w not in STOP_WORDS) for text in CORPUS]
    vocab = Vocabulary.from_corpus(sentences)
    one_hot_corpus = np.concatenate([vocab.encode(s) for s in sentences])  # (n_tokens, V)
    ids = np.concatenate([vocab.ids(s) for s in sentences])
    n_tokens, V = one_hot_corpus.shape

    lsa = TruncatedSVD(K, svd="full")
    W = lsa.fit_transform(np.log1p(word_sentence_counts(vocab, sentences)))  # (V, k) rows of U_k diag(s_k)
    latent_corpus = W[ids]  # (n_tokens, k)

    print(f"corpus: {len(CORPUS)} sentences, {n_tokens} content words (stop words dropped), V = {V}, k = {K}")
    kept = lsa.explained_variance_ratio_.sum()
    print(f"variance of log(1 + counts) kept by {K} LSA components: {kept:.0%}\n")
    rows = [
        ("one-hot tokens, float32", one_hot_corpus),
        ("word ids, int64", ids),
        ("LSA token vectors, float32", latent_corpus),
        ("LSA word table, float32", W),
    ]
    print(f"{'representation':<28}{'shape':>10}{'bytes':>9}{'bytes/token':>13}")
    for name, arr in rows:
        per = f"{arr.nbytes / n_tokens:.1f}" if arr.shape[0] == n_tokens else "once"
        print(f"{name:<28}{str(arr.shape):>10}{arr.nbytes:>9,}{per:>13}")
    print(f"\none-hot / LSA = V / k = {V / K:.1f}; with V = 50,000 words a one-hot float32 vector takes")
    print(f"{50_000 * 4:,} bytes, a k = 300 LSA vector {300 * 4:,} bytes\n")
    print("nearest words by cosine similarity in the LSA space:")
    for q in QUERIES:
        print(f"  {q:<6} " + ", ".join(f"{w} ({c:.2f})" for w, c in nearest(q, vocab, W)))
    a, b = W[vocab.index("cat")], W[vocab.index("stock")]
    print(f"  while cos(cat, stock) = {a @ b / np.linalg.norm(a) / np.linalg.norm(b):.2f}")


if __name__ == "__main__":
    main()
