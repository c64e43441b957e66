import numpy as np
import pytest

from glassnet.data.encoding import OneHot, Vocabulary, one_hot, tokenize


def test_one_hot_rows_are_identity_rows():
    Y = one_hot(np.array([2, 0, 1, 2]), 3)
    assert Y.dtype == np.float32
    np.testing.assert_array_equal(Y, np.eye(3, dtype=np.float32)[[2, 0, 1, 2]])
    with pytest.raises(ValueError, match=r"y has label 3 outside the classes 0..2"):
        one_hot(np.array([0, 3]), 3)


def test_onehot_n_classes_round_trip():
    enc = OneHot(n_classes=4)
    y = np.array([3, 1, 0, 2, 1])
    Y = enc.transform(y)
    assert Y.shape == (5, 4) and Y.dtype == np.float32
    np.testing.assert_array_equal(Y, one_hot(y, 4))
    np.testing.assert_array_equal(enc.inverse_transform(Y), y)
    np.testing.assert_array_equal(enc.transform([3, 1]), Y[:2])
    with pytest.raises(ValueError, match=r"labels has label 4 outside the classes 0..3"):
        enc.transform(np.array([1, 4]))
    with pytest.raises(ValueError, match=r"label 7 is not one of the 4 classes \[0, 1, 2, 3\]"):
        enc.transform([0, 7])


def test_onehot_fit_on_hashable_labels():
    labels = ["cat", "dog", "cat", "bird"]
    enc = OneHot()
    Y = enc.fit_transform(labels)
    assert enc.classes_ == ["bird", "cat", "dog"] and enc.n_classes == 3
    np.testing.assert_array_equal(Y.argmax(axis=1), [1, 2, 1, 0])
    assert enc.inverse_transform(Y).tolist() == labels
    scores = np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]])
    assert enc.inverse_transform(scores).tolist() == ["cat", "bird"]
    with pytest.raises(ValueError, match=r"label 'fish' is not one of the 3 classes \['bird', 'cat', 'dog'"):
        enc.transform(["dog", "fish"])
    with pytest.raises(ValueError, match=r"Y must have 3 columns \(one per class\), got shape \(2, 4\)"):
        enc.inverse_transform(np.zeros((2, 4)))


def test_onehot_given_classes_keep_order_and_allow_tuples():
    enc = OneHot(classes=[(1, "a"), (0, "b")], dtype=np.float64)
    Y = enc.transform([(0, "b"), (1, "a")])
    assert Y.dtype == np.float64
    np.testing.assert_array_equal(Y, [[0, 1], [1, 0]])
    assert enc.inverse_transform(Y).tolist() == [(0, "b"), (1, "a")]


def test_onehot_errors():
    with pytest.raises(ValueError, match="has no classes yet"):
        OneHot().transform([0])
    with pytest.raises(ValueError, match="give n_classes or classes, not both"):
        OneHot(n_classes=2, classes=["a", "b"])
    with pytest.raises(ValueError, match="classes must be distinct, got 'a' twice"):
        OneHot(classes=["a", "b", "a"])
    with pytest.raises(ValueError, match="n_classes must be an integer >= 1, got 0"):
        OneHot(n_classes=0)


def test_tokenize():
    assert tokenize("I am human, aren't I?") == ["i", "am", "human", "aren't", "i"]
    assert tokenize("Hello World", lower=False) == ["Hello", "World"]


def test_vocabulary_encodes_each_word_as_a_vector_of_vocabulary_size():
    vocab = Vocabulary.from_corpus(["I am human.", "You are human too", "I am here"])
    assert len(vocab) == 7 and vocab.words[:3] == ["i", "am", "human"]
    M = vocab.encode("I am human")
    assert M.shape == (3, len(vocab)) and M.dtype == np.float32
    np.testing.assert_array_equal(M.sum(axis=1), 1)
    expected = [vocab.index("i"), vocab.index("AM"), vocab.index("human")]
    np.testing.assert_array_equal(M.argmax(axis=1), expected)
    assert vocab.decode(M) == "i am human"
    assert vocab.decode(vocab.encode("you are here too")) == "you are here too"
    assert "Human" in vocab and "robot" not in vocab and 3 not in vocab


def test_vocabulary_unknown_word():
    vocab = Vocabulary(["I", "am", "human"])
    with pytest.raises(ValueError, match="word 'robot' is not in the vocabulary of 3 words"):
        vocab.encode("I am robot")
    vocab = Vocabulary(["I", "am", "human"], unknown="<unk>")
    assert len(vocab) == 4 and vocab.words[0] == "<unk>"
    assert vocab.decode(vocab.encode("I am robot")) == "i am <unk>"


def test_vocabulary_errors():
    vocab = Vocabulary(["a", "b"], lower=False)
    assert "A" not in vocab
    with pytest.raises(ValueError, match=r"matrix must have 2 columns \(one per word\), got shape \(1, 3\)"):
        vocab.decode(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="texts must be a list of sentences, got a single str"):
        Vocabulary.from_corpus("one sentence")
    with pytest.raises(ValueError, match="words must be non-empty strings, got ''"):
        Vocabulary(["a", ""])
    assert Vocabulary.from_corpus(["a a b", "a c c"], min_count=2).words == ["a", "c"]


def test_onehot_rejects_unhashable_and_2d_labels():
    enc = OneHot(classes=["a", "b"])
    with pytest.raises(ValueError, match=r"label \['a'\] is not one of the 2 classes"):
        enc.transform([["a"]])
    with pytest.raises(ValueError, match=r"labels must be 1-D, got shape \(1, 2\)"):
        enc.transform(np.array([["a", "b"]]))
