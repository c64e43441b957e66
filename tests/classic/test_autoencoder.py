import json

import numpy as np
import pytest

import glassnet
from glassnet.classic.autoencoder import Autoencoder, GaussianNoise, MaskingNoise
from glassnet.cli import main
from glassnet.datasets import mnist
from glassnet.decomposition import PCA
from glassnet.model.gradcheck import gradcheck, numerical_gradient, relative_error
from glassnet.model.sequential import Sequential
from glassnet.nn.layers import Dense
from glassnet.nn.tied import DenseTied
from glassnet.optim.optimizers import SGD, Adam
from glassnet.train.callbacks import Callback


def _data(n=64, d=12, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).random((n, d)).astype(dtype)


def _principal_angles(A, B):
    """Largest principal angle (radians) between the row spaces of A and B."""
    qa, _ = np.linalg.qr(A.T)
    qb, _ = np.linalg.qr(B.T)
    cos = np.linalg.svd(qa.T @ qb, compute_uv=False)
    return float(np.arccos(np.clip(cos, -1.0, 1.0)).max())


# ----------------------------------------------------------------------------- structure
def test_encode_decode_shapes_and_reconstruct_is_decode_of_encode():
    ae = Autoencoder.from_sizes(12, hidden=[8, 6], code=3, activation="tanh", seed=0)
    X = _data()
    Z = ae.encode(X)
    assert Z.shape == (64, 3) and Z.dtype == np.float32 and ae.code_shape == (3,)
    R = ae.decode(Z)
    assert R.shape == X.shape and R.dtype == np.float32
    np.testing.assert_allclose(ae.reconstruct(X), R, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ae.encode(X, batch_size=5), Z, rtol=1e-6, atol=1e-6)
    assert [layer.name for layer in ae.model.layers] == [
        "encoder_1", "encoder_2", "code", "decoder_1", "decoder_2", "reconstruction"]
    assert ae.code_layer == 3 and len(ae.encoder_layers) == 3 and len(ae.decoder_layers) == 3
    assert type(ae.model.layers[2].activation).__name__ == "Linear"
    assert type(ae.model.layers[-1].activation).__name__ == "Sigmoid"
    assert np.all((R > 0) & (R < 1))
    assert "code: code (None, 3)" in ae.summary_text()
    err = ae.reconstruction_error(X)
    np.testing.assert_allclose(err, np.mean(np.sum((R.astype(np.float64) - X) ** 2, axis=1)), rtol=1e-5)


def test_encoder_and_decoder_sequentials_keep_their_weights():
    enc = Sequential([Dense(12, 5, "relu"), Dense(5, 2)], seed=1)
    dec = Sequential([Dense(2, 5, "relu"), Dense(5, 12, "sigmoid")], seed=2)
    weights = enc.get_weights() + dec.get_weights()
    ae = Autoencoder(enc, dec)
    for got, want in zip(ae.get_weights(), weights, strict=True):
        np.testing.assert_array_equal(got, want)
    X = _data()
    np.testing.assert_allclose(ae.encode(X), enc.predict(X), rtol=1e-6)
    np.testing.assert_allclose(ae.reconstruct(X), dec.predict(enc.predict(X)), rtol=1e-5, atol=1e-6)
    assert len({layer.name for layer in ae.model.layers}) == 4  # "dense_1" of both parts renamed


def test_from_sizes_gives_every_layer_its_own_activation_and_validates_on_inputs():
    ae = Autoencoder.from_sizes(12, [6], 2, activation=glassnet.LeakyReLU(0.1), seed=0)
    acts = [layer.activation for layer in ae.model.layers]
    assert len({id(a) for a in acts}) == 4 and acts[0].alpha == acts[2].alpha == 0.1
    ae.compile("mse", Adam(0.01))
    history = ae.fit(_data(), epochs=2, batch_size=16, validation_data=_data(seed=1), verbose=0)
    assert history["val_loss"][-1] == pytest.approx(0.5 * ae.reconstruction_error(_data(seed=1)), rel=1e-5)


def test_bad_arguments_raise_one_line_errors():
    with pytest.raises(ValueError, match="decoder must give back the input shape"):
        Autoencoder([Dense(12, 3)], [Dense(3, 10)])
    with pytest.raises(ValueError, match="hidden size must be a positive integer"):
        Autoencoder.from_sizes(12, [0], 3)
    ae = Autoencoder.from_sizes(12, [6], 3, seed=0)
    with pytest.raises(ValueError, match=r"codes of shape \(3,\), got \(4,\)"):
        ae.decode(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="samples of shape"):
        ae.encode(np.zeros((2, 11)))
    with pytest.raises(ValueError, match="no 'autoencoder' entry"):
        Autoencoder.from_model(Sequential([Dense(4, 2), Dense(2, 4)]))
    with pytest.raises(ValueError, match="noise must be a number"):
        ae.set_noise("lots")
    with pytest.raises(ValueError, match=r"MaskingNoise p must be in \[0, 1\)"):
        MaskingNoise(1.0)
    with pytest.raises(ValueError, match="GaussianNoise std"):
        GaussianNoise(-0.1)


