"""Data augmentation: shapes, range, seeds, labels, exact shifts and rotations, identity at inference."""

import json

import numpy as np
import pytest

import glassnet as gn
from glassnet.model.gradcheck import numerical_gradient, relative_error
from glassnet.nn.augment import gaussian_blur


def square(n=1, top=10, left=8, size=4):
    """n blank 28x28 images (n, 784) with one bright size x size square."""
    x = np.zeros((n, 28, 28), np.float32)
    x[:, top:top + size, left:left + size] = 1.0
    return x.reshape(n, 784)


def ink_box(img):
    """(first row, first column, last row, last column) of pixels above 0.5."""
    where = np.argwhere(img.reshape(28, 28) > 0.5)
    return (*where.min(0), *where.max(0))


def training(layer, x, seed=0):
    layer.rng = np.random.default_rng(seed)
    return layer.forward(x, training=True)


@pytest.mark.parametrize("tx, ty", [(3, 0), (0, -2), (-4, 5), (1, 1)])
def test_a_digit_shifted_by_k_pixels_ends_where_it_should(tx, ty):
    moved = gn.warp(square(), shift=(tx, ty))
    assert ink_box(moved) == (10 + ty, 8 + tx, 13 + ty, 11 + tx)
    assert moved.sum() == pytest.approx(16.0)  # whole pixels: nothing blurred, nothing lost


def test_augment_layer_shift_moves_each_image_by_its_drawn_shift():
    x = square(5, top=12, left=12)
    layer = gn.Augment(shift=3, rotate=0, scale=0, shear=0)
    out = training(layer, x)
    for img, (tx, ty) in zip(out, layer.transform["shift"], strict=True):
        ink = img.reshape(28, 28)
        rows, cols = np.arange(28)[:, None], np.arange(28)[None, :]
        centre = (float((ink * cols).sum() / ink.sum()), float((ink * rows).sum() / ink.sum()))
        assert centre == pytest.approx((13.5 + tx, 13.5 + ty), abs=1e-4)


def test_rotation_by_zero_is_the_identity_and_by_90_degrees_turns_the_image():
    x = np.random.default_rng(0).random((3, 784)).astype(np.float32)
    np.testing.assert_array_equal(gn.warp(x, rotation=0.0), x)
    img = x[0].reshape(28, 28)
    turned = gn.warp(x[:1], rotation=90.0).reshape(28, 28)
    np.testing.assert_allclose(turned, np.rot90(img, -1), atol=1e-5)  # x right, y down: clockwise on screen
    np.testing.assert_allclose(gn.warp(x[:1], scale=1.0, shear=0.0).reshape(28, 28), img)


@pytest.mark.parametrize("shape", [(6, 784), (6, 1, 28, 28), (6, 28, 28), (6, 3, 9, 7)])
def test_shapes_and_value_range(shape):
    x = np.random.default_rng(1).random(shape).astype(np.float32)
    layer = gn.Augment(shift=2, rotate=15, scale=0.2, shear=0.3, alpha=34, sigma=4)
    out = training(layer, x)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert out.min() >= 0.0 and out.max() <= 1.0 + 1e-6  # bilinear weights are convex, zero outside
    assert not np.array_equal(out, x)
    if shape[1] == 3:  # every channel of an image moves alike
        planes = [training(gn.Augment(shift=2, rotate=15, scale=0.2, shear=0.3, alpha=34, sigma=4),
                           np.ascontiguousarray(x[:, c])) for c in range(3)]
        np.testing.assert_allclose(out, np.stack(planes, axis=1), atol=1e-6)


def test_seeded_determinism_and_fresh_distortions_per_batch():
    x = np.random.default_rng(2).random((8, 784)).astype(np.float32)
    make = lambda: gn.Augment(alpha=34)  # noqa: E731
    a, b = training(make(), x, seed=7), training(make(), x, seed=7)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, training(make(), x, seed=8))
    layer = make()
    first = training(layer, x)
    assert not np.array_equal(first, layer.forward(x, training=True))  # a new draw for the next batch


def test_inference_passes_inputs_unchanged_and_fit_keeps_labels():
    x = square(4)
    layer = gn.Augment(alpha=34)
    assert layer.forward(x) is x
    model = gn.Sequential([gn.Augment(rotate=15), gn.Dense(784, 10, activation="softmax")], seed=0,
                          input_shape=(784,)).compile("cross_entropy", gn.SGD(0.1))
    X = np.random.default_rng(3).random((40, 784)).astype(np.float32)
    y = np.arange(40) % 10
    Y = gn.one_hot(y, 10)
    before = (X.copy(), Y.copy())
    model.fit(X, Y, epochs=2, batch_size=8, verbose=0, seed=0)
    np.testing.assert_array_equal(X, before[0])  # the data is never written into
    np.testing.assert_array_equal(Y, before[1])  # the labels go through untouched
    dense = model.layers[1]
    np.testing.assert_array_equal(model.predict(X), dense.forward(X))


