"""Occlusion against a brute-force loop, and how it reads images."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.explain import occlusion


def _brute_force(model, X, k, window, stride, baseline, h, w):
    """Every window position one at a time, by the definition: the mean drop over the windows covering a pixel."""
    total, count = np.zeros((len(X), h, w)), np.zeros((h, w))
    for n, x in enumerate(X):
        image = x.reshape(h, w)
        model.forward(image.reshape(1, -1))
        f_x = model.layers[-1].z[0, k[n]]
        for i in range(0, h - window[0] + 1, stride[0]):
            for j in range(0, w - window[1] + 1, stride[1]):
                occluded = image.copy()
                occluded[i:i + window[0], j:j + window[1]] = baseline
                model.forward(occluded.reshape(1, -1))
                total[n, i:i + window[0], j:j + window[1]] += f_x - model.layers[-1].z[0, k[n]]
                if n == 0:
                    count[i:i + window[0], j:j + window[1]] += 1
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0).reshape(X.shape)


@pytest.mark.parametrize(("window", "stride"), [((3, 3), (2, 2)), ((2, 4), (1, 3)), (4, 4)])
def test_occlusion_matches_a_brute_force_loop(window, stride):
    model = gn.Sequential([gn.Reshape((1, 9, 10)), gn.Conv2D(1, 3, 3, activation="relu"), gn.MaxPool2D(2),
                           gn.Flatten(), gn.Dense(None, 4, activation="softmax")], dtype=np.float64, seed=0,
                          input_shape=(90,))
    X = np.random.default_rng(0).random((3, 90))
    got = occlusion(model, X, target=[0, 3, 1], window=window, stride=stride, baseline=0.25)
    window, stride = ((v, v) if np.isscalar(v) else v for v in (window, stride))
    expected = _brute_force(model, X, [0, 3, 1], window, stride, 0.25, 9, 10)
    assert np.abs(expected).max() > 1e-3
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_uncovered_pixels_get_zero_and_the_default_target_is_the_prediction():
    model = gn.Sequential([gn.Dense(784, 10, activation="softmax")], seed=0)  # 784 features: 28 x 28
    X = np.random.default_rng(1).random((2, 784)).astype(np.float32)
    got = occlusion(model, X, window=5, stride=5).reshape(2, 28, 28)  # windows end at 25: rows 25-27 uncovered
    assert np.all(got[:, 25:, :] == 0) and np.all(got[:, :, 25:] == 0) and np.abs(got[:, :25, :25]).min() > 0
    np.testing.assert_array_equal(got.reshape(2, 784), occlusion(model, X, target=model.predict(X).argmax(1),
                                                                 window=5, stride=5))


def test_occlusion_of_a_linear_model_is_the_window_mean_of_w_times_x():
    """For f = x W + b, f(x) - f(x occluded by 0) = sum over the window of x W_k: with 1x1 windows, x * W_k."""
    model = gn.Sequential([gn.Dense(12, 3)], dtype=np.float64, seed=0)
    X = np.random.default_rng(2).random((2, 12))
    got = occlusion(model, X, target=2, window=1, stride=1, shape=(3, 4))
    np.testing.assert_allclose(got, X * model.layers[0].W.value[:, 2], rtol=1e-12)


def test_occlusion_reads_images_from_the_models_reshape_and_spans_channels():
    model = gn.Sequential([gn.Dropout(0.5), gn.Reshape((2, 4, 6)), gn.Flatten(), gn.Dense(48, 3)], dtype=np.float64,
                          seed=0, input_shape=(48,))
    X = np.random.default_rng(3).random((1, 48))
    got = occlusion(model, X, target=0, window=(4, 6), stride=1).reshape(2, 4, 6)
    W = model.layers[-1].W.value[:, 0]
    np.testing.assert_allclose(got, np.full((2, 4, 6), X[0] @ W), rtol=1e-12)  # one window: the whole image


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"window": 0}, "window must be an int >= 1"),
    ({"window": (30, 2)}, "window (30, 2) must fit the 28x28 images"),
    ({"stride": (1, 2, 3)}, "stride must be an int >= 1"),
    ({"shape": (27, 28)}, "shape must be (H, W) or (C, H, W) holding the model's 784 input values"),
    ({"baseline": np.zeros(10)}, "baseline must be a number, one sample of shape (784,)"),
    ({"target": 10}, "target must be a class index in 0..9, got 10"),
    ({"output": "softmax"}, "output must be 'logit' or 'probability'"),
])
def test_bad_occlusion_arguments_fail_in_one_line(kwargs, message):
    model = gn.Sequential([gn.Dense(784, 10, activation="softmax")], seed=0)
    with pytest.raises(ValueError) as err:
        occlusion(model, np.zeros((1, 784), np.float32), **kwargs)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_occlusion_needs_images():
    model = gn.Sequential([gn.Dense(5, 2)], seed=0)
    with pytest.raises(ValueError, match=r"occlusion needs images: pass shape=\(H, W\) for inputs of shape \(5,\)"):
        occlusion(model, np.zeros((1, 5)))
