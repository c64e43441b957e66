"""Why did it say 7? Attributions, what each unit looks for, and inputs that fool the network.

One function per method, over one shared primitive (``_grad``: the gradient of the target's output with respect
to the input, or to a layer's activation, by one inference pass forward and back). Every function takes a
model and a batch X shaped like its input, needs no ``compile`` (the attacks excepted, for a model without a
softmax output), works for every layer type (dropout, noise and augmentation act as identities, batch
normalisation with its running statistics), and never changes the weights, the parameter gradients, the
running statistics or any random state.

    saliency(model, X, target, output)                     d f_k / d x
    gradient_x_input(model, X, target, output)             x * d f_k / d x
    integrated_gradients(model, X, target, baseline, steps, method, output, return_delta)
    occlusion(model, X, target, window, stride, baseline, output, shape)
    layer_attribution(model, X, layer, target, output)     a^l * d f_k / d a^l
    maximize(model, layer, unit, steps, lr, l2, blur, jitter, seed)
    adversarial(model, X, y, eps, method, steps, step_size, target_class)
    minimal_eps(model, X, y, method, max_eps, tol)

f_k is the target class's logit z^L_k (``output="logit"``, the default) or probability a^L_k.
"""

from typing import Any

import numpy as np

from glassnet.explain.adversarial import adversarial, minimal_eps
from glassnet.explain.attribution import gradient_x_input, integrated_gradients, layer_attribution, saliency
from glassnet.explain.maximize import maximize
from glassnet.explain.occlusion import occlusion
from glassnet.explain.quadrature import QUADRATURES

METHODS = {"ig": "integrated gradients", "saliency": "saliency (gradient)", "gradxinput": "gradient x input",
           "occlusion": "occlusion"}
"""The input attributions by the short names the command line and the playground use."""


def attribute(model: Any, X: Any, method: str, target: Any = None, steps: int = 50) -> np.ndarray:
    """The input attribution ``method`` (a key of ``METHODS``) for ``target``: integrated gradients with ``steps``
    Gauss-Legendre steps from a black image, saliency, gradient x input, or occlusion with 4x4 windows."""
    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; known: {', '.join(METHODS)}")
    if method == "ig":
        return integrated_gradients(model, X, target, steps=steps)
    if method == "saliency":
        return saliency(model, X, target)
    if method == "gradxinput":
        return gradient_x_input(model, X, target)
    return occlusion(model, X, target)


__all__ = ["METHODS", "QUADRATURES", "adversarial", "attribute", "gradient_x_input", "integrated_gradients",
           "layer_attribution", "maximize", "minimal_eps", "occlusion", "saliency"]
