"""L-BFGS: limited-memory BFGS on all parameters as one flat vector, with a strong-Wolfe search.

Unlike the other optimizers, L-BFGS re-evaluates the loss several times per step, so
``step`` takes a closure that recomputes it::

    def closure():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        return loss

    opt = LBFGS(model.parameters(), line_search_fn="strong_wolfe")
    opt.step(closure)

The pieces, each a small function with its formulas: ``two_loop_direction`` (the search
direction from the curvature history), ``strong_wolfe`` (the line search: a bracketing phase
and ``_zoom``) and ``cubic_interpolate`` (the trial steps inside them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from deepgrad.autograd.grad_mode import enable_grad, no_grad
from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import DeviceError, DTypeError, get_array_module, to_device, validation
from deepgrad.optim.optimizer import Optimizer, check_nonnegative

LINE_SEARCH_FNS = (None, "strong_wolfe")
# state entries holding flat vectors (one value per element of all parameters together)
_VECTOR_STATE = ("d", "prev_flat_grad", "old_dirs", "old_stps")


class LBFGS(Optimizer):
    """L-BFGS: quasi-Newton steps from the last ``history_size`` gradient and step differences.

    One step (``step(closure)``) runs up to ``max_iter`` iterations on the flat parameter vector
    x with gradient g (s: step, y: gradient change, H: the implicit inverse-Hessian estimate)::

        d ← -g at the very first iteration, else d ← -H·g    (two-loop recursion over pairs (s, y))
        t ← min(1, 1/Σ|g|)·lr at the very first iteration, else t ← lr
        t ← a step satisfying the strong Wolfe conditions, from t   (line_search_fn="strong_wolfe")
        x ← x + t·d;   s ← t·d,  y ← g_new - g;   keep (s, y) if s·y > 1e-10 (the last history_size)

    and stops early when max|g| <= tolerance_grad, max|t·d| <= tolerance_change, the loss
    changes by less than tolerance_change, or the closure has run ``max_eval`` times.

    Nocedal, 1980, "Updating Quasi-Newton Matrices with Limited Storage"; Liu & Nocedal, 1989,
    "On the limited memory BFGS method for large scale optimization"; the line search is
    Nocedal & Wright, "Numerical Optimization" (2nd ed.), Algorithms 3.5 and 3.6. This is
    PyTorch's variant (its first step size, its safeguards in the line search, its state).

    L-BFGS is a full-batch method: it assumes the closure computes the same function every
    time (no dropout, no new mini-batch), and it keeps ``2·history_size`` vectors as large as
    all the parameters together. Scalars (dot products, step sizes) are computed in float64.

    Args:
        params: tensors to optimize (one group only: the history is over all of them together;
            they must share one dtype and device).
        lr: the step size tried first at every iteration (scaled down at the very first one).
            Default: 1.
        max_iter: iterations per ``step`` call. Default: 20.
        max_eval: closure evaluations per ``step`` call. Default: ``max_iter * 5 // 4``.
        tolerance_grad: stop when the largest gradient entry is at most this. Default: 1e-7.
        tolerance_change: stop when the step or the loss change is below this. Default: 1e-9.
        history_size: number of (s, y) pairs kept. Default: 100.
        line_search_fn: None (take the step t = lr as it is) or ``"strong_wolfe"``. Default: None.

    State (``opt.state[first parameter]``, PyTorch's names): ``func_evals`` and ``n_iter``
    (totals over all steps), ``d`` and ``t`` (the last direction and step size), ``old_dirs``
    (the y vectors), ``old_stps`` (the s vectors), ``ro`` (1 / (s·y) per pair), ``H_diag``
    (the initial inverse-Hessian scale s·y / y·y), ``prev_flat_grad`` and ``prev_loss``.

    Example:
        >>> import deepgrad as dg
        >>> w = dg.tensor([-1.5, 2.0], dtype=dg.float64, requires_grad=True)
        >>> opt = LBFGS([w], line_search_fn="strong_wolfe")
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2   # Rosenbrock
        ...     loss.backward()
        ...     return loss
        >>> for _ in range(5):
        ...     _ = opt.step(closure)
        >>> [round(v, 4) for v in w.tolist()]      # the minimum is (1, 1)
        [1.0, 1.0]
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1.0,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ):
        if isinstance(max_iter, int) and not isinstance(max_iter, bool) and max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = {
            "lr": lr,
            "max_iter": max_iter,
            "max_eval": max_eval,
            "tolerance_grad": tolerance_grad,
            "tolerance_change": tolerance_change,
            "history_size": history_size,
            "line_search_fn": line_search_fn,
        }
        super().__init__(params, defaults)
        self._check_params(self._params)

    def _check_options(self, options: dict) -> None:
        lr = options["lr"]
        if isinstance(lr, bool) or not isinstance(lr, (int, float)):
            raise TypeError(f"LBFGS: lr must be a number (got {type(lr).__name__} {lr!r}).")
        if not lr > 0:
            raise ValueError(
                f"LBFGS: lr must be > 0 (got {lr}); the default 1 suits most problems."
            )
        for option in ("max_iter", "max_eval", "history_size"):
            value = options[option]
            validation.positive_int(value, option, "LBFGS")
        for option in ("tolerance_grad", "tolerance_change"):
            check_nonnegative("LBFGS", option, options[option])
        if options["line_search_fn"] not in LINE_SEARCH_FNS:
            raise ValueError(
                f"LBFGS: unknown line_search_fn {options['line_search_fn']!r}; allowed: None "
                "(fixed step lr) or 'strong_wolfe'."
            )

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Refused after the first group: L-BFGS keeps one history over all parameters together."""
        if self.param_groups:
            raise ValueError(
                "LBFGS: only one parameter group is supported (got a second one); its curvature "
                "history spans all parameters as one vector, so per-group options have no meaning: "
                "pass all parameters in one list."
            )
        super().add_param_group(param_group)

    @staticmethod
    def _check_params(params: list[Tensor]) -> None:
        first = params[0]
        for index, param in enumerate(params):
            if param.dtype != first.dtype:
                raise DTypeError(
                    f"LBFGS: all parameters must share one dtype (got {first.dtype} at position 0 "
                    f"and {param.dtype} at position {index}); cast them, e.g. model.to(dtype)."
                )
            if param.device != first.device:
                raise DeviceError(
                    f"LBFGS: all parameters must be on one device (got {first.device} at position "
                    f"0 and {param.device} at position {index}); move the model with .to(device)."
                )

    def _update(self, param, grad, state: dict, group: dict) -> None:
        """Unused: an L-BFGS step moves all parameters together along one direction (``step``)."""
        raise NotImplementedError(
            "LBFGS: internal: parameters are updated together in step(closure)."
        )

    # -- the parameters as one flat vector ---------------------------------------------------------
    @property
    def _params(self) -> list[Tensor]:
        return self.param_groups[0]["params"]

    def _flat_grad(self):
        """g: every parameter's gradient (zeros where it has none), flattened and concatenated."""
        xp = get_array_module(self._params[0]._data)
        parts = [
            xp.zeros(p._data.size, dtype=p.dtype) if p.grad is None else p.grad._data.reshape(-1)
            for p in self._params
        ]
        return xp.concatenate(parts)

    def _flat_params(self):
        """A copy of x, all parameters flattened and concatenated."""
        xp = get_array_module(self._params[0]._data)
        return xp.concatenate([p._data.reshape(-1) for p in self._params])

    def _add_to_params(self, t: float, d) -> None:
        """x ← x + t·d, in place on every parameter's array."""
        offset = 0
        for p in self._params:
            size = p._data.size
            p._data += t * d[offset : offset + size].reshape(p._data.shape)
            p._version += 1
            offset += size

    def _set_params(self, x) -> None:
        """x ← a flat vector (made by ``_flat_params``), in place."""
        offset = 0
        for p in self._params:
            size = p._data.size
            p._data[...] = x[offset : offset + size].reshape(p._data.shape)
            p._version += 1
            offset += size

    def _evaluate(self, closure: Callable[[], Any]) -> tuple[Any, float, Any]:
        """Run the closure with gradients on; return (its loss as given, the loss as a float, g)."""
        with enable_grad():
            loss = closure()
        return loss, float(loss), self._flat_grad()

    # -- one step ----------------------------------------------------------------------------------
    def step(self, closure: Callable[[], Any] | None = None):
        """Run up to ``max_iter`` L-BFGS iterations; return the loss the closure gave at the start.

        Args:
            closure: required. A function that clears the gradients, recomputes the loss,
                calls ``backward()`` and returns the loss; it is called once or more per iteration.
        """
        if closure is None or not callable(closure):
            raise TypeError(
                f"LBFGS.step: a closure is required (got {closure!r}); pass a function that calls "
                "opt.zero_grad(), computes the loss, calls loss.backward() and returns the loss."
            )
        group = self.param_groups[0]
        state = self.state.setdefault(self._params[0], {"func_evals": 0, "n_iter": 0})
        with no_grad():
            orig_loss, loss, flat_grad = self._evaluate(closure)
            state["func_evals"] += 1
            if _max_abs(flat_grad) <= group["tolerance_grad"]:
                return orig_loss
            self._iterate(closure, group, state, loss, flat_grad)
        return orig_loss

    def _iterate(
        self, closure: Callable[[], Any], group: dict, state: dict, loss: float, flat_grad
    ) -> None:
        """The loop of one ``step``: direction, step size, line search, stopping tests."""
        evals = 1
        for n_iter in range(1, group["max_iter"] + 1):
            state["n_iter"] += 1
            d = self._direction(state, flat_grad)
            state["prev_flat_grad"] = Tensor._make(flat_grad.copy(), None)
            state["prev_loss"] = prev_loss = loss
            t = group["lr"]
            if state["n_iter"] == 1:  # no curvature known yet: keep the first step's length <= lr
                t *= min(1.0, 1.0 / float(get_array_module(flat_grad).abs(flat_grad).sum()))
            state["d"], state["t"] = Tensor._make(d, None), t
            gtd = _dot(flat_grad, d)
            if gtd > -group["tolerance_change"]:  # not a descent direction (any more)
                break
            if group["line_search_fn"] == "strong_wolfe":
                budget = group["max_eval"] - evals
                loss, flat_grad, t, used = self._line_search(
                    closure, t, d, loss, flat_grad, gtd, budget
                )
            else:
                self._add_to_params(t, d)
                used = 0
                if n_iter != group["max_iter"]:
                    _, loss, flat_grad = self._evaluate(closure)
                    used = 1
            state["t"] = t
            evals += used
            state["func_evals"] += used
            if n_iter == group["max_iter"] or evals >= group["max_eval"]:
                break
            if _max_abs(flat_grad) <= group["tolerance_grad"]:
                break
            if (
                abs(t) * _max_abs(d) <= group["tolerance_change"]
                or abs(loss - prev_loss) < group["tolerance_change"]
            ):
                break

    def _direction(self, state: dict, flat_grad):
        """d = -g at the very first iteration; else record the last (s, y) pair and return -H·g."""
        if state["n_iter"] == 1:
            state.update(old_dirs=[], old_stps=[], ro=[], H_diag=1.0)
            return -flat_grad
        y = flat_grad - state["prev_flat_grad"]._data
        s = state["d"]._data * state["t"]
        ys = _dot(y, s)
        if ys > 1e-10:  # keep only pairs with positive curvature, so H stays positive definite
            if len(state["old_dirs"]) == self.param_groups[0]["history_size"]:
                for key in ("old_dirs", "old_stps", "ro"):
                    state[key].pop(0)
            state["old_dirs"].append(Tensor._make(y, None))
            state["old_stps"].append(Tensor._make(s, None))
            state["ro"].append(1.0 / ys)
            state["H_diag"] = ys / _dot(y, y)
        steps = [tensor._data for tensor in state["old_stps"]]
        changes = [tensor._data for tensor in state["old_dirs"]]
        return two_loop_direction(flat_grad, steps, changes, state["ro"], state["H_diag"])

    def _line_search(
        self,
        closure: Callable[[], Any],
        t: float,
        d,
        loss: float,
        flat_grad,
        gtd: float,
        budget: int,
    ) -> tuple[float, Any, float, int]:
        """Strong-Wolfe search along d from the current x; moves x to x + t·d for the t found.

        ``budget`` (what is left of max_eval) caps the evaluations after the search's first one.
        """
        x0 = self._flat_params()

        def objective(step: float) -> tuple[float, Any]:
            self._add_to_params(step, d)
            _, value, grad = self._evaluate(closure)
            self._set_params(x0)
            return value, grad

        loss, flat_grad, t, used = strong_wolfe(
            objective, t, d, loss, flat_grad, gtd, max_ls=budget
        )
        self._add_to_params(t, d)
        return loss, flat_grad, t, used

    # -- state dicts -------------------------------------------------------------------------------
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore options and state from :meth:`state_dict` output (flat vectors copied too)."""
        saved_state = state_dict.get("state") if isinstance(state_dict, dict) else None
        if not isinstance(saved_state, dict):
            super().load_state_dict(state_dict)  # raises its error about the layout
            return
        scalars = {
            index: {key: value for key, value in values.items() if key not in _VECTOR_STATE}
            for index, values in saved_state.items()
        }
        super().load_state_dict({**state_dict, "state": scalars})  # checks the groups and indices
        param_of = dict(zip(state_dict["param_groups"][0]["params"], self._params))
        for index, values in saved_state.items():
            state = self.state[param_of[int(index)]]
            for key in _VECTOR_STATE:
                if values.get(key) is not None:
                    state[key] = self._vector_state(key, values[key])

    def _vector_state(self, key: str, value):
        """A fresh copy of a saved flat vector (or a list of them) on the parameters' device."""
        if isinstance(value, (list, tuple)):
            return [self._vector_state(key, item) for item in value]
        array = value._data if isinstance(value, Tensor) else value
        size = sum(p._data.size for p in self._params)
        if tuple(array.shape) != (size,):
            raise ValueError(
                f"LBFGS.load_state_dict: state '{key}' holds vectors of shape {tuple(array.shape)} "
                f"but the parameters have {size} elements in all; load a state dict saved for the "
                "same parameters."
            )
        first = self._params[0]
        return Tensor._make(to_device(array, first.device).astype(first.dtype, copy=True), None)


