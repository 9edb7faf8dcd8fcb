"""Monitor: watch hidden units and gradients layer by layer while training, without changing it.

Seed 001: "monitor training and validation performance; can monitor hidden units;
good: uncorrelated and high variance". Every ``every`` steps the Monitor records, for each
watched layer (layers with parameters, such as Linear and Conv, and activation layers such as
ReLU, Sigmoid and Tanh):

- ``act_mean``, ``act_std``: mean and standard deviation of the layer's output over the batch;
- ``dead_frac`` (ReLU-like layers): the fraction of units never active (output <= 0 for every
  sample of the batch; for conv maps, at every position);
- ``saturated_frac`` (Sigmoid, Tanh): the fraction of outputs in the flat tails, where the
  derivative is under ~3% of its peak: ``|tanh| > 0.97`` or ``sigmoid`` outside
  ``[0.03, 0.97]`` (``SATURATION`` holds the thresholds);
- ``corr``: the mean absolute correlation between pairs of units over the batch, on at most
  ``max_units`` evenly spaced units and 512 samples (constant units, e.g. dead ones, are left
  out: they have no correlation); 1.0 means the units are copies of each other;
- ``grad_norm``: the 2-norm of the gradients of the layer's own parameters (as the optimizer
  used them, after any clipping), and ``weight_norm`` the 2-norm of the parameters;
- ``update_ratio``: ``||w_after - w_before|| / ||w_before||`` over the step's update (healthy
  values sit around 1e-3; near 1 the weights are overwritten each step).

Every training step (not only recorded ones) the Monitor also counts non-finite values in the
model's floating inputs (a forward hook on the model that does one ``isfinite().all()`` per input
and counts only when that fails): ``nonfinite_inputs`` lists the steps whose inputs held NaN or
inf, ``checked_steps`` and ``checked_samples`` say how much was checked. The Doctor uses them to
tell bad data from a diverging run.

Recording only reads: forward hooks return nothing, statistics are computed on copies, no
random numbers are drawn, and the hooks are attached only for recorded steps (other steps run
exactly as without a Monitor). The weights after training are identical with and without it.
"""

from __future__ import annotations

import csv
import math
import os
from typing import Any

import numpy as np

from deepgrad.autograd import Tensor
from deepgrad.backend import get_array_module, validation
from deepgrad.nn import ReLU, ReLU6, Sigmoid, Tanh
from deepgrad.train.callbacks.base import Callback
from deepgrad.train.distributed import unwrap_model

SATURATION = {"tanh": 0.97, "sigmoid": (0.03, 0.97)}
ACTIVATIONS = ((ReLU, "relu"), (ReLU6, "relu"), (Sigmoid, "sigmoid"), (Tanh, "tanh"))
KEYS = (
    "step",
    "epoch",
    "layer",
    "kind",
    "act_mean",
    "act_std",
    "dead_frac",
    "saturated_frac",
    "corr",
    "grad_norm",
    "weight_norm",
    "update_ratio",
)
MAX_SAMPLES = 512
HISTOGRAM_VALUES = 4096


def _host(array) -> np.ndarray:
    return array if get_array_module(array) is np else array.get()


def _sum_squares(array) -> float:
    flat = array.ravel()
    return float(abs(get_array_module(flat).vdot(flat, flat)))


def _units(array: np.ndarray) -> np.ndarray:
    """(samples, units): features of a (N, F) output, channels of a (N, C, ...) map."""
    if array.ndim == 1:
        return array.reshape(-1, 1)
    if array.ndim == 2:
        return array
    return np.moveaxis(array, 1, -1).reshape(-1, array.shape[1])


def mean_abs_correlation(units: np.ndarray, max_units: int = 64) -> float:
    """Mean |corr(u_i, u_j)| over pairs i != j of non-constant columns of a (samples, units) array."""
    if units.shape[1] > max_units:
        units = units[:, np.linspace(0, units.shape[1] - 1, max_units).astype(np.int64)]
    if units.shape[0] > MAX_SAMPLES:
        units = units[np.linspace(0, units.shape[0] - 1, MAX_SAMPLES).astype(np.int64)]
    units = units.astype(np.float64)
    centered = units - units.mean(axis=0)
    scale = np.sqrt((centered * centered).sum(axis=0))
    keep = scale > 1e-12 * max(1.0, float(np.abs(units).max(initial=0.0)))
    if keep.sum() < 2:
        return math.nan
    z = centered[:, keep] / scale[keep]
    corr = z.T @ z
    k = corr.shape[0]
    return float((np.abs(corr).sum() - np.abs(np.diag(corr)).sum()) / (k * (k - 1)))


