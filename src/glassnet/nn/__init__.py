"""Layers by family, activations, losses and initialisers: each layer's forward and backward side by side.

    layers.py         Layer, Parameter, Dense, Maxout, Dropout, Flatten, Reshape (and the layer registry)
    conv.py           Conv2D, MaxPool2D, AvgPool2D
    recurrent.py      RNN, LSTM
    normalization.py  BatchNorm
    noise.py          GaussianNoise, MaskingNoise
    augment.py        Augment (random distortions of training images)
    tied.py           DenseTied (an autoencoder's tied weights)
    activations.py    f(z) and f'(z) by name
    losses.py         C(a, y) and dC/da by name
    init.py           weight initialisers by name
"""

from glassnet.nn import activations, activations_deep  # noqa: F401  (both register their activations by name)