# -- the direction ---------------------------------------------------------------------------------
def two_loop_direction(grad, steps: list, changes: list, rho: list[float], h_diag: float):
    """d = -H·g by the two-loop recursion (Nocedal & Wright, Algorithm 7.4), without forming H.

    With the pairs (s_i, y_i), ρ_i = 1 / (s_i·y_i), oldest first, and H0 = h_diag·I::

        q ← -g;   for i newest → oldest:  α_i = ρ_i·(s_i·q);   q ← q - α_i·y_i
        r ← H0·q;  for i oldest → newest:  β = ρ_i·(y_i·r);   r ← r + (α_i - β)·s_i
        return r

    H is the BFGS inverse-Hessian estimate built from H0 by the pairs; h_diag is usually
    s·y / y·y of the newest pair, the scale of the curvature seen last.
    """
    q = -grad
    alphas = [0.0] * len(steps)
    for i in reversed(range(len(steps))):
        alphas[i] = _dot(steps[i], q) * rho[i]
        q -= alphas[i] * changes[i]
    r = q * h_diag
    for i in range(len(steps)):
        beta = _dot(changes[i], r) * rho[i]
        r += (alphas[i] - beta) * steps[i]
    return r


# -- the strong-Wolfe line search ------------------------------------------------------------------
@dataclass
class _Trial:
    """A point on the search line: step t, φ(t) = f(x + t·d), the gradient g there, φ'(t) = g·d."""

    t: float
    f: float
    g: Any
    gtd: float


