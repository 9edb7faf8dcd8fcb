"""Committees of classifiers: ``Ensemble`` averages its members' class probabilities.

Deck 001's MNIST table lists a "committee of 35 conv. nets with elastic distortions" (Ciresan et
al., 2012): networks trained apart, with different seeds (and distortions), make partly
independent mistakes, so the average of their predictions errs less often than the average
member. ``deepgrad train mnist-cnn --committee N`` trains such a committee.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from deepgrad import nn
from deepgrad.autograd import Tensor, no_grad
from deepgrad.backend import ShapeError
from deepgrad.nn import functional as F
from deepgrad.ops.composite import logsumexp, stack


class Ensemble(nn.Module):
    """A committee of classifiers that averages the members' probabilities:

    p(c | x) = (1/K) * sum_k softmax(f_k(x))_c

    ``forward`` returns log p(c | x), computed stably as
    logsumexp_k(log_softmax(f_k(x))) - log K. Log-probabilities are valid logits (softmax of
    them gives back p), so ``F.cross_entropy``, ``F.nll_loss``, argmax accuracy and the Trainer
    work on the committee as on any classifier, and the loss is the committee's own negative
    log-likelihood. (Averaging the logits instead would be a geometric mean of the members'
    probabilities, another committee: it lets one over-confident member outvote the others.)

    The members are trained apart (a committee); training an ``Ensemble`` as one model through
    its averaged output is possible too, but couples them. The members keep their own modes:
    ``train()``/``eval()`` on the ensemble set all of them.

    Args:
        models: the members, classifiers mapping the same input to (N, C) logits for the same
            C classes. At least one.

    Attributes:
        members: the members, a ``nn.ModuleList`` (state dict keys ``members.<k>.<name>``).

    Shape:
        x: whatever the members take -> (N, C) log-probabilities.

    Example:
        >>> import deepgrad as dg
        >>> from deepgrad import nn
        >>> committee = Ensemble([nn.Linear(4, 3), nn.Linear(4, 3)])
        >>> p = committee.predict_proba(dg.randn(5, 4))
        >>> p.shape, bool(((p.sum(dim=1) - 1).abs() < 1e-5).all())
        ((5, 3), True)
    """

    def __init__(self, models: Iterable[nn.Module]) -> None:
        super().__init__()
        members = list(models)
        if not members:
            raise ValueError("Ensemble: needs at least one model (got none); pass a list of them.")
        for k, model in enumerate(members):
            if not isinstance(model, nn.Module):
                raise TypeError(
                    f"Ensemble: member {k} is not a Module (got {type(model).__name__}); "
                    "pass deepgrad.nn.Module classifiers."
                )
        self.members = nn.ModuleList(members)

    def __len__(self) -> int:
        return len(self.members)

    def member_log_probs(self, x: Tensor) -> Tensor:
        """log softmax(f_k(x)) of every member, stacked: (K, N, C).

        Raises:
            ShapeError: the members disagree on the output shape.
        """
        outputs = [F.log_softmax(model(x), dim=-1) for model in self.members]
        shapes = {tuple(o.shape) for o in outputs}
        if len(shapes) != 1:
            raise ShapeError(
                f"Ensemble: the members' outputs differ in shape (got {sorted(shapes)}); "
                "every member must give logits for the same classes."
            )
        return stack(outputs, dim=0)

    def forward(self, x: Tensor) -> Tensor:
        return self.combine(self.member_log_probs(x))

    @staticmethod
    def combine(member_log_probs: Tensor) -> Tensor:
        """The committee's log-probabilities from the members' stacked ones (K, N, C) -> (N, C):
        log((1/K) sum_k p_k) = logsumexp_k(log p_k) - log K."""
        # logsumexp, not log(mean(exp)): a confident member's log-probabilities of -1000 would
        # underflow to 0 and then log(0)
        return logsumexp(member_log_probs, dim=0) - math.log(member_log_probs.shape[0])

    def predict_proba(self, x: Tensor) -> Tensor:
        """The committee's probabilities p(c | x), (N, C), in evaluation mode and without
        gradient; the modes of the members are restored afterwards."""
        return self._evaluated(lambda: self(x).exp())

    def predict(self, x: Tensor) -> Tensor:
        """The committee's class per sample, argmax_c p(c | x): (N,) int64, in evaluation mode."""
        return self._evaluated(lambda: self(x).argmax(dim=-1))

    def member_predictions(self, x: Tensor) -> Tensor:
        """Each member's class per sample, (K, N) int64, in evaluation mode."""
        return self._evaluated(lambda: self.member_log_probs(x).argmax(dim=-1))

    def _evaluated(self, compute):
        modes = [m.training for m in self.modules()]
        self.eval()
        try:
            with no_grad():
                return compute()
        finally:
            for module, mode in zip(self.modules(), modes):
                object.__setattr__(module, "training", mode)


__all__ = ["Ensemble"]