def test_save_and_load_round_trip(tmp_path):
    ae = Autoencoder.from_sizes(12, [8], 3, noise=MaskingNoise(0.25), seed=0)
    ae.compile("binary_cross_entropy", Adam(0.01)).fit(_data(), epochs=2, batch_size=16, seed=0, verbose=0)
    path = tmp_path / "ae.npz"
    ae.save(path)
    X = _data(seed=1)
    model = glassnet.load(path)  # a plain Sequential: predict reconstructs
    np.testing.assert_array_equal(model.predict(X), ae.reconstruct(X))
    assert model.meta["autoencoder"]["code_layer"] == ae.code_layer == 3
    back = Autoencoder.load(path)
    np.testing.assert_array_equal(back.encode(X), ae.encode(X))
    np.testing.assert_array_equal(back.decode(ae.encode(X)), ae.reconstruct(X))
    assert isinstance(back.noise, MaskingNoise) and back.noise.p == 0.25
    assert back.model.loss.key == "binary_cross_entropy"
    assert back.summary_text() == ae.summary_text()


# ----------------------------------------------------------------------------- the PCA subspace
@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_linear_autoencoder_finds_the_pca_subspace(seed, tied):
    rng = np.random.default_rng(seed)
    n, d, k = 300, 10, 3
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    X = (rng.standard_normal((n, d)) * [5.0, 4.0, 3.0, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4]) @ Q.T + 2.0
    ae = Autoencoder.from_sizes(d, hidden=[], code=k, code_activation="linear", output_activation="linear",
                                tied=tied, dtype=np.float64, seed=seed)
    ae.compile("mse", Adam(0.03)).fit(X, epochs=2000, batch_size=None, seed=seed, verbose=0)
    pca = PCA(k).fit(X)
    W_dec = ae.decoder_layers[0].W.value  # (k, d)
    W_enc = W_dec.T if tied else ae.encoder_layers[0].W.value  # (d, k)
    assert _principal_angles(W_dec, pca.components_) < 1e-3  # decoder rows span the top-k components
    assert _principal_angles(W_enc.T, pca.components_) < 1e-2  # and so do the encoder's columns
    pca_error = np.mean(np.sum((pca.inverse_transform(pca.transform(X)) - X) ** 2, axis=1))
    np.testing.assert_allclose(ae.reconstruction_error(X), pca_error, rtol=1e-6)
    wrong = np.linalg.qr(rng.standard_normal((d, k)))[0].T  # the angle test can fail
    assert _principal_angles(wrong, pca.components_) > 0.1


# ----------------------------------------------------------------------------- tied weights
def test_tied_autoencoder_shares_one_weight_matrix_per_pair(tmp_path):
    ae = Autoencoder.from_sizes(12, [8], 3, tied=True, seed=0)
    (enc_1, code), (dec_1, out) = ae.encoder_layers, ae.decoder_layers
    assert isinstance(enc_1, DenseTied) and enc_1.target is out and code.target is dec_1
    assert ae.model.count_params() == (3 * 8 + 8) + (8 * 12 + 12) + 8 + 3  # decoder W and b, encoder b
    X = _data()
    np.testing.assert_allclose(ae.encode(X), (X @ out.W.value.T + enc_1.b.value).clip(0) @ dec_1.W.value.T
                               + code.b.value, rtol=1e-5, atol=1e-6)
    ae.compile("mse", Adam(0.01)).fit(X, epochs=3, batch_size=16, seed=0, verbose=0)
    path = tmp_path / "tied.npz"
    ae.save(path)
    back = Autoencoder.load(path)
    assert back.encoder_layers[0].target is back.decoder_layers[-1]
    np.testing.assert_array_equal(back.reconstruct(X), ae.reconstruct(X))
    model = glassnet.load(path)  # the tied layers are linked by the Sequential itself
    np.testing.assert_array_equal(model.predict(X), ae.reconstruct(X))
    np.testing.assert_array_equal(Autoencoder.from_model(model).reconstruct(X), ae.reconstruct(X))