def test_elastic_field_is_smooth_and_scaled_by_alpha():
    rng = np.random.default_rng(0)
    u = rng.uniform(-1, 1, (200, 28, 28))
    smooth = gaussian_blur(u, 4.0)
    centre = smooth[:, 10:18, 10:18]
    assert abs(np.corrcoef(centre[:, :, :-1].ravel(), centre[:, :, 1:].ravel())[0, 1]) > 0.9  # neighbours agree
    layer = gn.Augment(shift=0, rotate=0, scale=0, shear=0, alpha=34, sigma=4)
    training(layer, square(50))
    d = layer.transform["displacement"]
    assert d.shape == (50, 2, 28, 28) and 0.5 < np.abs(d[:, :, 10:18, 10:18]).mean() < 3.0  # pixels


def test_backward_is_the_transpose_of_the_sampling():
    rng = np.random.default_rng(4)
    layer = gn.Augment(shift=1.5, rotate=20, scale=0.2, shear=0.2, alpha=20, sigma=3)
    x = rng.random((2, 2, 9, 8))
    training(layer, x)
    layer.frozen = True
    r = rng.normal(size=x.shape)
    analytic = layer.backward(r.copy())
    numeric = numerical_gradient(lambda v: float(np.sum(r * layer.forward(v, training=True))), x.copy())
    assert relative_error(analytic, numeric) < 1e-6


def test_bad_settings_and_shapes_fail_in_one_line():
    with pytest.raises(ValueError, match="shift"):
        gn.Augment(shift=-1)
    with pytest.raises(ValueError, match="scale < 1"):
        gn.Augment(scale=1.0)
    with pytest.raises(ValueError, match="square"):
        gn.Sequential([gn.Augment()], input_shape=(10,))
    with pytest.raises(ValueError, match="KEY=NUMBER"):
        gn.Augment.from_spec("twist=3")
    with pytest.raises(ValueError, match="a number"):
        gn.Augment.from_spec("rotate=much")


def test_spec_config_and_file_round_trip(tmp_path):
    layer = gn.Augment.from_spec("shift=3, alpha=34")
    assert (layer.shift, layer.alpha, layer.rotate) == (3.0, 34.0, 10.0)
    assert gn.Augment.from_spec("on").get_config() == gn.Augment().get_config()
    model = gn.Sequential([layer, gn.Dense(784, 10, activation="softmax")], input_shape=(784,), seed=0)
    model.save(tmp_path / "m.npz")
    again = gn.load(tmp_path / "m.npz")
    assert json.dumps(again.layers[0].get_config()) == json.dumps(layer.get_config())