class _LineFunction:
    """φ(t) = f(x + t·d) as a ``_Trial``, counting the evaluations."""

    def __init__(self, objective: Callable[[float], tuple[float, Any]], d):
        self.objective, self.d, self.count = objective, d, 0

    def __call__(self, t: float) -> _Trial:
        f, g = self.objective(t)
        self.count += 1
        return _Trial(t, f, g, _dot(g, self.d))


def strong_wolfe(
    objective: Callable[[float], tuple[float, Any]],
    t: float,
    d,
    f: float,
    g,
    gtd: float,
    c1: float = 1e-4,
    c2: float = 0.9,
    tolerance_change: float = 1e-9,
    max_ls: int = 25,
) -> tuple[float, Any, float, int]:
    """Find t > 0 satisfying the strong Wolfe conditions along the descent direction d.

    ``objective(t)`` returns (φ(t), ∇f(x + t·d)); f, g, gtd are φ(0), ∇f(x) and φ'(0) < 0::

        sufficient decrease:  φ(t) <= φ(0) + c1·t·φ'(0)
        curvature:            |φ'(t)| <= c2·|φ'(0)|

    First a bracketing phase grows t until an interval must contain such a step (Nocedal &
    Wright, Algorithm 3.5), then ``_zoom`` shrinks the interval (Algorithm 3.6). At most
    ``max_ls`` evaluations after the first; if none satisfies both, the lowest point seen wins.

    Returns:
        (φ(t), ∇f(x + t·d), t, number of evaluations).
    """
    phi = _LineFunction(objective, d)
    start = _Trial(0.0, f, g.copy(), gtd)
    bracket, done = _bracket(phi, start, t, c1, c2, max_ls)
    low = _lowest(bracket)
    if not done:
        low = _zoom(phi, start, bracket, c1, c2, tolerance_change, max_ls, _max_abs(d))
    best = bracket[low]
    return best.f, best.g, best.t, phi.count