def layer_kind(module) -> str:
    """ "relu", "sigmoid", "tanh" for activation layers (subclasses too), else the class name ("Linear")."""
    for cls, kind in ACTIVATIONS:
        if isinstance(module, cls):
            return kind
    return type(module).__name__


def kind_label(kind: str) -> str:
    """How a layer kind reads in messages and plots: "ReLU", "sigmoid", "tanh", "Linear"."""
    return {"relu": "ReLU"}.get(kind, kind)


class Monitor(Callback):
    """Records per-layer statistics of activations, gradients and updates every ``every`` steps.

    Add it to the callbacks, or pass ``Trainer(monitor=True)``. The first step is always
    recorded (it shows the initialization).

    Args:
        every: record one step in ``every`` (steps 1, 1 + every, ...). On the MNIST MLP
            (784-1000-500-100-10, batch 128) a recorded step costs ~1.5 plain steps, so the
            default 10 adds ~7% (budget: 25%; ``benchmarks/cases/trainer_overhead.py``). Default: 10.
        max_units: units sampled (evenly spaced) for the correlation. Default: 64.
        bins: bins of the activation histograms. Default: 30.
        layers: names of the modules to watch (as in ``model.named_modules()``). Default: every
            leaf module with parameters and every ReLU, Sigmoid and Tanh.

    Attributes:
        records: a list of dicts, one per (recorded step, layer), with the keys in ``KEYS``;
            numbers that do not apply (dead fraction of a Linear layer) are NaN.
        histograms: a list of dicts ``{"step", "epoch", "layer", "counts", "edges"}``.
        layers: the watched layers' names, in model order.
        nonfinite_inputs: one dict per training step whose model inputs held NaN or inf:
            ``{"step", "epoch", "nan", "inf", "values", "bad_samples", "samples"}`` (counts of
            NaN and inf values, of all input values, of samples with a non-finite value, of
            samples).
        checked_steps, checked_samples: training steps and samples whose inputs were checked.

    Example:
        >>> monitor = Monitor(every=50)
        >>> # Trainer(model, loss, opt, callbacks=[monitor]).fit(loader)
        >>> # monitor.column("dead_frac", layer="2")  -> one value per recorded step
    """

    def __init__(
        self, every: int = 10, max_units: int = 64, bins: int = 30, layers: list[str] | None = None
    ):
        for option, value, low in (
            ("every", every, 1),
            ("max_units", max_units, 2),
            ("bins", bins, 1),
        ):
            validation.int_at_least(value, low, option, "Monitor")
        if layers is not None and (
            isinstance(layers, str) or not all(isinstance(n, str) for n in layers)
        ):
            raise ValueError(f"Monitor: layers must be a list of module names (got {layers!r})")
        self.every = every
        self.max_units = max_units
        self.bins = bins
        self.layer_names = None if layers is None else list(layers)
        self.records: list[dict[str, Any]] = []
        self.histograms: list[dict[str, Any]] = []
        self.layers: list[str] = []
        self._modules: dict[str, Any] = {}
        self._handles: list = []
        self._pending: dict[str, dict[str, float]] = {}
        self._before: dict[str, list] = {}
        self._buffers: dict[str, list] = {}
        self.nonfinite_inputs: list[dict[str, int]] = []
        self.checked_steps = 0
        self.checked_samples = 0
        self._position = (0, 0)  # (step, epoch) of the running training step
        self._input_handle = None

    # -- choosing layers ----------------------------------------------------------------------
    def _watch(self, model) -> None:
        named = dict(model.named_modules())
        if self.layer_names is not None:
            unknown = [n for n in self.layer_names if n not in named]
            if unknown:
                raise ValueError(
                    f"Monitor: no module named {unknown} in the model; available: {', '.join(n for n in named if n)}"
                )
            chosen = [n for n in named if n in self.layer_names]
        else:
            chosen = [
                name
                for name, module in named.items()
                if layer_kind(module) in ("relu", "sigmoid", "tanh")
                or (any(p is not None for p in module._parameters.values()) and not module._modules)
            ]
        self._modules = {name or "model": named[name] for name in chosen}
        self.layers = list(self._modules)

    def on_fit_start(self, trainer, logs: dict[str, Any]) -> None:
        self._watch(unwrap_model(trainer.model))  # names without the DDP wrapper's prefix
        if self._input_handle is None:
            self._input_handle = unwrap_model(trainer.model).register_forward_hook(
                self._check_inputs
            )

    def _check_inputs(self, model, inputs, output) -> None:
        """Count the non-finite values of a training forward's floating inputs (see the module)."""
        if not model.training:
            return  # evaluation and prediction run the model too
        arrays = [t._data for t in inputs if isinstance(t, Tensor) and t.dtype.kind in "fc"]
        first = inputs[0] if inputs else None
        samples = int(first.shape[0]) if isinstance(first, Tensor) and first.ndim else 1
        self.checked_steps += 1
        self.checked_samples += samples
        if all(bool(get_array_module(a).isfinite(a).all()) for a in arrays):
            return
        arrays = [_host(a) for a in arrays]
        bad_rows = np.zeros(samples, dtype=bool)
        for a in arrays:
            if a.ndim and a.shape[0] == samples:
                bad_rows |= ~np.isfinite(a.reshape(samples, -1)).all(axis=1)
        step, epoch = self._position
        self.nonfinite_inputs.append(
            {
                "step": step,
                "epoch": epoch,
                "nan": sum(int(np.isnan(a).sum()) for a in arrays),
                "inf": sum(int(np.isinf(a).sum()) for a in arrays),
                "values": sum(int(a.size) for a in arrays),
                "bad_samples": int(bad_rows.sum()),
                "samples": samples,
            }
        )

    # -- recording ----------------------------------------------------------------------------
    def is_recording(self, step: int) -> bool:
        """Whether step ``step`` (counted from 1) is recorded: steps 1, 1 + every, 1 + 2 every..."""
        return (step - 1) % self.every == 0

    def on_batch_start(self, trainer, logs: dict[str, Any]) -> None:
        self._position = (logs["step"], logs["epoch"])
        if not self.is_recording(logs["step"]):
            return
        self._pending = {}
        for name, module in self._modules.items():
            self._handles.append(module.register_forward_hook(self._hook(name)))
            params = [p for p in module._parameters.values() if p is not None]
            if params:
                self._snapshot(name, params)

    def _snapshot(self, name: str, params: list) -> None:
        """Copy the weights into buffers kept between recorded steps (no new memory each time)."""
        buffers = self._buffers.get(name)
        if (
            buffers is None
            or [b.shape for b in buffers] != [p.shape for p in params]
            or any(
                type(b) is not type(p._data) or b.dtype != p._data.dtype
                for b, p in zip(buffers, params)
            )
        ):
            buffers = [p._data.copy() for p in params]
            self._buffers[name] = buffers
        else:
            for buffer, p in zip(buffers, params):
                buffer[...] = p._data
        self._before[name] = buffers

    def _hook(self, name: str):
        def hook(module, inputs, output):
            if isinstance(output, Tensor):
                self._pending[name] = self._activation_stats(
                    layer_kind(module), _host(output._data)
                )

        return hook

    def _activation_stats(self, kind: str, array: np.ndarray) -> dict[str, Any]:
        units = _units(array)
        stats: dict[str, Any] = {
            "act_mean": float(array.mean(dtype=np.float64)) if array.size else math.nan,
            "act_std": float(array.std(dtype=np.float64)) if array.size else math.nan,
            "dead_frac": math.nan,
            "saturated_frac": math.nan,
            "corr": mean_abs_correlation(units, self.max_units) if units.shape[0] > 1 else math.nan,
        }
        if kind == "relu" and units.size:
            stats["dead_frac"] = float((units.max(axis=0) <= 0).mean())
        elif kind == "tanh" and units.size:
            stats["saturated_frac"] = float((np.abs(units) > SATURATION["tanh"]).mean())
        elif kind == "sigmoid" and units.size:
            low, high = SATURATION["sigmoid"]
            stats["saturated_frac"] = float(((units < low) | (units > high)).mean())
        flat = array.ravel()
        if flat.size > HISTOGRAM_VALUES:
            flat = flat[:: flat.size // HISTOGRAM_VALUES + 1]
        finite = flat[np.isfinite(flat)]
        if finite.size:
            # float64 bins: float32 values a few ulps apart (a batch of one, e.g. an RL agent's
            # action step) leave no room for 30 float32 bins, and np.histogram raises
            stats["histogram"] = np.histogram(finite.astype(np.float64), bins=self.bins)
        return stats

    def on_batch_end(self, trainer, logs: dict[str, Any]) -> None:
        if not self._handles:
            return
        for handle in self._handles:
            handle.remove()
        self._handles = []
        step, epoch = logs["step"], logs["epoch"]
        for name, module in self._modules.items():
            stats = self._pending.get(name, {})
            record = {"step": step, "epoch": epoch, "layer": name, "kind": layer_kind(module)}
            for key in ("act_mean", "act_std", "dead_frac", "saturated_frac", "corr"):
                record[key] = stats.get(key, math.nan)
            record.update(self._parameter_stats(name, module))
            self.records.append(record)
            if "histogram" in stats:
                counts, edges = stats["histogram"]
                self.histograms.append(
                    {"step": step, "epoch": epoch, "layer": name, "counts": counts, "edges": edges}
                )
        self._before = {}
        self._pending = {}

    def _parameter_stats(self, name: str, module) -> dict[str, float]:
        params = [p for p in module._parameters.values() if p is not None]
        if not params:
            return {"grad_norm": math.nan, "weight_norm": math.nan, "update_ratio": math.nan}
        # Sums of squares in the parameters' dtype (BLAS dot products): about 1e-6 relative, plenty
        # for statistics, and no float64 copies of large weight matrices.
        grads = [p.grad._data for p in params if p.grad is not None]
        grad_sq = sum(_sum_squares(g) for g in grads) if grads else math.nan
        weight_sq = sum(_sum_squares(p._data) for p in params)
        before = self._before.get(name)
        ratio = math.nan
        if before is not None and len(before) == len(params):
            before_sq = sum(_sum_squares(b) for b in before)
            for buffer, p in zip(before, params):
                buffer -= p._data  # the buffer now holds -(w_after - w_before)
            delta_sq = sum(_sum_squares(b) for b in before)
            ratio = math.sqrt(delta_sq) / math.sqrt(before_sq) if before_sq > 0 else math.nan
        return {
            "grad_norm": math.sqrt(grad_sq),
            "weight_norm": math.sqrt(weight_sq),
            "update_ratio": ratio,
        }

    def on_fit_end(self, trainer, logs: dict[str, Any]) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        if self._input_handle is not None:
            self._input_handle.remove()
            self._input_handle = None

    # -- reading ------------------------------------------------------------------------------
    def column(self, key: str, layer: str | None = None) -> np.ndarray:
        """One statistic over the recorded steps (for one layer, or every record) as a float array."""
        if key not in KEYS or key in ("layer", "kind"):
            raise ValueError(
                f"Monitor.column: key must be a numeric statistic, one of {KEYS[4:] + KEYS[:2]} (got {key!r})"
            )
        if layer is not None and layer not in self.layers:
            raise ValueError(
                f"Monitor.column: no watched layer {layer!r}; watched: {', '.join(self.layers)}"
            )
        return np.array(
            [r[key] for r in self.records if layer is None or r["layer"] == layer], dtype=np.float64
        )

    def table(self, layer: str | None = None) -> dict[str, list]:
        """The records as columns: ``{"step": [...], "layer": [...], "act_std": [...], ...}``."""
        rows = [r for r in self.records if layer is None or r["layer"] == layer]
        return {key: [r[key] for r in rows] for key in KEYS}

    def latest(self) -> dict[str, dict[str, Any]]:
        """The last record of each layer, by layer name."""
        last: dict[str, dict[str, Any]] = {}
        for record in self.records:
            last[record["layer"]] = record
        return last

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write every record as one CSV row (one row per layer and recorded step), with the
        columns step, epoch, layer, kind, act_mean, act_std, dead_frac, ... (``KEYS``)."""
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(KEYS)
            for record in self.records:
                writer.writerow([record[k] for k in KEYS])

    def summary(self) -> str:
        """A text table of the last record of every layer."""
        head = f"{'layer':<12}{'kind':<10}{'act_std':>9}{'dead':>7}{'satur.':>8}{'corr':>7}{'grad':>10}{'upd/w':>10}"
        lines = [head]
        for name, r in self.latest().items():

            def pct(v):
                return "-" if math.isnan(v) else f"{100 * v:.0f}%"

            def num(v, fmt):
                return "-" if math.isnan(v) else format(v, fmt)

            lines.append(
                f"{name:<12}{r['kind']:<10}{num(r['act_std'], '.3g'):>9}{pct(r['dead_frac']):>7}"
                f"{pct(r['saturated_frac']):>8}{num(r['corr'], '.2f'):>7}{num(r['grad_norm'], '.2e'):>10}"
                f"{num(r['update_ratio'], '.1e'):>10}"
            )
        return "\n".join(lines)