def test_train_command_options(tmp_path, capsys):
    from glassnet.cli import main

    out = tmp_path / "m.npz"
    assert main(["train", "--sample", "--hidden", "16", "--epochs", "1", "--threads", "1", "--quiet", "--augment",
                 "rotate=5", "--schedule", "onecycle", "--label-smoothing", "0.1", "--json", "--out", str(out)]) == 0
    capsys.readouterr()
    model = gn.load(out)
    assert isinstance(model.layers[0], gn.Augment) and model.layers[0].rotate == 5.0
    assert model.loss.label_smoothing == 0.1
    assert model.meta["config"]["schedule"] == "onecycle"
    for bad, message in ((["--augment", "twist=1"], "KEY=NUMBER"), (["--warmup", "2"], "warm-up goes with"),
                         (["--loss", "mse", "--label-smoothing", "0.1"], "needs --loss cross_entropy")):
        assert main(["train", "--sample", "--epochs", "1", "--schedule", "exponential", *bad,
                     "--out", str(tmp_path / "x.npz")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err


# ----------------------------------------------------------------------------- pens, blur and resolution loss
def pen_only(**keys):
    return gn.Augment(shift=0, rotate=0, scale=0, shear=0, **keys)


def line(n=1):
    """n blank 28x28 images (n, 784) with a one-pixel horizontal line on row 14, columns 6..21."""
    x = np.zeros((n, 28, 28), np.float32)
    x[:, 14, 6:22] = 1.0
    return x.reshape(n, 784)


def test_new_keys_default_off_and_keep_every_draw_bit_identical():
    x = np.random.default_rng(5).random((6, 784)).astype(np.float32)
    old = training(gn.Augment(alpha=34), x, seed=3)
    new = training(gn.Augment.from_spec("alpha=34,thicken=0,thin=0,blur=0,lowres=0"), x, seed=3)
    np.testing.assert_array_equal(old, new)
    assert gn.Augment().get_config()["thicken"] == 0.0 and gn.Augment().describe() == "Augment(+-2px, +-10deg)"


@pytest.mark.parametrize("width, rows", [(1, 2), (2, 3), (3, 4)])
def test_a_one_pixel_line_gets_wider_under_dilation(width, rows):
    layer = pen_only(thicken=width)
    for seed in range(20):  # until the draw is the widest pen
        out = training(layer, line(), seed=seed)
        if layer.transform["stroke"][0] == width:
            break
    ink = out.reshape(28, 28) > 0.5
    assert ink.any(axis=1).sum() == rows  # a (w + 1)-square pen: the line w + 1 rows high
    assert ink[14].all() == False and ink.sum() == rows * (16 + width)  # noqa: E712  and w columns longer


def test_erosion_thins_a_stroke_and_removes_a_one_pixel_line():
    x = np.zeros((1, 28, 28), np.float32)
    x[0, 12:16, 6:22] = 1.0  # a stroke 4 pixels thick
    layer = pen_only(thin=1)
    widths = {}
    for seed in range(10):
        out = training(layer, x.reshape(1, 784), seed=seed).reshape(28, 28)
        widths[int(layer.transform["stroke"][0])] = int((out[:, 14] > 0.5).sum())
    assert widths == {-1: 3, 0: 4}
    for seed in range(10):
        out = training(layer, line(), seed=seed)
        if layer.transform["stroke"][0] == -1:
            assert out.max() == 0.0  # a 2x2 eraser leaves nothing of a one-pixel line
            break
    else:
        pytest.fail("no seed in 0..9 drew the thinner pen")


def test_blur_spreads_a_line_and_keeps_its_ink():
    layer = pen_only(blur=3)
    out = training(layer, line(8), seed=1).reshape(8, 28, 28)
    sigma = layer.transform["blur"]
    assert np.all((sigma >= 0) & (sigma <= 3))
    wide = sigma > 1
    assert wide.any() and np.all(out[wide, 14].max(axis=1) < 0.5) and np.all(out[wide, 12].max(axis=1) > 0.02)
    np.testing.assert_allclose(out.sum(axis=(1, 2)), 16.0, rtol=0.02)  # rows of the blur sum to 1


def test_resolution_loss_matches_a_box_filter_and_bilinear_enlargement():
    from glassnet.nn.augment import resolution_matrix

    m = resolution_matrix(28, 7)
    v = np.random.default_rng(0).random(28)
    small = v.reshape(7, 4).mean(axis=1)  # 28 -> 7: boxes of 4
    out = m @ v  # small pixel j's centre sits at 4j + 1.5: pixel 4j + 1 reads 1/8 of the way to j - 1
    np.testing.assert_allclose(out[5::4], 0.875 * small[1:] + 0.125 * small[:-1])
    np.testing.assert_allclose(out[6:-4:4], 0.875 * small[1:-1] + 0.125 * small[2:])
    np.testing.assert_allclose(out[:2], small[0])  # held at the ends
    np.testing.assert_allclose(m.sum(axis=1), 1.0)
    layer = pen_only(lowres=0.5)
    out = training(layer, line(200), seed=2)
    side = layer.transform["side"]
    assert 0.35 < np.mean(side > 0) < 0.65 and side[side > 0].min() >= 7 and side.max() <= 16
    np.testing.assert_array_equal(out[side == 0], line(200)[side == 0])
    assert np.all(out[side > 0].reshape(-1, 28, 28)[:, 14].max(axis=1) < 1.0)  # the line smeared


def test_pen_blur_and_lowres_shapes_seeds_and_inference():
    x = np.random.default_rng(6).random((5, 2, 12, 10)).astype(np.float32)
    spec = "thicken=2,thin=1,blur=1.5,lowres=0.7"
    a = training(gn.Augment.from_spec(spec), x, seed=4)
    assert a.shape == x.shape and a.dtype == x.dtype and not np.array_equal(a, x)
    np.testing.assert_array_equal(a, training(gn.Augment.from_spec(spec), x, seed=4))
    assert not np.array_equal(a, training(gn.Augment.from_spec(spec), x, seed=5))
    assert gn.Augment.from_spec(spec).forward(x) is x
    assert a.min() >= 0.0 and a.max() <= 1.0 + 1e-5
    x64 = x.astype(np.float64)
    assert training(gn.Augment.from_spec(spec), x64, seed=4).dtype == np.float64


def test_backward_through_pen_blur_and_lowres_is_the_transpose():
    rng = np.random.default_rng(7)
    layer = gn.Augment(shift=1, rotate=10, thicken=2, thin=1, blur=1.5, lowres=1.0)
    x = rng.random((3, 2, 10, 9))
    training(layer, x, seed=1)
    layer.frozen = True
    r = rng.normal(size=x.shape)
    analytic = layer.backward(r.copy())
    numeric = numerical_gradient(lambda v: float(np.sum(r * layer.forward(v, training=True))), x.copy())
    assert relative_error(analytic, numeric) < 1e-6


@pytest.mark.parametrize("spec, message", [("thicken=1.5", "whole number"), ("thin=9", "0..4"),
                                           ("blur=-1", "blur must be"), ("lowres=2", "probability")])
def test_bad_pen_blur_and_lowres_values_fail_in_one_line(spec, message):
    with pytest.raises(ValueError, match=message) as err:
        gn.Augment.from_spec(spec)
    assert "\n" not in str(err.value)