def _bracket(phi: _LineFunction, start: _Trial, t: float, c1: float, c2: float, max_ls: int):
    """Grow t from its first guess until [previous t, t] brackets a strong-Wolfe step.

    Stop with the bracket [t_prev, t] when t breaks sufficient decrease, when φ rose from the
    previous trial (from the third trial on), or when φ'(t) >= 0 (the minimum was passed); stop
    with [t] alone (done) when t satisfies both conditions. Otherwise the next t minimizes the
    cubic through both trials, within [t + 0.01·(t - t_prev), 10·t] so that it grows.

    Returns:
        (bracket, done); if the budget runs out, the bracket is [0, the last t].
    """
    prev, new = start, phi(t)
    while phi.count <= max_ls:
        if new.f > start.f + c1 * new.t * start.gtd or (phi.count > 2 and new.f >= prev.f):
            return [prev, new], False
        if abs(new.gtd) <= -c2 * start.gtd:
            return [new], True
        if new.gtd >= 0:
            return [prev, new], False
        bounds = (new.t + 0.01 * (new.t - prev.t), new.t * 10)
        prev, new = new, phi(cubic_interpolate(prev, new, bounds))
    return [start, new], False


def _zoom(
    phi: _LineFunction,
    start: _Trial,
    bracket: list[_Trial],
    c1: float,
    c2: float,
    tolerance_change: float,
    max_ls: int,
    d_norm: float,
) -> int:
    """Shrink the bracket (in place) around a strong-Wolfe step; return the index of its lowest end.

    The low end always has the lowest φ seen so far among points with sufficient decrease.
    Each trial t is the cubic's minimizer in the bracket (kept off its ends); then::

        t breaks sufficient decrease, or φ(t) >= φ(low):  high ← t
        else:  done if |φ'(t)| <= c2·|φ'(0)|;  high ← low if φ'(t)·(high - low) >= 0;  low ← t

    It stops when done, when the bracket is shorter than tolerance_change (measured as
    |Δt|·max|d|), or after max_ls evaluations in all.
    """
    low = _lowest(bracket)
    close = False
    while phi.count <= max_ls:
        high = 1 - low
        if abs(bracket[1].t - bracket[0].t) * d_norm < tolerance_change:
            break
        t = cubic_interpolate(bracket[0], bracket[1])
        t, close = _keep_off_the_ends(t, bracket[0].t, bracket[1].t, close)
        new = phi(t)
        if new.f > start.f + c1 * t * start.gtd or new.f >= bracket[low].f:
            bracket[high] = new
            low = _lowest(bracket)
            continue
        done = abs(new.gtd) <= -c2 * start.gtd
        if not done and new.gtd * (bracket[high].t - bracket[low].t) >= 0:
            bracket[high] = bracket[low]
        bracket[low] = new
        if done:
            break
    return low


