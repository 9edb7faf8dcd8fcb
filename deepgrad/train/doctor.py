"""Doctor: plain-language diagnoses of a training run, with the seeds' advice and the evidence.

The Doctor reads the loss curves of a ``History`` and, when given one, the per-layer records
of a ``Monitor``, and reports what went wrong. Each ``Diagnosis`` names its evidence with
numbers, so a student can check it ("87% of the units in layer '2' (ReLU) are dead").

The rules and their thresholds (attributes of ``Doctor``, change them per instance):

==========================  ==============================================================
code                        fires when
==========================  ==============================================================
``nan_loss``                a step's loss is NaN or infinite; the message says whether the
                            inputs were non-finite (the Monitor counts them), the loss rose
                            first (a divergence: lower the learning rate), it was non-finite
                            from step 1 (not the learning rate), or it jumped (a bad batch)
``diverging``               the loss of the last 10% of the steps (median) is >
                            ``diverge_factor`` x the first step's loss, or a step's loss is
                            > ``spike_factor`` x the first
``flat_loss``               after >= ``min_steps`` steps the loss (median of the last 10%)
                            fell by less than ``flat_fraction`` of the first step's loss
``exploding_gradients``     a gradient norm is not finite, or grew ``explode_growth`` x
                            over the run, or the first layer's relative gradient
                            (grad_norm / weight_norm) is > ``explode_ratio`` x the last's
``vanishing_gradients``     the first layer's relative gradient is < ``vanish_ratio`` x the
                            last layer's (median over the recorded steps)
``large_updates``           a layer's update-to-weight ratio is > ``update_ratio_max``
                            (median over the recorded steps; healthy is about 1e-3)
``dead_units``              >= ``dead_fraction`` of a ReLU layer's units are never active
``saturated_units``         >= ``saturated_fraction`` of a sigmoid/tanh layer's outputs are
                            in the flat tails (see ``monitor.SATURATION``)
``correlated_units``        a hidden layer's mean |correlation| between units is
                            >= ``correlation_max``
``overfitting``             the validation loss ended > ``overfit_rise`` above its best while
                            the training loss kept falling and the gap between them grew
==========================  ==============================================================

Unit statistics are the median over the last third of the recorded steps, so a problem
that training fixed by itself is not reported.

Example:
    >>> from deepgrad.train.history import History
    >>> h = History()
    >>> for step, loss in enumerate([2.3, 5.0, 40.0, float("nan")], start=1):
    ...     h.add_step(step, 1, loss, 10.0)
    >>> [d.code for d in Doctor(h).diagnose()]
    ['nan_loss']
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SEVERITIES = ("error", "warning", "info")


@dataclass
class Diagnosis:
    """One finding: a stable ``code``, a ``severity`` ("error", "warning" or "info"), the
    ``message`` for people, the ``evidence`` (the numbers behind it) and the ``layer`` it is
    about, if any."""

    code: str
    severity: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    layer: str | None = None

    def __str__(self) -> str:
        return f"[{self.severity}] {self.code}: {self.message}"


LR_ADVICE = "lower it 10x or run the LR range test (deepgrad.optim.find_lr)"


def _layer_label(layer: str, kind: str) -> str:
    from deepgrad.train.monitor import kind_label

    return f"layer '{layer}' ({kind_label(kind)})"


def _tail_median(losses: np.ndarray) -> float:
    """Median of the last 10% of the losses (one noisy batch does not decide)."""
    return float(np.median(losses[-max(1, losses.size // 10) :]))


def _number(value: float) -> str:
    """A loss for a message: "NaN", "inf", "-inf" or 4 significant digits."""
    if math.isnan(value):
        return "NaN"
    return format(value, ".4g")


def _median(values) -> float:
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    return float(np.median(values)) if values.size else math.nan


class Doctor:
    """Turns a run's History (and Monitor records) into diagnoses.

    Args:
        history: the ``History`` returned by ``Trainer.fit``.
        monitor: the run's ``Monitor`` (or None: only the loss curves are examined).

    Example:
        >>> # trainer = Trainer(model, loss_fn, opt, doctor=True)  prints the report after fit
        >>> # print(Doctor(history, monitor).report())
    """

    diverge_factor = 1.5
    spike_factor = 100.0
    flat_fraction = 0.01
    min_steps = 20
    explode_growth = 1e3
    explode_ratio = 1e2
    vanish_ratio = 1e-2
    update_ratio_max = 0.1
    dead_fraction = 0.5
    saturated_fraction = 0.5
    correlation_max = 0.95
    overfit_rise = 0.1

    def __init__(self, history, monitor=None):
        self.history = history
        self.monitor = monitor

    # -- the rules ----------------------------------------------------------------------------
    def diagnose(self) -> list[Diagnosis]:
        """Every finding, errors first."""
        found: list[Diagnosis] = []
        found += self._loss_curve()
        if self.monitor is not None and self.monitor.records:
            found += self._gradients()
            found += self._units()
        found += self._overfitting()
        order = {s: i for i, s in enumerate(SEVERITIES)}
        return sorted(found, key=lambda d: order[d.severity])

    def _lr(self) -> float:
        lrs = self.history.step_column("lr")
        return float(lrs[-1]) if lrs.size else math.nan

    def _loss_curve(self) -> list[Diagnosis]:
        """The first of nan_loss, diverging and flat_loss that fires (at most one finding)."""
        losses = self.history.step_column("loss")
        if losses.size == 0:
            return []
        steps = self.history.step_column("step")
        for rule in (self._nan_loss, self._diverging, self._flat_loss):
            found = rule(losses, steps)
            if found is not None:
                return [found]
        return []

    def _nan_loss(self, losses: np.ndarray, steps: np.ndarray) -> Diagnosis | None:
        """Why the loss became NaN or inf: non-finite inputs, a divergence, or neither (see
        ``_nonfinite_cause``); the message gives the numbers behind the verdict."""
        bad = np.flatnonzero(~np.isfinite(losses))
        if not bad.size:
            return None
        i = int(bad[0])
        finite = losses[:i]
        evidence: dict[str, Any] = {
            "step": int(steps[i]),
            "value": float(losses[i]),
            "first_loss": float(losses[0]),
            "last_finite_loss": float(finite[-1]) if finite.size else math.nan,
            "lr": self._lr(),
        }
        when = (
            f"The loss was {_number(losses[i])} from step {int(steps[i])}"
            if i == 0
            else f"The loss became {_number(losses[i])} at step {int(steps[i])}"
        )
        cause, explanation = self._nonfinite_cause(finite, steps, evidence)
        evidence["cause"] = cause
        return Diagnosis("nan_loss", "error", f"{when}; {explanation}", evidence)

    def _nonfinite_cause(
        self, finite: np.ndarray, steps: np.ndarray, evidence: dict[str, Any]
    ) -> tuple[str, str]:
        """("inputs" | "diverged" | "first_step" | "sudden", the explanation with its advice)."""
        inputs = self._input_evidence(evidence)
        lr = evidence["lr"]
        if inputs is not None and inputs[0]:
            return "inputs", f"{inputs[1]}: clean the data (drop or repair those samples) first."
        anomaly = "run that step under deepgrad.autograd.detect_anomaly() to find the operation"
        checked = (
            inputs[1]
            if inputs is not None
            else "pass a Monitor (Trainer(monitor=True)) to check the inputs for NaN"
        )
        if finite.size == 0 and int(steps[0]) != 1:  # a resumed run's history starts later
            return "sudden", f"this run's first recorded step ({checked}); {anomaly}."
        if finite.size == 0:
            return "first_step", (
                "no update had happened yet, so the learning rate is not the cause: the data, the "
                f"targets, the initialization or an operation out of its domain (log of 0, sqrt of "
                f"a negative number) produce it ({checked}); {anomaly}."
            )
        low = int(np.argmin(finite))
        last = float(finite[-1])
        if last > self.diverge_factor * float(finite[low]) and last > float(finite[low]) + 1e-8:
            evidence.update(rise_start_step=int(steps[low]), rise_start_loss=float(finite[low]))
            return "diverged", (
                f"the loss rose from {finite[low]:.4g} to {last:.4g} over steps {int(steps[low])}-"
                f"{int(steps[finite.size - 1])} before that: the run diverged. Lower the learning "
                f"rate (now {lr:g}) 10x or run the LR range test (deepgrad.optim.find_lr), or clip "
                "the gradients (Trainer(grad_clip=1.0))."
            )
        return "sudden", (
            f"it was {last:.4g} the step before and had not risen (lowest {finite[low]:.4g} at "
            f"step {int(steps[low])}), so this is not a slow divergence: a bad batch (NaN or inf "
            f"in the inputs or targets) or an operation out of its domain ({checked}); "
            f"{anomaly}, or lower the learning rate (now {lr:g}) if one huge step caused it."
        )

    def _input_evidence(self, evidence: dict[str, Any]) -> tuple[bool, str] | None:
        """(whether the Monitor saw non-finite inputs, what it saw, in words); None without one."""
        monitor = self.monitor
        if monitor is None or not getattr(monitor, "checked_steps", 0):
            return None
        found = monitor.nonfinite_inputs
        evidence["nonfinite_input_steps"] = len(found)
        evidence["checked_steps"] = monitor.checked_steps
        if not found:
            return False, f"the model's inputs were finite at all {monitor.checked_steps} steps"
        first = found[0]
        bad_samples = sum(r["bad_samples"] for r in found)
        kinds = " and ".join(k for k in ("nan", "inf") if first[k]).replace("nan", "NaN")
        evidence.update(
            first_nonfinite_input_step=first["step"],
            nonfinite_input_samples=bad_samples,
            checked_samples=monitor.checked_samples,
        )
        return True, (
            f"the model's inputs held NaN or inf at {len(found)} of {monitor.checked_steps} "
            f"training steps, in {bad_samples:,} of the {monitor.checked_samples:,} samples seen "
            f"(first at step {first['step']}: {first['nan'] + first['inf']:,} {kinds} of "
            f"{first['values']:,} values, in {first['bad_samples']} of {first['samples']} "
            "samples), so the data, not the learning rate, is the cause"
        )

    def _diverging(self, losses: np.ndarray, steps: np.ndarray) -> Diagnosis | None:
        n = losses.size
        head = float(losses[0])  # the loss at initialization
        tail = _tail_median(losses)
        peak = int(np.argmax(losses))
        grew = tail > self.diverge_factor * head and tail > head + 1e-8
        spiked = losses[peak] > self.spike_factor * max(head, 1e-8)
        if n < 10 or not (grew or spiked):
            return None
        lr = self._lr()
        what = (
            f"grew from {head:.4g} (step 1) to {tail:.4g} (median of the last 10% of {n} steps)"
            if grew
            else f"jumped from {head:.4g} (step 1) to {losses[peak]:.4g} at step {int(steps[peak])}"
        )
        return Diagnosis(
            "diverging",
            "error",
            f"The training loss {what}: training is unstable or diverges. If the network diverges, most "
            f"probably the learning rate ({lr:g}) is too large: {LR_ADVICE}.",
            {
                "first_loss": head,
                "last_loss": tail,
                "peak_loss": float(losses[peak]),
                "peak_step": int(steps[peak]),
                "steps": n,
                "lr": lr,
            },
        )

    def _flat_loss(self, losses: np.ndarray, steps: np.ndarray) -> Diagnosis | None:
        n = losses.size
        head, tail = float(losses[0]), _tail_median(losses)
        if not (n >= self.min_steps and head > 0 and (head - tail) < self.flat_fraction * head):
            return None
        lr = self._lr()
        change = 100.0 * (head - tail) / head
        return Diagnosis(
            "flat_loss",
            "warning",
            f"The training loss barely moved: {head:.4g} -> {tail:.4g} over {n} steps ({change:.2f}%). "
            f"The learning rate ({lr:g}) may be too small (try 10x larger, or the LR range test "
            "deepgrad.optim.find_lr), or the initialization is bad: saturated or dead units learn nothing "
            "(use Xavier/Glorot for tanh/sigmoid, Kaiming/He for ReLU).",
            {
                "first_loss": head,
                "last_loss": tail,
                "steps": n,
                "relative_change": change / 100.0,
                "lr": lr,
            },
        )

    def _param_layers(self) -> list[str]:
        """Watched layers with parameters, in model order."""
        latest = self.monitor.latest()
        return [
            name
            for name in self.monitor.layers
            if name in latest and not math.isnan(latest[name]["weight_norm"])
        ]

    def _relative_grads(self, layer: str) -> tuple[np.ndarray, np.ndarray]:
        grads = self.monitor.column("grad_norm", layer)
        weights = self.monitor.column("weight_norm", layer)
        with np.errstate(divide="ignore", invalid="ignore"):
            return grads, grads / weights

    def _gradients(self) -> list[Diagnosis]:
        """exploding_gradients, vanishing_gradients and large_updates, from the Monitor's layers."""
        layers = self._param_layers()
        if not layers:
            return []
        ratio = self._first_to_last_ratio(layers)
        rules = (self._exploding_gradients(layers, ratio), self._vanishing_gradients(ratio))
        return [d for d in (*rules, self._large_updates(layers)) if d is not None]

    def _first_to_last_ratio(self, layers: list[str]) -> dict[str, Any] | None:
        """Median ratio of the first to the last layer's relative gradient (grad norm / weight
        norm), with its evidence; None with fewer than two layers."""
        if len(layers) < 2:
            return None
        first, last = layers[0], layers[-1]
        _, rel_first = self._relative_grads(first)
        _, rel_last = self._relative_grads(last)
        k = min(rel_first.size, rel_last.size)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = _median(rel_first[:k] / rel_last[:k])
        return {
            "first_layer": first,
            "last_layer": last,
            "ratio": ratio,
            "first_relative_grad": _median(rel_first),
            "last_relative_grad": _median(rel_last),
        }

    def _exploding_layer(self, name: str) -> tuple[str, dict[str, Any]] | None:
        """(what happened, evidence) when a layer's gradient norm is not finite or grew
        ``explode_growth`` times over the run."""
        grads, _ = self._relative_grads(name)
        steps = self.monitor.column("step", name)
        nonfinite = np.flatnonzero(~np.isfinite(grads))
        if nonfinite.size and self._inputs_nonfinite_by(int(steps[nonfinite[0]])):
            nonfinite = nonfinite[:0]  # non-finite data, not an explosion (nan_loss says so)
        if nonfinite.size:
            i = nonfinite[0]
            return (
                f"its gradient norm became {grads[i]} at step {int(steps[i])}",
                {"layer": name, "step": int(steps[i]), "grad_norm": float(grads[i])},
            )
        if grads.size >= 2 and grads[0] > 0 and grads.max() > self.explode_growth * grads[0]:
            peak = int(np.argmax(grads))
            what = (
                f"its gradient norm grew from {grads[0]:.3g} (step {int(steps[0])}) to "
                f"{grads[peak]:.3g} (step {int(steps[peak])})"
            )
            return (
                what,
                {
                    "layer": name,
                    "first_grad_norm": float(grads[0]),
                    "max_grad_norm": float(grads[peak]),
                    "step": int(steps[peak]),
                },
            )
        return None

    def _inputs_nonfinite_by(self, step: int) -> bool:
        """Whether the Monitor saw NaN or inf in the model's inputs at or before ``step``."""
        found = getattr(self.monitor, "nonfinite_inputs", [])
        return bool(found) and found[0]["step"] <= step

    def _exploding_gradients(
        self, layers: list[str], ratio: dict[str, Any] | None
    ) -> Diagnosis | None:
        """The first layer whose gradient norm exploded, else a first-to-last relative gradient
        ratio above ``explode_ratio``."""
        exploded = None
        for name in layers:
            found = self._exploding_layer(name)
            if found is not None:
                exploded = (name, *found)
                break
        if exploded is None and ratio is not None and ratio["ratio"] > self.explode_ratio:
            first, last = ratio["first_layer"], ratio["last_layer"]
            what = (
                f"the relative gradient (grad norm / weight norm) of the first layer '{first}' "
                f"is {ratio['ratio']:.3g}x that of the last layer '{last}'"
            )
            exploded = (first, what, ratio)
        if exploded is None:
            return None
        layer, what, evidence = exploded
        return Diagnosis(
            "exploding_gradients",
            "error",
            f"Gradients explode in layer '{layer}': {what}. Lower the learning rate, clip the gradients "
            "(Trainer(grad_clip=1.0) or GradientClipping), and check the initialization scale "
            "(Xavier/Kaiming) or add batch normalization.",
            evidence,
            layer,
        )

    def _vanishing_gradients(self, ratio: dict[str, Any] | None) -> Diagnosis | None:
        if ratio is None or not ratio["ratio"] < self.vanish_ratio:
            return None
        first, last = ratio["first_layer"], ratio["last_layer"]
        return Diagnosis(
            "vanishing_gradients",
            "warning",
            f"Gradients vanish toward the input: the relative gradient (grad norm / weight norm) of the "
            f"first layer '{first}' is {ratio['ratio']:.2g} times that of the last layer '{last}' ("
            f"{ratio['first_relative_grad']:.2g} vs {ratio['last_relative_grad']:.2g}), so the early "
            "layers barely learn. Saturating activations (sigmoid, tanh) and poor initialization cause this: "
            "use ReLU, Xavier/Kaiming initialization, batch normalization or residual connections.",
            ratio,
            first,
        )

    def _large_updates(self, layers: list[str]) -> Diagnosis | None:
        """The layer with the largest median update/weight ratio above ``update_ratio_max``."""
        worst = None
        for name in layers:
            value = _median(self.monitor.column("update_ratio", name))
            if value > self.update_ratio_max and (worst is None or value > worst[1]):
                worst = (name, value)
        if worst is None:
            return None
        name, value = worst
        lr = self._lr()
        return Diagnosis(
            "large_updates",
            "warning",
            f"Each step changes the weights of layer '{name}' by {100 * value:.3g}% of their norm (median "
            f"update/weight ratio {value:.2g}; healthy runs sit near 1e-3): the learning rate ({lr:g}) "
            f"is probably too large: {LR_ADVICE}.",
            {"layer": name, "update_ratio": value, "lr": lr},
            name,
        )

    def _recent(self, layer: str, key: str) -> tuple[float, int]:
        """(median of the last third of a layer's records for ``key``, step of the last record)."""
        values = self.monitor.column(key, layer)
        steps = self.monitor.column("step", layer)
        if values.size == 0:
            return math.nan, 0
        tail = values[-max(1, values.size // 3) :]
        return _median(tail), int(steps[-1])

    def _hidden_layers(self) -> list[tuple[str, str]]:
        latest = self.monitor.latest()
        activations = [
            (n, latest[n]["kind"])
            for n in self.monitor.layers
            if n in latest and latest[n]["kind"] in ("relu", "sigmoid", "tanh")
        ]
        if activations:
            return activations
        params = self._param_layers()
        return [(n, latest[n]["kind"]) for n in params[:-1]]

    def _units(self) -> list[Diagnosis]:
        """dead_units, saturated_units and correlated_units, for each hidden layer in turn."""
        found: list[Diagnosis] = []
        for name, kind in self._hidden_layers():
            for rule in (self._dead_units, self._saturated_units, self._correlated_units):
                diagnosis = rule(name, kind)
                if diagnosis is not None:
                    found.append(diagnosis)
        return found

    def _dead_units(self, name: str, kind: str) -> Diagnosis | None:
        dead, step = self._recent(name, "dead_frac")
        if kind != "relu" or not dead >= self.dead_fraction:
            return None
        return Diagnosis(
            "dead_units",
            "error" if dead >= 0.9 else "warning",
            f"{100 * dead:.0f}% of the units in {_layer_label(name, kind)} are dead ReLUs (never active on "
            f"a batch, up to step {step}); they get no gradient and never recover: lower the learning "
            "rate or use Kaiming initialization, and check for large negative biases (or use LeakyReLU).",
            {"layer": name, "dead_fraction": dead, "step": step},
            name,
        )

    def _saturated_units(self, name: str, kind: str) -> Diagnosis | None:
        saturated, step = self._recent(name, "saturated_frac")
        if kind not in ("sigmoid", "tanh") or not saturated >= self.saturated_fraction:
            return None
        from deepgrad.train.monitor import SATURATION

        where = (
            "|tanh| > " + str(SATURATION["tanh"])
            if kind == "tanh"
            else "sigmoid outside [{}, {}]".format(*SATURATION["sigmoid"])
        )
        return Diagnosis(
            "saturated_units",
            "error" if saturated >= 0.9 else "warning",
            f"{100 * saturated:.0f}% of the outputs of {_layer_label(name, kind)} are saturated ({where}, "
            f"up to step {step}), where the gradient is nearly zero and learning stalls: the initial "
            "weights are too large or the inputs are not normalized. Use Xavier/Glorot initialization, "
            "standardize the inputs, lower the learning rate, or use ReLU or batch normalization.",
            {"layer": name, "saturated_fraction": saturated, "step": step},
            name,
        )

    def _correlated_units(self, name: str, kind: str) -> Diagnosis | None:
        corr, step = self._recent(name, "corr")
        if not corr >= self.correlation_max:
            return None
        return Diagnosis(
            "correlated_units",
            "warning",
            f"The hidden units of {_layer_label(name, kind)} are nearly copies of each other (mean "
            f"|correlation| {corr:.3f} up to step {step}); good hidden units are uncorrelated with high "
            "variance. Identical initial weights (zeros or a constant) never break the symmetry: "
            "initialize randomly (Xavier/Kaiming). Whitening the inputs and dropout also decorrelate units.",
            {"layer": name, "mean_abs_correlation": corr, "step": step},
            name,
        )

    def _overfitting(self) -> list[Diagnosis]:
        epochs = [r for r in self.history.epochs if "val_loss" in r and "loss" in r]
        if len(epochs) < 4:
            return []
        val = np.array([r["val_loss"] for r in epochs], dtype=np.float64)
        train = np.array([r["loss"] for r in epochs], dtype=np.float64)
        if not (np.all(np.isfinite(val)) and np.all(np.isfinite(train))):
            return []
        best = int(np.argmin(val))
        last = len(val) - 1
        gap_best, gap_last = val[best] - train[best], val[last] - train[last]
        rose = val[last] > val[best] * (1.0 + self.overfit_rise)
        if best < last and rose and train[last] < train[best] and gap_last > gap_best:
            e_best, e_last = epochs[best]["epoch"], epochs[last]["epoch"]
            return [
                Diagnosis(
                    "overfitting",
                    "warning",
                    f"Overfitting: the validation loss rose from {val[best]:.4g} (epoch {e_best}, its best) to "
                    f"{val[last]:.4g} (epoch {e_last}) while the training loss fell from {train[best]:.4g} to "
                    f"{train[last]:.4g}; the gap grew from {gap_best:.3g} to {gap_last:.3g}. Use early stopping "
                    "(EarlyStopping(monitor='val_loss', restore_best_weights=True)), dropout, L2 weight decay, "
                    "more data or data augmentation.",
                    {
                        "best_epoch": e_best,
                        "best_val_loss": float(val[best]),
                        "last_epoch": e_last,
                        "last_val_loss": float(val[last]),
                        "train_loss_at_best": float(train[best]),
                        "last_train_loss": float(train[last]),
                        "gap_at_best": float(gap_best),
                        "last_gap": float(gap_last),
                    },
                )
            ]
        return []

    # -- the report ---------------------------------------------------------------------------
    def report(self) -> str:
        """The diagnoses as text, or what was checked when nothing is wrong."""
        found = self.diagnose()
        losses = self.history.step_column("loss")
        lines = []
        if losses.size:
            lines.append(
                f"Doctor: {losses.size} steps, {len(self.history.epochs)} epochs, loss "
                f"{losses[0]:.4g} -> {losses[-1]:.4g}."
            )
        if not found:
            checked = "loss curve" + (
                ", gradients, hidden units" if self.monitor is not None else ""
            )
            if any("val_loss" in r for r in self.history.epochs):
                checked += ", validation gap"
            lines.append(f"No problems found (checked: {checked}).")
            if self.monitor is None:
                lines.append(
                    "Pass a Monitor (Trainer(monitor=True)) to check gradients and hidden units too."
                )
        else:
            lines.append(f"{len(found)} problem{'s' if len(found) > 1 else ''} found:")
            lines += [f"- {d}" for d in found]
        return "\n".join(lines)