def test_dense_tied_errors():
    lone = DenseTied("decoder_1", n_out=4)
    with pytest.raises(ValueError, match="not linked to its target 'decoder_1'"):
        lone.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="no layer named 'decoder_1'"):  # a Sequential links on construction
        Sequential([lone], input_shape=(3,))
    dec = Dense(4, 3)
    with pytest.raises(ValueError, match="must come before its target"):
        Autoencoder([dec], [DenseTied(dec)])
    with pytest.raises(ValueError, match="must come before its target"):
        Sequential([dec, DenseTied(dec)], dtype=np.float64)
    with pytest.raises(ValueError, match="needs n_out >= 1"):
        DenseTied("decoder_1")


# ----------------------------------------------------------------------------- denoising
class _Spy(Callback):
    """Keeps, for every batch, the corruption layer's input and output, a^L and the reported loss."""

    def __init__(self):
        self.batches = []

    def on_batch_end(self, batch, logs):
        first = self.model.layers[0]
        self.batches.append((first.input.copy(), first.output.copy(), self.model.layers[-1].output.copy(),
                             logs["loss"]))


@pytest.mark.parametrize("kind", [GaussianNoise, MaskingNoise])
def test_noise_corrupts_inputs_only_and_only_in_training(kind):
    noise = kind(0.5)
    X = _data(n=32)
    X_before = X.copy()
    ae = Autoencoder.from_sizes(12, [8], 3, noise=noise, seed=0).compile("mse", SGD(0.1))
    spy = _Spy()
    ae.fit(X, epochs=2, batch_size=16, shuffle=False, callbacks=[spy], seed=0, verbose=0)
    np.testing.assert_array_equal(X, X_before)  # the data (also the targets) is never written to
    for i, (clean, noisy, a, loss) in enumerate(spy.batches):
        target = X[(i % 2) * 16:(i % 2 + 1) * 16]
        np.testing.assert_array_equal(clean, target)
        assert np.abs(noisy - clean).max() > 0.1
        if isinstance(noise, MaskingNoise):
            assert np.all((noisy == clean) | (noisy == 0)) and 0.3 < np.mean(noisy == 0) < 0.7
        # the reported cost compares a^L with the clean targets, not with the corrupted inputs
        assert loss == pytest.approx(0.5 * np.sum((a - target) ** 2) / 16, rel=1e-5)
        assert loss != pytest.approx(0.5 * np.sum((a - noisy) ** 2) / 16, rel=1e-3)
    assert not np.array_equal(spy.batches[0][1], spy.batches[2][1])  # fresh noise each batch
    # inference: no noise, deterministic, equal to a pass through the layers after the corruption
    R = ae.reconstruct(X)
    np.testing.assert_array_equal(R, ae.reconstruct(X))
    a = X
    for layer in ae.model.layers[1:]:
        a = layer.forward(a)
    np.testing.assert_allclose(R, a, rtol=1e-6)
    np.testing.assert_allclose(ae.decode(ae.encode(X)), R, rtol=1e-6)


def test_noise_is_seeded_and_can_be_set_per_fit():
    X = _data()

    def train(**kw):
        ae = Autoencoder.from_sizes(12, [8], 3, seed=0).compile("mse", Adam(0.01))
        ae.fit(X, epochs=2, batch_size=16, seed=3, verbose=0, **kw)
        return ae

    a, b = train(noise=0.3), train(noise=0.3)
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights(), strict=True))
    c = train()
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])
    assert isinstance(a.noise, GaussianNoise) and a.noise.std == 0.3 and a.code_layer == 3
    assert a.model.meta["autoencoder"]["code_layer"] == 3
    weights = a.get_weights()
    a.fit(X, epochs=1, batch_size=16, noise=0.0, verbose=0)  # 0 removes the corruption
    assert a.noise is None and a.code_layer == 2 and a.model.meta["autoencoder"]["code_layer"] == 2
    assert not np.array_equal(a.get_weights()[0], weights[0])  # trained on, same parameters
    assert a.encode(X).shape == (64, 3)


# ----------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("kind", [GaussianNoise, MaskingNoise])
def test_noise_layer_backward_matches_finite_differences(kind):
    layer = kind(0.4)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 7))
    g = rng.standard_normal((5, 7))
    layer.build((7,), np.float64, rng)
    layer.rng = rng
    layer.forward(x, training=True)
    layer.frozen = True
    numeric = numerical_gradient(lambda x_: float(np.sum(g * layer.forward(x_, training=True))), x.copy())
    assert relative_error(layer.backward(g.copy()), numeric) < 1e-8


