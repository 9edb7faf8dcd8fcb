"""Stateful metrics that accumulate over batches: ``update(output, target)``, ``compute()``, ``reset()``.

A metric keeps running sums (counts, a confusion matrix, sums of errors) on the
arrays' own module (NumPy or CuPy), so updating it inside a training loop costs
a few array operations and never a device synchronisation; ``compute()`` turns
the sums into a number once per epoch.

Classification metrics take ``output`` as class scores (logits or
probabilities) of shape ``(N, C, *)`` with integer ``target`` of shape
``(N, *)``, or, for a binary problem, one score per sample with the same shape
as ``target`` (predicted class = ``output >= threshold``), or integer class
predictions of the same shape as ``target``.

Metrics can be named by string (``Trainer(metrics=["accuracy", "f1"])``);
``get_metric(name)`` lists the allowed names when the name is unknown.

Example:
    >>> import deepgrad as dg
    >>> acc = Accuracy()
    >>> acc.update(dg.tensor([[2.0, 1.0], [0.0, 3.0]]), dg.tensor([0, 0]))
    >>> acc.update(dg.tensor([[1.0, 0.0]]), dg.tensor([0]))
    >>> round(acc.compute(), 4)
    0.6667
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np

from deepgrad.autograd import Tensor
from deepgrad.backend import ShapeError, get_array_module
from deepgrad.backend.validation import int_at_least, one_of, positive_int

AVERAGES = ("macro", "micro", "binary", "none")


def _raw(name: str, value):
    """The backing array of a Tensor (or an array-like) with no graph attached."""
    if isinstance(value, Tensor):
        return value._data
    if isinstance(value, np.ndarray) or hasattr(value, "__cuda_array_interface__"):
        return value
    if isinstance(value, (list, tuple, int, float)):
        return np.asarray(value)
    raise TypeError(f"{name}: expected a Tensor or an array (got {type(value).__name__})")


def _host(array) -> np.ndarray:
    """A float64 NumPy copy of an accumulator (NumPy or CuPy array, or a Python number)."""
    if isinstance(array, (int, float, np.ndarray, np.generic)):
        return np.asarray(array, dtype=np.float64)
    return array.get().astype(np.float64)


def _class_predictions(name: str, output, target, threshold: float):
    """(predicted classes, true classes, number of classes seen in the output) as flat int arrays."""
    output = _raw(name, output)
    target = _raw(name, target)
    if target.dtype.kind not in "iub" and output.ndim == target.ndim + 1:
        raise ShapeError(
            f"{name}: target must hold integer class indices (got dtype {target.dtype}); convert with target.long()."
        )
    if output.ndim == target.ndim + 1:
        if output.shape[:1] + output.shape[2:] != target.shape:
            raise ShapeError(
                f"{name}: class scores of shape (N, C, *) need a target of shape (N, *) "
                f"(got output {tuple(output.shape)}, target {tuple(target.shape)})."
            )
        xp = get_array_module(output)
        return (
            xp.argmax(output, axis=1).ravel(),
            target.ravel().astype(np.int64, copy=False),
            output.shape[1],
        )
    if output.shape == target.shape:
        if output.dtype.kind == "f":
            pred = (output >= threshold).ravel().astype(np.int64)
            return pred, target.ravel().astype(np.int64), 2
        return (
            output.ravel().astype(np.int64, copy=False),
            target.ravel().astype(np.int64, copy=False),
            None,
        )
    raise ShapeError(
        f"{name}: output and target shapes do not fit (got output {tuple(output.shape)}, target "
        f"{tuple(target.shape)}); pass class scores (N, C) with targets (N,), or one score per sample "
        "with the target's shape."
    )


class Metric(ABC):
    """Base class: accumulate with ``update(output, target)``, read with ``compute()``, clear with ``reset()``.

    Subclasses set ``name`` (the key under which the Trainer logs the value) and
    implement the three methods. ``compute()`` returns a Python float for scalar
    metrics and a Tensor for array-valued ones (confusion matrix, per-class scores).
    """

    name: str = "metric"

    def __init__(self, name: str | None = None):
        if name is not None:
            if not isinstance(name, str) or not name:
                raise ValueError(
                    f"{type(self).__name__}: name must be a non-empty string (got {name!r})"
                )
            self.name = name
        self.reset()

    @abstractmethod
    def reset(self) -> None:
        """Forget everything accumulated so far."""

    @abstractmethod
    def update(self, output, target) -> None:
        """Add one batch: model outputs and targets (Tensors or arrays)."""

    @abstractmethod
    def compute(self):
        """The metric over every sample since the last reset."""

    def state_dict(self) -> dict[str, Any]:
        """The running sums (the private attributes ``reset`` sets), for checkpoints taken
        inside an epoch; NumPy scalars are kept as 0-d arrays so that no bit changes."""
        return {
            key: np.asarray(value) if isinstance(value, np.generic) else value
            for key, value in vars(self).items()
            if key.startswith("_") or key == "num_classes"
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back the running sums of ``state_dict`` (arrays come back as Tensors from a file)."""
        for key, value in state.items():
            setattr(self, key, value._data if isinstance(value, Tensor) else value)

    # the running sums that add up across processes (data-parallel training); ``sync`` reads it
    _summed: tuple[str, ...] = ()

    def sync(self, gather: Callable[[np.ndarray], list[np.ndarray]]) -> None:
        """Replace the running sums by those of every process: the metric over all their samples.

        ``gather(array)`` returns every process's array (all of one shape), in rank order; the
        Trainer passes one that works over MPI (``deepgrad.train.distributed``). The sums are
        added in rank order in float64, so every process gets the same value. A metric whose
        state is not a set of sums (``R2Score``) overrides this.

        Raises:
            NotImplementedError: the metric names no sums (a custom metric); list them in
                ``_summed`` or override ``sync``.
        """
        if not self._summed:
            raise NotImplementedError(
                f"{type(self).__name__}.sync: cannot reduce this metric across processes; set "
                "_summed to the names of its running sums, or override sync(gather)."
            )
        for key in self._summed:
            setattr(self, key, _sum_in_order(gather(_host(getattr(self, key)))))

    def _empty_error(self) -> RuntimeError:
        return RuntimeError(
            f"{type(self).__name__}.compute: no samples seen yet; call update(output, target) first."
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def _sum_in_order(arrays: list[np.ndarray]) -> np.ndarray:
    """The arrays added one after the other, in the order given (the same result everywhere)."""
    total = np.array(arrays[0], dtype=np.float64)
    for array in arrays[1:]:
        total = total + array
    return total


class Accuracy(Metric):
    """Fraction of correct class predictions:  accuracy = #(pred == target) / N.

    Args:
        threshold: for one score per sample (binary problems), the predicted class is
            ``output >= threshold``. Use 0.5 for probabilities and 0.0 for logits. Default: 0.5.
        name: key in the logs. Default: "accuracy".
    """

    name = "accuracy"
    _summed = ("_correct", "_total")

    def __init__(self, threshold: float = 0.5, name: str | None = None):
        self.threshold = float(threshold)
        super().__init__(name)

    def reset(self) -> None:
        self._correct = 0
        self._total = 0

    def update(self, output, target) -> None:
        pred, true, _ = _class_predictions(type(self).__name__, output, target, self.threshold)
        self._correct = self._correct + (pred == true).sum()
        self._total += true.size

    def compute(self) -> float:
        if self._total == 0:
            raise self._empty_error()
        return float(self._correct) / self._total


class TopKAccuracy(Metric):
    """Fraction of samples whose target is among the k highest scores.

    Args:
        k: how many of the best-scored classes count as a hit. Default: 5.
        name: key in the logs. Default: "top{k}_accuracy".

    Shape:
        output (N, C) scores with C >= k, target (N,) integer classes.
    """

    _summed = ("_correct", "_total")

    def __init__(self, k: int = 5, name: str | None = None):
        self.k = positive_int(k, "k", "TopKAccuracy", fix="k=1 is plain accuracy")
        self.name = f"top{self.k}_accuracy"
        super().__init__(name)

    def reset(self) -> None:
        self._correct = 0
        self._total = 0

    def update(self, output, target) -> None:
        output = _raw("TopKAccuracy", output)
        target = _raw("TopKAccuracy", target)
        if output.ndim != 2 or target.shape != output.shape[:1]:
            raise ShapeError(
                f"TopKAccuracy: needs scores (N, C) and targets (N,) (got output {tuple(output.shape)}, "
                f"target {tuple(target.shape)})."
            )
        if output.shape[1] < self.k:
            raise ShapeError(
                f"TopKAccuracy: k={self.k} is larger than the number of classes {output.shape[1]}."
            )
        xp = get_array_module(output)
        # The target is in the top k iff fewer than k classes score strictly higher than it.
        target_score = xp.take_along_axis(output, target.reshape(-1, 1).astype(np.int64), axis=1)
        higher = (output > target_score).sum(axis=1)
        self._correct = self._correct + (higher < self.k).sum()
        self._total += target.shape[0]

    def compute(self) -> float:
        if self._total == 0:
            raise self._empty_error()
        return float(self._correct) / self._total


class ConfusionMatrix(Metric):
    """Counts ``M[i, j]`` = number of samples of true class i predicted as class j.

    Args:
        num_classes: C; None infers it from the output's class dimension (2 for one score
            per sample) at the first update. Default: None.
        threshold: for one score per sample, predicted class = ``output >= threshold``. Default: 0.5.
        name: key in the logs. Default: "confusion_matrix".

    ``compute()`` returns an int64 Tensor of shape (C, C): rows are true classes, columns predictions.
    """

    name = "confusion_matrix"

    def __init__(
        self, num_classes: int | None = None, threshold: float = 0.5, name: str | None = None
    ):
        if num_classes is not None:
            fix = "pass None to take it from the first output's class dimension"
            int_at_least(num_classes, 2, "num_classes", type(self).__name__, fix=fix)
        self.num_classes = None if num_classes is None else int(num_classes)
        self._given_classes = self.num_classes
        self.threshold = float(threshold)
        super().__init__(name)

    def reset(self) -> None:
        self._matrix: Any = None
        self.num_classes = self._given_classes

    def update(self, output, target) -> None:
        pred, true, seen = _class_predictions(type(self).__name__, output, target, self.threshold)
        if self.num_classes is None:
            if seen is None:
                raise ValueError(
                    f"{type(self).__name__}: cannot tell the number of classes from integer predictions; "
                    "pass num_classes=..."
                )
            self.num_classes = seen
        elif seen is not None and seen != self.num_classes:
            raise ShapeError(
                f"{type(self).__name__}: the output has {seen} classes but num_classes={self.num_classes}."
            )
        n = self.num_classes
        if true.size and (
            int(true.min()) < 0
            or int(true.max()) >= n
            or int(pred.min()) < 0
            or int(pred.max()) >= n
        ):
            raise ValueError(
                f"{type(self).__name__}: class indices must be in [0, {n - 1}] (got targets in "
                f"[{int(true.min())}, {int(true.max())}], predictions in [{int(pred.min())}, {int(pred.max())}])."
            )
        xp = get_array_module(true)
        counts = xp.bincount(true * n + pred, minlength=n * n).reshape(n, n)
        self._matrix = counts if self._matrix is None else self._matrix + counts

    def sync(self, gather: Callable[[np.ndarray], list[np.ndarray]]) -> None:
        """The counts of every process added up (the class count: the largest any saw)."""
        classes = int(max(gather(np.array([self.num_classes or 0], np.float64)))[0])
        if classes == 0:  # no process has seen a sample
            return
        if self.num_classes is not None and self.num_classes != classes:
            raise ShapeError(
                f"{type(self).__name__}.sync: this process counted {self.num_classes} classes "
                f"and another {classes}; pass num_classes=... so that every process agrees."
            )
        local = np.zeros((classes, classes)) if self._matrix is None else _host(self._matrix)
        self._matrix = _sum_in_order(gather(local)).astype(np.int64)
        self.num_classes = classes

    def _counts(self):
        if self._matrix is None:
            raise self._empty_error()
        return self._matrix

    def compute(self) -> Tensor:
        return Tensor._make(self._counts().copy(), None)


class _PrecisionRecallF1(ConfusionMatrix):
    """Shared code: per-class scores from the confusion matrix, averaged as asked."""

    def __init__(
        self,
        average: str = "macro",
        num_classes: int | None = None,
        threshold: float = 0.5,
        name: str | None = None,
    ):
        one_of(average, AVERAGES, "average", type(self).__name__)
        self.average = average
        super().__init__(num_classes=num_classes, threshold=threshold, name=name)

    @abstractmethod
    def _per_class(self, tp, fp, fn):
        """Per-class scores from float64 arrays of true positives, false positives, false negatives."""

    def compute(self):
        matrix = _host(self._counts()).astype(np.float64)
        tp = np.diag(matrix)
        fp = matrix.sum(axis=0) - tp
        fn = matrix.sum(axis=1) - tp
        if self.average == "micro":
            return float(
                self._per_class(
                    tp.sum(keepdims=True), fp.sum(keepdims=True), fn.sum(keepdims=True)
                )[0]
            )
        if self.average == "binary":
            if matrix.shape[0] != 2:
                raise ValueError(
                    f"{type(self).__name__}: average='binary' needs 2 classes (got {matrix.shape[0]}); "
                    "use 'macro' or 'micro'."
                )
            return float(self._per_class(tp[1:], fp[1:], fn[1:])[0])
        scores = self._per_class(tp, fp, fn)
        if self.average == "none":
            return Tensor._make(scores, None)
        present = (tp + fp + fn) > 0  # classes never seen nor predicted do not count in the mean
        return float(scores[present].mean()) if present.any() else 0.0


def _ratio(num, den):
    """num / den with 0 where den == 0 (no predictions of, or no samples in, the class)."""
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


class Precision(_PrecisionRecallF1):
    """Precision = TP / (TP + FP), per class, then averaged.

    Args:
        average: "macro" (mean of the per-class precisions over the classes that occur in the
            targets or the predictions), "micro" (from the total TP and FP over classes; equals
            accuracy for single-label problems), "binary" (class 1 only) or "none" (a Tensor of
            per-class values). Default: "macro".
        num_classes: C; None infers it from the output. Default: None.
        threshold: predicted class = output >= threshold for one score per sample. Default: 0.5.
        name: key in the logs. Default: "precision".

    A class with no predictions has precision 0.
    """

    name = "precision"

    def _per_class(self, tp, fp, fn):
        return _ratio(tp, tp + fp)


class Recall(_PrecisionRecallF1):
    """Recall = TP / (TP + FN), per class, then averaged as in ``Precision``. Default name: "recall"."""

    name = "recall"

    def _per_class(self, tp, fp, fn):
        return _ratio(tp, tp + fn)


class F1(_PrecisionRecallF1):
    """F1 = 2 TP / (2 TP + FP + FN), the harmonic mean of precision and recall, per class.

    "macro" averages the per-class F1 scores (not the F1 of the averaged precision and
    recall); the other arguments are those of ``Precision``. Default name: "f1".
    """

    name = "f1"

    def _per_class(self, tp, fp, fn):
        return _ratio(2 * tp, 2 * tp + fp + fn)


def _regression_arrays(name: str, output, target):
    output = _raw(name, output)
    target = _raw(name, target)
    if output.shape != target.shape:
        squeezed_out = tuple(s for s in output.shape if s != 1)
        squeezed_target = tuple(s for s in target.shape if s != 1)
        if squeezed_out != squeezed_target or output.shape[:1] != target.shape[:1]:
            raise ShapeError(
                f"{name}: output and target must have the same shape (got output {tuple(output.shape)}, "
                f"target {tuple(target.shape)}); broadcasting them would compare every pair of samples."
            )
        output = output.reshape(target.shape)
    return output, target


class _MeanError(Metric):
    """Mean over all elements of a per-element error, summed in float64."""

    _summed = ("_sum", "_count")

    def reset(self) -> None:
        self._sum = 0.0
        self._count = 0

    @abstractmethod
    def _error(self, diff):
        """The per-element error of ``diff = output - target``."""

    def update(self, output, target) -> None:
        output, target = _regression_arrays(type(self).__name__, output, target)
        diff = output.astype(np.float64) - target.astype(np.float64)
        self._sum = self._sum + self._error(diff).sum()
        self._count += diff.size

    def compute(self) -> float:
        if self._count == 0:
            raise self._empty_error()
        return float(self._sum) / self._count


class MeanSquaredError(_MeanError):
    """MSE = mean((output - target)^2) over all elements. Default name: "mse"."""

    name = "mse"

    def _error(self, diff):
        return diff * diff


class MeanAbsoluteError(_MeanError):
    """MAE = mean(|output - target|) over all elements. Default name: "mae"."""

    name = "mae"

    def _error(self, diff):
        return abs(diff)


class R2Score(Metric):
    """Coefficient of determination R^2 = 1 - SS_res / SS_tot, per output column, then averaged.

    SS_res = sum((target - output)^2), SS_tot = sum((target - mean(target))^2), both over all
    samples seen. The target variance is merged batch by batch (Chan's parallel update) in
    float64, so many batches do not lose precision. A constant target (SS_tot = 0) scores 1.0
    when predicted exactly and 0.0 otherwise (scikit-learn's convention). Default name: "r2".

    Shape:
        output and target (N,) or (N, D); R^2 is averaged uniformly over the D columns.
    """

    name = "r2"

    def reset(self) -> None:
        self._n = 0
        self._mean = 0.0
        self._m2 = 0.0
        self._ss_res: Any = 0.0

    def update(self, output, target) -> None:
        output, target = _regression_arrays("R2Score", output, target)
        y = target.astype(np.float64).reshape(target.shape[0], -1)
        f = output.astype(np.float64).reshape(y.shape)
        n_b = y.shape[0]
        if n_b == 0:
            return
        mean_b = y.mean(axis=0)
        m2_b = ((y - mean_b) ** 2).sum(axis=0)
        self._merge(n_b, mean_b, m2_b)
        self._ss_res = self._ss_res + ((y - f) ** 2).sum(axis=0)

    def sync(self, gather: Callable[[np.ndarray], list[np.ndarray]]) -> None:
        """Every process's (count, mean, M2, SS_res) merged in rank order by Chan's update."""
        width = int(max(gather(np.array([np.size(self._mean)], np.float64)))[0])
        mine = [np.broadcast_to(_host(v), (width,)) for v in (self._mean, self._m2, self._ss_res)]
        rows = gather(np.concatenate([[float(self._n)], *mine]))
        self.reset()
        for row in rows:
            n_b = int(row[0])
            if n_b:
                mean_b, m2_b, ss_res_b = row[1:].reshape(3, width)
                self._merge(n_b, mean_b, m2_b)
                self._ss_res = self._ss_res + ss_res_b

    def _merge(self, n_b: int, mean_b, m2_b) -> None:
        """Chan's parallel update: fold a group of n_b samples (mean, M2) into the running ones."""
        total = self._n + n_b
        delta = mean_b - self._mean
        self._mean = self._mean + delta * (n_b / total)
        self._m2 = self._m2 + m2_b + delta * delta * (self._n * n_b / total)
        self._n = total

    def compute(self) -> float:
        if self._n == 0:
            raise self._empty_error()
        ss_tot = _host(self._m2)
        ss_res = _host(self._ss_res)
        exact = np.where(ss_res == 0, 1.0, 0.0)
        scores = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), exact)
        return float(scores.mean())


METRICS: dict[str, type[Metric]] = {
    "accuracy": Accuracy,
    "top_k_accuracy": TopKAccuracy,
    "precision": Precision,
    "recall": Recall,
    "f1": F1,
    "confusion_matrix": ConfusionMatrix,
    "mse": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "r2": R2Score,
}


def get_metric(metric: str | Metric) -> Metric:
    """A Metric instance from a name in ``METRICS`` (default arguments) or a Metric (returned as is)."""
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, str):
        if metric not in METRICS:
            raise ValueError(
                f"unknown metric {metric!r}; allowed names: {', '.join(METRICS)} (or pass a Metric)."
            )
        return METRICS[metric]()
    if isinstance(metric, type) and issubclass(metric, Metric):
        return metric()
    raise TypeError(f"metrics must be names or Metric instances (got {type(metric).__name__})")
