"""Optimizers, learning-rate schedulers and the learning-rate range test.

``opt = deepgrad.optim.Adam(model.parameters(), lr=1e-3)``, then per batch
``opt.zero_grad(); loss.backward(); opt.step()``. Schedulers live in
``deepgrad.optim.lr_scheduler``; ``find_lr`` runs the learning-rate range test.
Gradient clipping is ``deepgrad.nn.utils.clip_grad_norm_``.
"""

from deepgrad.optim import lr_scheduler
from deepgrad.optim.adadelta import Adadelta
from deepgrad.optim.adagrad import Adagrad
from deepgrad.optim.adam import Adam
from deepgrad.optim.adamax import Adamax
from deepgrad.optim.adamw import AdamW
from deepgrad.optim.lbfgs import LBFGS
from deepgrad.optim.lr_finder import LRFinderResult, find_lr
from deepgrad.optim.nadam import NAdam
from deepgrad.optim.optimizer import Optimizer
from deepgrad.optim.rmsprop import RMSprop
from deepgrad.optim.sgd import SGD

__all__ = [
    "Optimizer",
    "SGD",
    "Adagrad",
    "RMSprop",
    "Adam",
    "AdamW",
    "Adamax",
    "NAdam",
    "Adadelta",
    "LBFGS",
    "find_lr",
    "LRFinderResult",
    "lr_scheduler",
]