def _lowest(bracket: list[_Trial]) -> int:
    """Index of the bracket end with the lower φ (the first on a tie)."""
    return 0 if bracket[0].f <= bracket[-1].f else 1


def _keep_off_the_ends(t: float, a: float, b: float, was_close: bool) -> tuple[float, bool]:
    """Keep a zoom trial at least 10% of the bracket's width away from its ends.

    A trial closer than that to an end is accepted once (the interval still shrinks); if the
    previous one was also close, or t lies on or outside the bracket, t is moved to 10% of the
    width inside the nearer end. Returns (t, whether t was close and left there).
    """
    lo, hi = min(a, b), max(a, b)
    margin = 0.1 * (hi - lo)
    if not min(hi - t, t - lo) < margin:
        return t, False
    if was_close or t >= hi or t <= lo:
        return (hi - margin if abs(t - hi) < abs(t - lo) else lo + margin), False
    return t, True


def cubic_interpolate(a: _Trial, b: _Trial, bounds: tuple[float, float] | None = None) -> float:
    """The minimizer of the cubic that matches φ and φ' at two trials, clamped to ``bounds``.

    With the trials ordered so that a.t <= b.t (Nocedal & Wright, equation 3.59)::

        d1 = φ'(a) + φ'(b) - 3·(φ(a) - φ(b)) / (a - b)
        d2 = sqrt(d1² - φ'(a)·φ'(b))
        t  = b - (b - a)·(φ'(b) + d2 - d1) / (φ'(b) - φ'(a) + 2·d2)

    When d1² < φ'(a)·φ'(b) the cubic has no local minimizer: return the middle of the bounds.
    ``bounds`` defaults to [a.t, b.t].
    """
    if a.t > b.t:
        a, b = b, a
    lo, hi = bounds if bounds is not None else (a.t, b.t)
    d1 = a.gtd + b.gtd - 3 * (a.f - b.f) / (a.t - b.t)
    d2_square = d1 * d1 - a.gtd * b.gtd
    if d2_square >= 0:
        d2 = math.sqrt(d2_square)
        t = b.t - (b.t - a.t) * ((b.gtd + d2 - d1) / (b.gtd - a.gtd + 2 * d2))
        return min(max(t, lo), hi)
    return (lo + hi) / 2


# -- small helpers on flat vectors -----------------------------------------------------------------
def _dot(u, v) -> float:
    return float(get_array_module(u).dot(u, v))


def _max_abs(u) -> float:
    return float(get_array_module(u).abs(u).max())
