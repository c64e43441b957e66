"""Pictures of what a network does: training curves, decision boundaries, weights as images, confusion
matrices, activation functions, gradient norms per layer, small networks drawn neuron by neuron, and LDA's
discriminant directions beside PCA's components.

matplotlib is optional (``pip install 'glassnet[plot]'``) and imported only when a picture is drawn, so
``import glassnet.plot`` stays cheap and ``confusion_counts`` needs NumPy alone.

Conventions, the same for every function:

- it returns the ``matplotlib.figure.Figure``; with ``path=`` it also saves it there (format from the
  suffix: PNG, or an animated GIF for ``boundary_evolution``), at ``DPI`` dots per inch;
- figures are drawn on the non-interactive Agg canvas and never registered with ``pyplot``: nothing opens a
  window, an interactive session keeps its own backend, and no global list keeps figures alive, so there is
  nothing to close -- a figure is freed when the caller drops it, and stays usable
  (``fig.savefig("big.png", dpi=200)``) for as long as the caller keeps it;
- in Jupyter a figure shows itself inline (PNG) as the last expression of a cell or with ``display(fig)``.
"""

from glassnet.plot._base import DPI
from glassnet.plot.boundary import boundary_evolution, class_probabilities, decision_boundary
from glassnet.plot.confusion import confusion_counts, confusion_matrix
from glassnet.plot.curves import gradient_norms, training_curves
from glassnet.plot.discriminants import discriminants
from glassnet.plot.network import activation_functions, network_diagram
from glassnet.plot.pictures import autoencoder_pictures, codes_2d, misclassified, weights_as_images
from glassnet.plot.report import write_training_plots

__all__ = [
    "DPI", "activation_functions", "autoencoder_pictures", "boundary_evolution", "class_probabilities",
    "codes_2d", "confusion_counts", "confusion_matrix", "decision_boundary", "discriminants", "gradient_norms",
    "misclassified", "network_diagram", "training_curves", "weights_as_images", "write_training_plots",
]
