import subprocess
import sys

import numpy as np
import pytest
from conftest import need

need("matplotlib")
Image = need("PIL.Image")

from glassnet import ACTIVATIONS, Dense, EarlyStopping, Maxout, Sequential, Sigmoid, plot  # noqa: E402
from glassnet.cli import main  # noqa: E402
from glassnet.commands.plot import write_training_plots  # noqa: E402
from glassnet.train.callbacks import History  # noqa: E402


# ----------------------------------------------------------------------------- helpers
def read_png(path, fig=None):
    """The PNG as an (h, w, 3) int array; checks it is not blank and has the figure's pixel size."""
    with Image.open(path) as img:
        assert img.format == "PNG"
        arr = np.asarray(img.convert("RGB")).astype(int)
    assert arr.std() > 0, "blank picture"
    if fig is not None:
        w, h = fig.get_size_inches() * fig.dpi
        assert abs(arr.shape[1] - w) <= 1 and abs(arr.shape[0] - h) <= 1
    return arr


def pixel(img, ax, x, y, coords="data"):
    """RGB of the saved picture at data (or axes-fraction) coordinates of ``ax``."""
    transform = ax.transData if coords == "data" else ax.transAxes
    px, py = transform.transform((x, y))
    return img[int(round(img.shape[0] - py)), int(round(px))]


def luminance(rgb):
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def is_red(rgb):
    return rgb[0] > rgb[2] + 40


def is_blue(rgb):
    return rgb[2] > rgb[0] + 40


def fitted_history():
    h = History()
    h.history = {"loss": [1.0, 0.6, 0.4, 0.3, 0.25], "val_loss": [1.1, 0.7, 0.5, 0.55, 0.6],
                 "accuracy": [0.5, 0.7, 0.8, 0.85, 0.9], "val_accuracy": [0.5, 0.6, 0.75, 0.7, 0.7],
                 "lr": [0.1] * 5}
    h.epoch = list(range(5))
    h.events = {"best_epoch": 2, "stopped_epoch": 4}
    return h


class Threshold:
    """A classifier with only ``predict``: P(class 1) = sigmoid(10 x1)."""

    def predict(self, X):
        return 1.0 / (1.0 + np.exp(-10.0 * X[:, 0]))