@pytest.mark.parametrize("kind", [GaussianNoise, MaskingNoise])
@pytest.mark.parametrize("loss", ["mse", "binary_cross_entropy"])
@pytest.mark.parametrize("tied", [False, True])
def test_autoencoder_gradcheck(kind, loss, tied):
    ae = Autoencoder.from_sizes(6, [5, 4], 3, activation="tanh", noise=kind(0.3), tied=tied, dtype=np.float64,
                                seed=0)
    ae.compile(loss, "sgd")
    X = _data(n=8, d=6, dtype=np.float64)
    result = gradcheck(ae.model, X, X)
    assert result.passed, str(result)
    masked = Sequential([Dense(6, 5, "tanh"), MaskingNoise(0.5), Dense(5, 6)], dtype=np.float64, seed=0)
    masked.compile("mse", "sgd")  # a mask inside the network must also be frozen by gradcheck
    assert gradcheck(masked, X, X).passed


# ----------------------------------------------------------------------------- command line
def test_cli_on_the_embedded_sample(tmp_path, capsys):
    out = tmp_path / "ae.npz"
    status = main(["autoencoder", "--sample", "--epochs", "1", "--hidden", "16", "--code", "4",
                   "--batch-size", "256", "--json", "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    result = json.loads(captured.out.strip().splitlines()[-1])
    assert {"ae_test_sq_error_per_image", "pca_test_sq_error_per_image", "seconds", "code",
            "epochs"} <= set(result)
    assert result["code"] == 4 and result["epochs"] == 1 and result["n_test"] == 1000
    assert 0 < result["pca_test_sq_error_per_image"] < result["ae_test_sq_error_per_image"] < 100
    assert "PCA (4 components)" in captured.out and "epoch 1/1" in captured.err
    ae = Autoencoder.load(out)
    X, _ = mnist.load("test", sample=True)
    assert ae.reconstruction_error(X) == pytest.approx(result["ae_test_sq_error_per_image"], rel=1e-6)


def test_cli_falls_back_to_the_sample_and_reports_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GLASSNET_DATA_DIR", raising=False)
    monkeypatch.setenv("GLASSNET_CACHE_DIR", str(tmp_path))

    def offline(*args, **kwargs):
        raise mnist.DatasetError("offline")

    monkeypatch.setattr(mnist, "_download", offline)
    assert main(["autoencoder", "--epochs", "1", "--hidden", "", "--code", "2", "--json"]) == 0
    captured = capsys.readouterr()
    assert "embedded MNIST sample" in captured.err
    assert json.loads(captured.out.splitlines()[-1])["hidden"] == []
    assert main(["autoencoder", "--code", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "glassnet autoencoder: error: --code must be >= 1, got 0"


def test_cli_presets_give_the_paper_shape_and_options_override_them(capsys):
    status = main(["autoencoder", "--preset", "paper", "--sample", "--epochs", "1", "--batch-size", "2500",
                   "--json"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    result = json.loads(captured.out.strip().splitlines()[-1])
    assert result["preset"] == "paper" and result["hidden"] == [1000, 500, 250] and result["code"] == 30
    assert result["architecture"] == "autoencoder 784-1000-500-250-30-250-500-1000-784 tied"
    assert result["tied"] is True and result["l2"] == 0.003
    assert result["epochs"] == 1 and result["ae_test_sq_error_per_image"] > 0 and result["seconds"] > 0
    assert "lr 0.000825" in captured.err  # warm-up from 0.1 x 1.5e-3, the second of 2 batches: (0.1 + 0.9 / 2) x 1.5e-3
    assert main(["autoencoder", "--preset", "paper", "--schedule", "exponential", "--warmup", "2"]) == 2
    assert "warm-up goes with" in capsys.readouterr().err
    assert main(["autoencoder", "--preset", "paper", "--no-tied", "--l2", "0", "--sample", "--epochs", "1",
                 "--hidden", "8", "--code", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["tied"] is False and result["l2"] == 0.0 and not result["architecture"].endswith("tied")
    assert main(["autoencoder", "--l2", "-0.1"]) == 2
    assert capsys.readouterr().err.strip() == "glassnet autoencoder: error: --l2 must be >= 0, got -0.1"


def test_cli_l2_penalises_the_weights(capsys):
    common = ["autoencoder", "--sample", "--epochs", "1", "--hidden", "16", "--code", "4", "--json"]
    errors = []
    for l2 in ("0", "0.5"):
        assert main([*common, "--l2", l2]) == 0
        result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert result["l2"] == float(l2)
        errors.append(result["final_loss"])
    assert errors[1] > errors[0]  # the penalty is part of the training cost
