import numpy as np
import pytest

from glassnet import SGD, Dense, ExponentialDecay, Sequential, Step
from glassnet.classic import GeneticAlgorithm
from glassnet.datasets.toy import logic_gate, moons, train_val_test_split


def xor_model(seed: int, hidden: int = 3, dtype=np.float32) -> Sequential:
    return Sequential([Dense(2, hidden, activation="tanh"), Dense(hidden, 1, activation="sigmoid")],
                      seed=seed, dtype=dtype)


def test_ga_learns_xor_through_fit():
    X, y = logic_gate("xor")
    ga = GeneticAlgorithm(population=50, seed=0)
    model = xor_model(0).compile("binary_cross_entropy", ga)
    history = model.fit(X, y, epochs=40, batch_size=None, shuffle=False, verbose=0)
    assert model.evaluate(X, y)["accuracy"] == 1.0
    assert ga.evaluations == 40 * 50 and ga.generations == 40
    losses = history["loss"]
    # elitism on a fixed batch: the best loss never gets worse
    assert all(b <= a for a, b in zip(losses, losses[1:], strict=False))
    assert losses[-1] < 0.1 < losses[0]
    # the model holds the best individual and its loss is the reported one
    assert model.loss_value(X, y[:, None].astype(np.float32)) == ga.best_loss
    assert ga.best_loss == losses[-1]
    assert history["accuracy"][-1] == 1.0


def test_ga_moons_validation_accuracy():
    X, y = moons(300, noise=0.15, seed=0)
    Xtr, ytr, Xv, yv, _, _ = train_val_test_split(X, y, 0.2, 0.2, seed=0)
    model = Sequential([Dense(2, 8, activation="tanh"), Dense(8, 1, activation="sigmoid")], seed=0)
    model.compile("binary_cross_entropy", GeneticAlgorithm(population=30, seed=0))
    history = model.fit(Xtr, ytr, epochs=40, batch_size=None, validation_data=(Xv, yv), seed=0, verbose=0)
    assert history["val_accuracy"][-1] >= 0.9


def test_ga_trains_step_units():
    X, y = logic_gate("xor")
    model = Sequential([Dense(2, 2, activation=Step()), Dense(2, 1, activation="sigmoid")], seed=0)
    model.compile("mse", GeneticAlgorithm(population=50, seed=0))
    model.fit(X, y, epochs=50, batch_size=None, seed=0, verbose=0)
    assert model.evaluate(X, y)["accuracy"] == 1.0


@pytest.mark.parametrize("crossover", ["uniform", "blend"])
def test_seed_gives_bit_identical_runs(crossover):
    X, y = logic_gate("xor")
    weights = []
    for _ in range(2):
        model = xor_model(1).compile("bce", GeneticAlgorithm(population=20, crossover=crossover, seed=7))
        model.fit(X, y, epochs=5, batch_size=None, seed=3, verbose=0)
        weights.append(model.get_weights())
    for a, b in zip(*weights, strict=True):
        np.testing.assert_array_equal(a, b)


def test_first_generation_contains_the_starting_weights():
    X, y = logic_gate("xor")
    model = xor_model(2, dtype=np.float64).compile("mse", GeneticAlgorithm(population=10, elite=1, seed=0))
    start = model.loss_value(X, y[:, None].astype(np.float64))
    loss = model.optimizer.train_step(model, X.astype(np.float64), y[:, None].astype(np.float64))
    assert loss <= start
    assert model.optimizer.fitness[0] == start
    assert loss == model.optimizer.fitness.min()


def test_offspring_operators():
    ga = GeneticAlgorithm(population=6, elite=0, crossover="uniform", mutation_rate=0.0, seed=0)
    pop = np.stack([np.zeros(1000), np.ones(1000)] * 3)
    fitness = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    # tournaments draw with replacement: the fittest of six wins a tournament of k with
    # probability 1 - (5/6)^k; k = 1 is uniform
    for k in (1, 3):
        ga.tournament = k
        won = np.mean(ga._select(fitness, 20000) == 0)
        assert abs(won - (1 - (5 / 6) ** k)) < 0.015
    ga.tournament = 2
    children = ga._offspring(pop, fitness)
    assert children.shape == (6, 1000) and set(np.unique(children)) <= {0.0, 1.0}
    blend = GeneticAlgorithm(population=6, elite=0, crossover="blend", blend_alpha=0.5, mutation_rate=0.0,
                             seed=0)
    kids = blend._offspring(pop, fitness)
    assert kids.min() >= -0.5 and kids.max() <= 1.5
    mut = GeneticAlgorithm(population=6, elite=0, mutation_rate=0.25, mutation_scale=0.1, seed=0)
    same = np.zeros((6, 4000))
    changed = mut._offspring(same, fitness) != 0
    assert 0.22 < changed.mean() < 0.28


def test_mutation_scale_schedule_is_the_lr():
    X, y = logic_gate("xor")
    ga = GeneticAlgorithm(population=8, mutation_scale=ExponentialDecay(1.0, 0.5), seed=0)
    history = xor_model(0).compile("bce", ga).fit(X, y, epochs=3, batch_size=None, seed=0, verbose=0)
    assert history["lr"] == [1.0, 0.5, 0.25] and ga.mutation_scale == 0.25


def test_rejects_gradient_step_and_bad_settings():
    with pytest.raises(RuntimeError, match="uses no gradients"):
        GeneticAlgorithm().step([])
    with pytest.raises(ValueError, match="elite must be smaller than population = 4, got 4"):
        GeneticAlgorithm(population=4, elite=4)
    with pytest.raises(ValueError, match="unknown crossover 'one_point'; known: uniform, blend"):
        GeneticAlgorithm(crossover="one_point")
    with pytest.raises(ValueError, match=r"mutation_rate must be in \[0, 1\], got 2"):
        GeneticAlgorithm(mutation_rate=2)
    with pytest.raises(ValueError, match="mutation_scale must be a positive number"):
        GeneticAlgorithm(mutation_scale=0.0)
    with pytest.raises(ValueError, match="population must be an integer >= 2, got 1"):
        GeneticAlgorithm(population=1)
    assert GeneticAlgorithm.uses_gradients is False and SGD.uses_gradients is True