# ----------------------------------------------------------------------------- optional dependency
def test_importing_glassnet_and_glassnet_plot_does_not_import_matplotlib():
    code = ("import sys, glassnet, glassnet.plot, glassnet.commands.plot, glassnet.cli;"
            "glassnet.plot.confusion_counts([0, 1], [1, 1]);"
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_matplotlib_gives_a_one_line_install_hint(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'glassnet\[plot\]'") as err:
        plot.activation_functions(path=tmp_path / "a.png")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "a.png").exists()
    np.testing.assert_array_equal(plot.confusion_counts([0, 1], [1, 1]), [[0, 1], [0, 1]])


def test_figures_bypass_pyplot_and_path_none_writes_nothing(tmp_path, monkeypatch):
    from matplotlib import _pylab_helpers
    from matplotlib.figure import Figure

    monkeypatch.chdir(tmp_path)
    fig = plot.activation_functions(["relu"])
    assert isinstance(fig, Figure) and list(tmp_path.iterdir()) == []
    fig2 = plot.activation_functions(["tanh"], path=tmp_path / "sub" / "a.png")
    assert _pylab_helpers.Gcf.get_num_fig_managers() == 0
    fig2.savefig(tmp_path / "again.png")  # still usable after saving
    read_png(tmp_path / "sub" / "a.png", fig2)
    assert (tmp_path / "again.png").stat().st_size > 0
    assert "matplotlib.pyplot" not in sys.modules


# ----------------------------------------------------------------------------- confusion matrix
def test_confusion_counts_rows_true_columns_predicted():
    y_true = [0, 0, 1, 1, 2, 2, 2]
    y_pred = [0, 1, 1, 1, 2, 0, 2]
    expected = [[1, 1, 0], [0, 2, 0], [1, 0, 2]]
    C = plot.confusion_counts(y_true, y_pred)
    assert C.dtype == np.int64
    np.testing.assert_array_equal(C, expected)
    np.testing.assert_array_equal(plot.confusion_counts(y_true, y_pred, n_classes=4)[:3, :3], expected)
    assert plot.confusion_counts(y_true, y_pred, n_classes=4)[3].sum() == 0
    outputs = np.eye(3)[y_pred] * 0.8 + 0.05  # network outputs: argmax is taken
    np.testing.assert_array_equal(plot.confusion_counts(y_true, outputs), expected)
    np.testing.assert_array_equal(plot.confusion_counts([0, 1], [[0.2], [0.9]]), [[1, 0], [0, 1]])


@pytest.mark.parametrize("y_true, y_pred, n_classes, message", [
    ([0, 1, 2], [0, 1], None, "same length, got 3 and 2"),
    ([0, 1, 3], [0, 1, 1], 3, "label 3 outside the classes 0..2"),
    ([0, 1.5], [0, 1], None, "whole numbers"),
    ([0, -1], [0, 1], None, "labels >= 0, got -1"),
    ([0, 1], [0, 1], 0, "n_classes must be a positive whole number"),
])
def test_confusion_counts_rejects_bad_labels(y_true, y_pred, n_classes, message):
    with pytest.raises(ValueError, match=message):
        plot.confusion_counts(y_true, y_pred, n_classes)


def test_confusion_matrix_cell_colours_follow_the_counts(tmp_path):
    C = np.array([[9, 0, 2], [1, 4, 0], [0, 0, 1]])
    t = np.repeat(np.repeat(np.arange(3), 3), C.ravel())
    p = np.repeat(np.tile(np.arange(3), 3), C.ravel())
    fig = plot.confusion_matrix(t, p, path=tmp_path / "cm.png")
    img = read_png(tmp_path / "cm.png", fig)
    ax = fig.axes[0]
    lum = {(i, j): luminance(pixel(img, ax, j - 0.35, i - 0.35)) for i in range(3) for j in range(3)}
    order = sorted(lum, key=lambda ij: C[ij])
    for a, b in zip(order, order[1:], strict=False):
        if C[a] < C[b]:
            assert lum[a] > lum[b], f"cell {b} (count {C[b]}) should be darker than cell {a} (count {C[a]})"
        else:
            assert abs(lum[a] - lum[b]) < 3
    assert lum[(0, 1)] > 245  # zero counts are white
    texts = [t.get_text() for t in ax.texts]
    assert texts == [str(c) for c in C.ravel()]
    assert "accuracy 82.4%  (n = 17)" in ax.get_title()  # 14 of 17 on the diagonal


# ----------------------------------------------------------------------------- weights as images
def test_weight_tiles_red_for_positive_blue_for_negative_at_their_places(tmp_path):
    W = np.empty((16, 4))
    W[:, 0], W[:, 1], W[:, 2], W[:, 3] = 1.0, -1.0, -0.5, 2.0
    fig = plot.weights_as_images(W, shape=(4, 4), path=tmp_path / "w.png")
    img = read_png(tmp_path / "w.png", fig)
    ax = fig.axes[0]
    assert ax.images[0].get_clim() == (-2.0, 2.0)  # symmetric about zero
    assert len(ax.get_xticks()) == 0 and len(ax.get_yticks()) == 0
    tl, tr = pixel(img, ax, 0.2, 0.8, "axes"), pixel(img, ax, 0.8, 0.8, "axes")
    bl, br = pixel(img, ax, 0.2, 0.2, "axes"), pixel(img, ax, 0.8, 0.2, "axes")
    assert is_red(tl) and is_blue(tr) and is_blue(bl) and is_red(br)
    assert luminance(br) < luminance(tl)  # w = 2 is a deeper red than w = 1
    assert luminance(tr) < luminance(bl)  # w = -1 is a deeper blue than w = -0.5


def test_weight_tiles_from_a_model_a_transposed_matrix_and_max_tiles():
    model = Sequential([Dense(16, 5, "relu"), Dense(5, 2, "softmax")], seed=0)
    fig = plot.weights_as_images(model, shape=(4, 4), max_tiles=3)
    data = fig.axes[0].images[0].get_array()
    W = model.layers[0].W.value
    np.testing.assert_allclose(data[:4, :4], W[:, 0].reshape(4, 4), rtol=1e-6)
    np.testing.assert_allclose(data[:4, 5:9], W[:, 1].reshape(4, 4), rtol=1e-6)
    assert fig.axes[0].get_title() == "dense_1: weights into units 1-3 of 5"
    data_t = plot.weights_as_images(W.T, shape=(4, 4), max_tiles=3).axes[0].images[0].get_array()
    np.testing.assert_array_equal(data_t.filled(np.nan), data.filled(np.nan))
    with pytest.raises(ValueError, match="shape 28x28 needs 784 inputs per unit, got W of shape"):
        plot.weights_as_images(model)


def test_conv_filters_on_one_channel_show_as_kernel_tiles():
    K = np.arange(2 * 1 * 3 * 3, dtype=float).reshape(2, 1, 3, 3) - 8.5  # (C', C, kh, kw)
    fig = plot.weights_as_images(K)
    data = fig.axes[0].images[0].get_array()
    assert data.shape == (3, 3 + 1 + 3)
    np.testing.assert_array_equal(data[:, :3], K[0, 0])
    np.testing.assert_array_equal(data[:, 4:], K[1, 0])
    assert fig.axes[0].get_title() == "W: filters 1-2 of 2"
    with pytest.raises(ValueError, match="filters with 3 input channels"):
        plot.weights_as_images(np.zeros((2, 3, 3, 3)))


# ----------------------------------------------------------------------------- training curves
def test_training_curves_mark_the_early_stopping_best_epoch(tmp_path):
    h = fitted_history()
    fig = plot.training_curves(h, path=tmp_path / "c.png")
    read_png(tmp_path / "c.png", fig)
    loss_ax, acc_ax = fig.axes
    assert (loss_ax.get_title(), acc_ax.get_title()) == ("loss", "accuracy")
    stars = [ln for ln in loss_ax.lines if ln.get_marker() == "*"]
    assert len(stars) == 1
    assert stars[0].get_xdata()[0] == 3 and stars[0].get_ydata()[0] == 0.5  # epoch 3 (1-based), val_loss
    labels = loss_ax.get_legend_handles_labels()[1]
    assert labels == ["training", "validation", "best epoch 3"]
    assert fig.get_suptitle() == "early stopping at epoch 5, best epoch 3"
    h.history["lr"] = [0.1, 0.1, 0.05, 0.05, 0.01]
    assert [ax.get_title() for ax in plot.training_curves(h).axes][-1] == "learning rate eta"
    with pytest.raises(ValueError, match="history is empty"):
        plot.training_curves({})


def test_gradient_norms_one_log_line_per_layer_from_a_recorded_fit(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    model = Sequential([Dense(2, 8, "sigmoid"), Dense(8, 8, "sigmoid"), Dense(8, 1, "sigmoid")], seed=0)
    model.compile("binary_cross_entropy", "sgd")
    h = model.fit(X, y, epochs=3, batch_size=16, verbose=0, seed=0, record=["grad_norm"],
                  validation_split=0.25, callbacks=[EarlyStopping(patience=1)])
    fig = plot.gradient_norms(h, path=tmp_path / "g.png")
    read_png(tmp_path / "g.png", fig)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert [ln.get_label() for ln in ax.lines] == ["dense_1", "dense_2", "dense_3"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), h.history["grad_norm/dense_1"])
    plot.training_curves(h, path=tmp_path / "c.png")
    read_png(tmp_path / "c.png")
    h.history = {k: v for k, v in h.history.items() if not k.startswith("grad_norm")}
    with pytest.raises(ValueError, match=r"record=\['grad_norm'\]"):
        plot.gradient_norms(h)


# ----------------------------------------------------------------------------- decision boundaries
XY = np.array([[-1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [1.0, -1.0]])
LABELS = np.array([0, 1, 0, 1])


def test_decision_boundary_of_anything_with_predict_shades_by_probability(tmp_path):
    fig = plot.decision_boundary(Threshold(), XY, LABELS, path=tmp_path / "b.png", resolution=40)
    img = read_png(tmp_path / "b.png", fig)
    ax = fig.axes[0]
    assert is_blue(pixel(img, ax, -0.9, 0.0)) and is_red(pixel(img, ax, 0.9, 0.0))
    assert "100.0%" in ax.get_title()


def test_decision_boundary_of_a_glassnet_sigmoid_and_softmax_network():
    model = Sequential([Dense(2, 1, "sigmoid")], dtype=np.float64)
    model.set_weights([np.array([[10.0], [0.0]]), np.zeros(1)])
    probs = plot.class_probabilities(model, XY)
    np.testing.assert_allclose(probs[:, 1], 1 / (1 + np.exp(-10 * XY[:, 0])))
    fig = plot.decision_boundary(model, XY, LABELS, resolution=30)
    assert "100.0%" in fig.axes[0].get_title()
    soft = Sequential([Dense(2, 3, "softmax")], dtype=np.float64)
    soft.set_weights([np.array([[5.0, -5.0, 0.0], [0.0, 0.0, 5.0]]), np.zeros(3)])
    fig = plot.decision_boundary(soft, XY, np.array([1, 2, 1, 0]), resolution=30)
    assert "3 classes" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="y has labels up to 3 but the model predicts only 3 classes"):
        plot.decision_boundary(soft, XY, np.array([0, 1, 2, 3]), resolution=10)
    with pytest.raises(ValueError, match=r"X must hold 2-D points, shape \(n, 2\), got shape \(4, 3\)"):
        plot.decision_boundary(soft, np.zeros((4, 3)), LABELS)


def test_class_probabilities_from_labels_scores_and_predict_proba():
    class Labels:
        def predict(self, X):
            return (X[:, 0] > 0).astype(np.int64)

    class Proba:
        def predict_proba(self, X):
            return np.tile([0.2, 0.8], (len(X), 1))

    class Scores:
        def predict(self, X):
            return np.tile([0.0, np.log(3.0)], (len(X), 1)) - 2.0

    np.testing.assert_array_equal(plot.class_probabilities(Labels(), XY), np.eye(2)[[0, 1, 0, 1]])
    np.testing.assert_allclose(plot.class_probabilities(Proba(), XY), np.tile([0.2, 0.8], (4, 1)))
    np.testing.assert_allclose(plot.class_probabilities(Scores(), XY), np.tile([0.25, 0.75], (4, 1)))


def test_boundary_evolution_trains_once_and_writes_a_gif_or_a_grid(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((24, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)

    def build():
        return Sequential([Dense(2, 4, "tanh"), Dense(4, 1, "sigmoid")], seed=0).compile(
            "binary_cross_entropy", "adam")

    fig = plot.boundary_evolution(build, X, y, epochs=4, frames=3, resolution=16, path=tmp_path / "e.png",
                                  fit_kwargs={"batch_size": 8, "seed": 0})
    read_png(tmp_path / "e.png", fig)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert [t.split("  ")[0] for t in titles] == ["epoch 0", "epoch 2", "epoch 4"]
    model = build()
    before = model.get_weights()
    plot.boundary_evolution(model, X, y, epochs=4, frames=5, resolution=16, path=tmp_path / "e.gif", fps=2)
    assert len(model.history.epoch) == 4  # one fit of 4 epochs, in place
    assert not np.array_equal(before[0], model.get_weights()[0])
    with Image.open(tmp_path / "e.gif") as gif:
        assert gif.format == "GIF" and gif.is_animated
        assert gif.n_frames == 5  # snapshots at epochs 0, 1, 2, 3, 4
        first, first_ms = np.asarray(gif.convert("RGB")).astype(int), gif.info["duration"]
        gif.seek(4)
        last, last_ms = np.asarray(gif.convert("RGB")).astype(int), gif.info["duration"]
    assert first.std() > 0 and np.abs(first - last).sum() > 0
    assert first_ms == 500 and last_ms == 1000  # 2 frames a second, the last picture held a second


# ----------------------------------------------------------------------------- activations and diagrams
def test_activation_functions_beside_their_derivatives(tmp_path):
    fig = plot.activation_functions(path=tmp_path / "a.png")
    read_png(tmp_path / "a.png", fig)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 2 * (len(ACTIVATIONS) - 2) and not any("softmax" in t for t in titles)
    by_title = {ax.get_title(): ax for ax in fig.axes}
    d = by_title["sigmoid: f'(z)"].lines[0]
    assert abs(d.get_ydata().max() - 0.25) < 1e-3
    fig = plot.activation_functions(["softmax", "tanh"])
    f = {ax.get_title(): ax for ax in fig.axes}["softmax(z, 0)_1: f(z)"].lines[0]
    np.testing.assert_allclose(f.get_ydata(), 1 / (1 + np.exp(-f.get_xdata())), atol=1e-7)
    with pytest.raises(ValueError, match="unknown activation 'mish'"):
        plot.activation_functions(["mish"])


def test_network_diagram_edges_by_sign_and_activations_of_an_input(tmp_path):
    model = Sequential([Dense(2, 2), Sigmoid(), Dense(2, 1, "sigmoid")], dtype=np.float64)
    model.set_weights([np.array([[1.0, -2.0], [0.5, -0.25]]), np.array([0.0, 1.0]),
                       np.array([[3.0], [-1.0]]), np.array([0.5])])
    x = np.array([1.0, 2.0])
    fig = plot.network_diagram(model, x, path=tmp_path / "n.png")
    read_png(tmp_path / "n.png", fig)
    ax = fig.axes[0]
    edges = ax.collections[0]
    colours = edges.get_colors()[:, :3]
    expected_red = [True, False, True, False, True, False]  # W1 row-major, then W2
    assert [bool(c[0] > c[2]) for c in colours] == expected_red
    widths = edges.get_linewidths()
    assert widths[4] == max(widths) and widths[3] == min(widths)  # |3| largest, |-0.25| smallest
    h = 1 / (1 + np.exp(-(x @ model.layers[0].W.value + model.layers[0].b.value)))
    out = 1 / (1 + np.exp(-(h @ model.layers[2].W.value + 0.5)))
    texts = {t.get_text() for t in ax.texts}
    assert {f"{v:.2f}" for v in [*x, *h, *out]} <= texts
    assert "b=+1.00" in texts and "b=+0.50" in texts


def test_network_diagram_refuses_big_or_non_dense_networks():
    with pytest.raises(ValueError, match=r"at most 32 units a layer\), got layer sizes \[784, 10\]"):
        plot.network_diagram(Sequential([Dense(784, 10)]))
    with pytest.raises(ValueError, match="Dense layers only, got Maxout"):
        plot.network_diagram(Sequential([Maxout(2, 2), Dense(2, 1)]))
    with pytest.raises(ValueError, match="x must be one sample of 2 values, got 3"):
        plot.network_diagram(Sequential([Dense(2, 1)]), np.zeros(3))


# ----------------------------------------------------------------------------- digits and codes
def test_misclassified_shows_only_the_wrong_ones_titled_true_to_predicted(tmp_path):
    X = np.random.default_rng(0).random((6, 16))
    y_true = np.array([0, 1, 2, 3, 4, 5])
    y_pred = np.array([0, 2, 2, 1, 4, 0])
    fig = plot.misclassified(X, y_true, y_pred, shape=(4, 4), path=tmp_path / "m.png")
    read_png(tmp_path / "m.png", fig)
    shown = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in shown] == ["1 \u2192 2", "3 \u2192 1", "5 \u2192 0"]
    np.testing.assert_array_equal(shown[0].images[0].get_array(), X[1].reshape(4, 4))
    assert "3 of 6 misclassified" in fig.get_suptitle()
    assert len([ax for ax in plot.misclassified(X, y_true, y_pred, shape=(4, 4), max_images=2).axes
                if ax.images]) == 2
    fig = plot.misclassified(X, y_true, y_true, shape=(4, 4))
    assert "no misclassified samples among 6" in fig.texts[0].get_text()
    with pytest.raises(ValueError, match="same length"):
        plot.misclassified(X, y_true[:5], y_pred, shape=(4, 4))
    with pytest.raises(ValueError, match="images of 28x28 = 784 values each"):
        plot.misclassified(X, y_true, y_pred)


def test_autoencoder_pictures_and_codes(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((3, 9))
    fig = plot.autoencoder_pictures(x, x * 0.5, shape=(3, 3), path=tmp_path / "ae.png")
    read_png(tmp_path / "ae.png", fig)
    images = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(images) == 6
    np.testing.assert_array_equal(images[0], x[0].reshape(3, 3))  # originals on top
    np.testing.assert_array_equal(images[3], 0.5 * x[0].reshape(3, 3))  # reconstructions below
    assert fig.axes[3].get_title() == f"{np.mean((0.5 * x[0]) ** 2):.3f}"
    with pytest.raises(ValueError, match="same shape"):
        plot.autoencoder_pictures(x, x[:2], shape=(3, 3))
    Z = rng.standard_normal((30, 2))
    y = np.arange(30) % 3
    fig = plot.codes_2d(Z, y, path=tmp_path / "z.png")
    read_png(tmp_path / "z.png", fig)
    assert fig.axes[0].get_legend_handles_labels()[1] == ["0", "1", "2"]
    with pytest.raises(ValueError, match=r"shape \(n, 2\), got shape \(30, 3\)"):
        plot.codes_2d(rng.standard_normal((30, 3)), y)


def test_discriminants_lda_directions_patterns_and_projections_beside_pca(tmp_path):
    from glassnet.decomposition import LDA, PCA
    from glassnet.plot.discriminants import centroid_accuracy

    # three classes 4x4 apart along pixel 5 only, where the noise is small; most variance is elsewhere
    rng = np.random.default_rng(0)
    y = np.arange(240) % 3
    X = rng.standard_normal((240, 16)) * np.r_[np.full(5, 3.0), 0.2, np.full(10, 2.0)]
    X[:, 5] += y
    fig = plot.discriminants(X, y, shape=(4, 4), max_points=150, path=tmp_path / "lda.png")
    read_png(tmp_path / "lda.png", fig)
    lda, pca = LDA(n_components=2).fit(X, y), PCA(2, svd="full").fit(X)
    Xc = X - lda.means_[y]
    shown = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    expected = [*lda.scalings_.T, *(np.cov(Xc.T, bias=True) @ lda.scalings_).T, *pca.components_]
    assert len(shown) == 6
    for image, v in zip(shown, expected, strict=True):
        np.testing.assert_allclose(image, v.reshape(4, 4), rtol=1e-10, atol=1e-12)
    assert np.abs(lda.scalings_[:, 0]).argmax() == 5  # Fisher's first direction finds the separating pixel
    scatters = [ax for ax in fig.axes if ax.collections]
    assert len(scatters) == 2
    Z_lda, Z_pca = (np.vstack([c.get_offsets() for c in ax.collections]) for ax in scatters)
    assert Z_lda.shape == Z_pca.shape == (150, 2)
    order = np.concatenate([np.flatnonzero(y[:150] == c) for c in range(3)])  # one scatter per class
    np.testing.assert_allclose(Z_lda, lda.transform(X[:150])[order], atol=1e-10)
    np.testing.assert_allclose(Z_pca, pca.transform(X[:150])[order], atol=1e-10)
    lda_acc, pca_acc = centroid_accuracy(Z_lda, y[:150][order]), centroid_accuracy(Z_pca, y[:150][order])
    assert lda_acc > 0.95 and pca_acc < 0.6
    assert f"{100 * lda_acc:.1f}% nearest" in scatters[0].get_title()
    assert f"{100 * lda.explained_variance_ratio_[0]:.1f}% of between" in fig.axes[0].get_title()
    fig = plot.discriminants(X[:200], y[:200], shape=(4, 4), X_test=X[200:], y_test=y[200:])
    Z_held_out = np.vstack([c.get_offsets() for c in fig.axes[6].collections])
    order = np.concatenate([np.flatnonzero(y[200:] == c) for c in range(3)])
    np.testing.assert_allclose(Z_held_out, LDA(n_components=2).fit(X[:200], y[:200]).transform(X[200:])[order],
                               atol=1e-10)
    assert fig.subfigs[1]._suptitle.get_text() == "40 held-out samples projected (LDA and PCA fitted on 200)"
    with pytest.raises(ValueError, match="X_test and y_test go together"):
        plot.discriminants(X, y, shape=(4, 4), X_test=X)
    with pytest.raises(ValueError, match="at least 3 classes, got 2"):
        plot.discriminants(X, y % 2, shape=(4, 4))
    with pytest.raises(ValueError, match="same length"):
        plot.discriminants(X, y[:10], shape=(4, 4))


# ----------------------------------------------------------------------------- after training, and the CLI
def test_write_training_plots_for_an_image_model_and_a_small_model(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.random((60, 16)).astype(np.float32)
    y = rng.integers(0, 3, 60)
    model = Sequential([Dense(16, 4, "relu"), Dense(4, 3, "softmax")], seed=0)
    model.compile("cross_entropy", "adam")
    h = model.fit(X, y, epochs=2, verbose=0, record=["grad_norm"], seed=0)
    paths = write_training_plots(model, h, X[:20], y[:20], tmp_path / "plots")
    assert [p.name for p in paths] == ["training_curves.png", "gradient_norms.png", "weights.png",
                                       "confusion.png", "misclassified.png"]
    for p in paths:
        read_png(p)
    small = Sequential([Dense(3, 2, "tanh"), Dense(2, 1, "sigmoid")], seed=0).compile("binary_cross_entropy")
    h = small.fit(rng.random((8, 3)), rng.integers(0, 2, 8), epochs=2, verbose=0)
    paths = write_training_plots(small, h, None, None, tmp_path / "small")
    assert [p.name for p in paths] == ["training_curves.png", "network.png"]


def test_cli_plot_kinds_write_pictures(tmp_path, capsys):
    small, mnist_model = tmp_path / "small.npz", tmp_path / "mnist.npz"
    Sequential([Dense(2, 2, "tanh"), Dense(2, 1, "sigmoid")], seed=0).save(small)
    Sequential([Dense(784, 4, "relu"), Dense(4, 10, "softmax")], seed=0).save(mnist_model)
    runs = {
        "act.png": ["activations", "--names", "relu,tanh"],
        "diagram.png": ["diagram", str(small), "--input", "0,1"],
        "weights.png": ["weights", str(mnist_model)],
        "confusion.png": ["confusion", str(mnist_model), "--sample", "--limit", "50"],
        "wrong.png": ["misclassified", str(mnist_model), "--sample", "--limit", "50", "--max-images", "4"],
        "lda.png": ["discriminants", "--sample", "--limit", "300"],
    }
    for name, argv in runs.items():
        assert main(["plot", *argv, "-o", str(tmp_path / name)]) == 0
        assert f"wrote {tmp_path / name}" in capsys.readouterr().out
        read_png(tmp_path / name)


@pytest.mark.parametrize("argv, message", [
    (["weights"], "'weights' needs a model file"),
    (["activations", "m.npz"], "'activations' takes no model file"),
    (["discriminants", "SMALL"], "'discriminants' takes no model file"),
    (["diagram", "SMALL", "--input", "0,x"], "--input must be comma-separated numbers"),
    (["confusion", "SMALL"], r"confusion needs an MNIST model \(784 inputs\)"),
    (["activations", "--names", "nope"], "unknown activation 'nope'"),
])
def test_cli_plot_errors_are_one_line(tmp_path, capsys, argv, message):
    small = tmp_path / "small.npz"
    Sequential([Dense(2, 1, "sigmoid")], seed=0).save(small)
    argv = [str(small) if a == "SMALL" else a for a in argv]
    assert main(["plot", *argv, "-o", str(tmp_path / "x.png")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("glassnet plot: error:")
    import re

    assert re.search(message, err)
    assert not (tmp_path / "x.png").exists()
