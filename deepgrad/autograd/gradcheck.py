"""Numerical gradient checks: compare backward with central finite differences.

``gradcheck`` compares the analytical Jacobian (one vector-Jacobian product per
output element) with the numerical one, ``(f(x + eps) - f(x - eps)) / (2 eps)``
for each input element. ``gradgradcheck`` does the same for the function that
maps the inputs to their gradients, which checks second derivatives. Run them
in float64: float32 finite differences are too coarse and fail good gradients.
"""

from __future__ import annotations

import warnings

from deepgrad.autograd.functional import grad
from deepgrad.autograd.tensor import Tensor


class GradcheckError(AssertionError):
    """The analytical and numerical gradients differ."""


def _as_tuple(x):
    return x if isinstance(x, (tuple, list)) else (x,)


def _outputs(fn, inputs) -> list:
    return [o for o in _as_tuple(fn(*inputs)) if isinstance(o, Tensor)]


def _private_copies(inputs) -> tuple:
    """Contiguous copies of the tensor inputs, so that perturbing them leaves the caller's tensors alone."""
    copies = []
    for t in inputs:
        if isinstance(t, Tensor):
            c = Tensor._make(t.xp.array(t._data, copy=True, order="C"), None)
            c._requires_grad = t._requires_grad
            t = c
        copies.append(t)
    return tuple(copies)


def _numerical_jacobian(fn, inputs, index: int, eps: float, output_index: int):
    """d output / d inputs[index] as an array of shape (output.size, input.size)."""
    x = inputs[index]
    xp = x.xp
    flat = x._data.reshape(-1)  # a view: perturb in place, restore after
    out0 = _outputs(fn, inputs)[output_index]
    jac = xp.zeros((out0._data.size, flat.size), dtype="float64")
    for j in range(flat.size):
        original = flat[j].item()
        flat[j] = original + eps
        plus = _outputs(fn, inputs)[output_index]._data.reshape(-1).astype("float64")
        flat[j] = original - eps
        minus = _outputs(fn, inputs)[output_index]._data.reshape(-1).astype("float64")
        flat[j] = original
        jac[:, j] = (plus - minus) / (2 * eps)
    return jac


def _analytical_jacobian(fn, inputs, index_list, output_index: int):
    """d output / d each input (rows: output elements), by one backward per output element."""
    out = _outputs(fn, inputs)[output_index]
    xp = out.xp
    wanted = [inputs[i] for i in index_list]
    jacs = [xp.zeros((out._data.size, t._data.size), dtype="float64") for t in wanted]
    if not out.requires_grad:
        return jacs
    for row in range(out._data.size):
        seed = xp.zeros(out._data.size, dtype=out.dtype)
        seed[row] = 1
        grads = grad(
            out,
            wanted,
            Tensor._make(seed.reshape(out.shape), None),
            retain_graph=True,
            allow_unused=True,
        )
        for jac, g in zip(jacs, grads):
            if g is not None:
                jac[row] = g._data.reshape(-1)
    return jacs


def gradcheck(
    fn,
    inputs,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Check the gradients of ``fn`` at ``inputs`` against central finite differences.

    Args:
        fn: a function of the input tensors returning a Tensor or a tuple of Tensors.
        inputs: a Tensor or a tuple of Tensors; those with ``requires_grad`` are checked.
        eps: the finite-difference step.
        atol, rtol: the tolerance, |analytical - numerical| <= atol + rtol * |numerical|.
        raise_exception: raise ``GradcheckError`` on failure (else return False).

    Returns:
        True when every gradient matches.

    Example:
        >>> import deepgrad as dg
        >>> x = dg.tensor([0.5, 1.5], dtype="float64", requires_grad=True)
        >>> gradcheck(lambda t: (t * t).exp(), (x,))
        True
    """
    inputs = _private_copies(_as_tuple(inputs))
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError(
            "gradcheck: no input requires grad; set requires_grad=True on the inputs to check"
        )
    for i in checked:
        if inputs[i].dtype.name != "float64":
            warnings.warn(
                f"gradcheck: input {i} is {inputs[i].dtype}, not float64; finite differences in single "
                "precision are too coarse and report false failures. Use .double().",
                stacklevel=2,
            )
    n_outputs = len(_outputs(fn, inputs))
    for k in range(n_outputs):
        analytical = _analytical_jacobian(fn, inputs, checked, k)
        for i, a_jac in zip(checked, analytical):
            n_jac = _numerical_jacobian(fn, inputs, i, eps, k)
            xp = inputs[i].xp
            bad = xp.abs(a_jac - n_jac) > atol + rtol * xp.abs(n_jac)
            if bad.any():
                row, col = (int(v) for v in xp.argwhere(bad)[0])
                message = (
                    f"gradcheck: gradient of output {k} w.r.t. input {i} (shape {inputs[i].shape}) is wrong at "
                    f"input element {col}, output element {row}: analytical {float(a_jac[row, col]):.8g}, "
                    f"numerical {float(n_jac[row, col]):.8g} ({int(bad.sum())} of {bad.size} entries differ)"
                )
                if raise_exception:
                    raise GradcheckError(message)
                return False
    return True


def gradgradcheck(
    fn,
    inputs,
    grad_outputs=None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Check second derivatives: gradcheck of ``inputs -> grad(fn(inputs) . v, inputs)``.

    ``v`` (``grad_outputs``) is a fixed random vector per output when not given, so that the
    check covers every output element.
    """
    inputs = _private_copies(_as_tuple(inputs))
    outs = _outputs(fn, inputs)
    if grad_outputs is None:
        import numpy as np

        rng = np.random.default_rng(0)
        grad_outputs = [
            Tensor._make(o.xp.asarray(rng.standard_normal(o.shape), dtype=o.dtype), None)
            for o in outs
        ]
    grad_outputs = list(_as_tuple(grad_outputs))

    def first_derivatives(*xs):
        ys = _outputs(fn, xs)
        pairs = [(y, v) for y, v in zip(ys, grad_outputs) if y.requires_grad]
        wanted = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
        grads = grad(
            [y for y, _ in pairs],
            wanted,
            [v for _, v in pairs],
            create_graph=True,
            allow_unused=True,
        )
        return tuple(g if g is not None else x * 0.0 for g, x in zip(grads, wanted))

    return gradcheck(
        first_derivatives, inputs, eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception
    )
