"""Function transforms: ``grad(f)`` is a new function that returns the gradient of ``f``.

They follow ``torch.func``: a transform takes a function of Tensors and returns
a function of Tensors; nothing is accumulated into any ``.grad`` (neither of the
arguments nor of tensors the function closes over, such as a model's weights).

How they work: each differentiated argument is replaced by a fresh *alias* (a
new leaf sharing its memory, or a new graph node when the argument is itself
being differentiated by an outer transform), the function runs with graph
recording on, and ``deepgrad.autograd.grad`` takes the gradient with respect to
the aliases. Inside another transform the gradient is computed with
``create_graph=True``, so transforms nest: ``hessian(f)`` is
``jacobian(grad(f))``. At the top level the results are plain tensors
(``requires_grad=False``), unless an argument requires grad, in which case they
stay differentiable by ordinary ``backward()``. Tensors that the function only
closes over do not count: to differentiate a result through them, pass them as
arguments.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from deepgrad.autograd.function import Function
from deepgrad.autograd.functional import grad as _autograd_grad
from deepgrad.autograd.grad_mode import GradMode
from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import DTypeError

_depth = 0  # how many transforms are running their function right now


class _Alias(Function, register=False):
    """y = x (the same array, a new node of the graph).   dx = dy"""

    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, dy):
        return dy


class _Stack(Function, register=False):
    """y = the inputs stacked along a new first dimension.   dx_i = dy[i]"""

    @staticmethod
    def forward(ctx, *xs):
        return ctx.xp.stack(xs)

    @staticmethod
    def backward(ctx, dy):
        return tuple(dy[i] if need else None for i, need in enumerate(ctx.needs_input_grad))


class _Level:
    """The function of a transform runs with graph recording on and the nesting depth raised."""

    def __enter__(self):
        global _depth
        self.previous = GradMode.enabled
        GradMode.enabled = True
        _depth += 1

    def __exit__(self, *exc) -> bool:
        global _depth
        _depth -= 1
        GradMode.enabled = self.previous
        return False


def _tracking(tensors) -> bool:
    """Whether the results must stay differentiable: inside another transform, or an argument requires grad."""
    return GradMode.enabled and (_depth > 0 or any(t._requires_grad for t in tensors))


def _argnums(name: str, argnums, n_args: int) -> tuple:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums or not all(isinstance(i, int) for i in nums):
        raise TypeError(
            f"{name}: argnums must be an int or a non-empty tuple of ints (got {argnums!r})"
        )
    for i in nums:
        if not -n_args <= i < n_args:
            raise ValueError(
                f"{name}: argnums {argnums!r} is out of range for a call with {n_args} positional argument(s)."
            )
    return tuple(i % n_args for i in nums)


def _alias(name: str, x, position: int, track: bool) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(
            f"{name}: argument {position} is a {type(x).__name__}, not a Tensor; only Tensor arguments "
            "can be differentiated (convert with deepgrad.tensor(...))."
        )
    if x._data.dtype.kind not in "fV":
        raise DTypeError(
            f"{name}: argument {position} has dtype {x.dtype}, but only floating-point tensors can be "
            "differentiated; convert it with .float() or .double()."
        )
    if track and x._requires_grad:
        return _Alias.apply(x)
    alias = Tensor._make(x._data, None)
    alias._requires_grad = True
    return alias


def _as_tensors(name: str, what: str, value) -> tuple[list, bool]:
    """A Tensor or a tuple/list of Tensors -> (list of Tensors, whether it was a single Tensor)."""
    if isinstance(value, Tensor):
        return [value], True
    if isinstance(value, (tuple, list)) and all(isinstance(v, Tensor) for v in value):
        return list(value), False
    raise TypeError(
        f"{name}: {what} must be a Tensor or a tuple of Tensors (got {type(value).__name__})."
    )


def _split_aux(name: str, result, has_aux: bool):
    if not has_aux:
        return result, None
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise TypeError(
            f"{name}: with has_aux=True the function must return a pair (output, aux) (got {type(result).__name__})."
        )
    return result[0], result[1]


def _detach(value):
    """Detach every Tensor in a nest of tuples, lists and dicts."""
    if isinstance(value, Tensor):
        return value.detach()
    if isinstance(value, (tuple, list)):
        return type(value)(_detach(v) for v in value)
    if isinstance(value, dict):
        return {k: _detach(v) for k, v in value.items()}
    return value


def _gradients(outputs, aliases, cotangents, create_graph: bool, retain_graph: bool) -> list:
    """d(outputs . cotangents)/d(aliases); zeros for aliases the outputs do not depend on."""
    pairs = [(o, v) for o, v in zip(outputs, cotangents) if o._requires_grad]
    if pairs:
        found = _autograd_grad(
            [o for o, _ in pairs],
            aliases,
            [v for _, v in pairs],
            retain_graph=retain_graph,
            create_graph=create_graph,
            allow_unused=True,
        )
    else:
        found = [None] * len(aliases)
    return [g if g is not None else _zeros_like(a) for g, a in zip(found, aliases)]


def _zeros_like(t: Tensor) -> Tensor:
    return Tensor._make(t.xp.zeros(t.shape, dtype=t.dtype), None)


def _scalar_output(name: str, out) -> Tensor:
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}: the function must return a Tensor (got {type(out).__name__}).")
    if out._data.size != 1:
        raise RuntimeError(
            f"{name}: the function must return a one-element tensor (got shape {out.shape}); "
            "reduce it (e.g. .sum()), or use vjp or jacobian for non-scalar outputs."
        )
    return out


def value_and_grad(func: Callable, argnums=0, has_aux: bool = False) -> Callable:
    """A function returning ``(func(*args), d func / d args[argnums])``.

    Args:
        func: a function of Tensors returning a one-element Tensor (and, with
            ``has_aux``, a pair ``(output, aux)``).
        argnums: which positional argument(s) to differentiate: an int, or a tuple
            of ints for a tuple of gradients. Default: 0.
        has_aux: ``func`` returns ``(output, aux)``; the result is then
            ``((value, aux), gradient)``.

    Returns:
        A function with ``func``'s arguments returning ``(value, gradient)``.

    Example:
        >>> import deepgrad as dg
        >>> value, g = value_and_grad(lambda x: (x * x).sum())(dg.tensor([1.0, 2.0]))
        >>> value.item(), g.tolist()
        (5.0, [2.0, 4.0])
    """

    return _value_and_grad(func, argnums, has_aux, "value_and_grad")


def _value_and_grad(func: Callable, argnums, has_aux: bool, name: str) -> Callable:
    @functools.wraps(func)
    def value_and_grad_f(*args, **kwargs):
        nums = _argnums(name, argnums, len(args))
        track = _tracking([a for i, a in enumerate(args) if i in nums and isinstance(a, Tensor)])
        args = list(args)
        aliases = []
        for i in nums:
            args[i] = _alias(name, args[i], i, track)
            aliases.append(args[i])
        with _Level():
            out, aux = _split_aux(name, func(*args, **kwargs), has_aux)
            out = _scalar_output(name, out)
            grads = _gradients([out], aliases, [None], create_graph=track, retain_graph=track)
        if not track:
            out, aux = out.detach(), _detach(aux)
        gradient = grads[0] if isinstance(argnums, int) else tuple(grads)
        return ((out, aux), gradient) if has_aux else (out, gradient)

    return value_and_grad_f


def grad(func: Callable, argnums=0, has_aux: bool = False) -> Callable:
    """A function returning the gradient of ``func`` with respect to ``args[argnums]``.

    Args:
        func: a function of Tensors returning a one-element Tensor (and, with
            ``has_aux``, a pair ``(output, aux)``).
        argnums: which positional argument(s) to differentiate: an int, or a tuple
            of ints for a tuple of gradients. Default: 0.
        has_aux: ``func`` returns ``(output, aux)``; the result is then ``(gradient, aux)``.

    Returns:
        A function with ``func``'s arguments returning the gradient(s), each of its
        argument's shape. No ``.grad`` is written anywhere.

    Example:
        >>> import deepgrad as dg
        >>> grad(lambda x: (x ** 3).sum())(dg.tensor([1.0, 2.0])).tolist()
        [3.0, 12.0]
        >>> grad(grad(lambda x: x ** 3))(dg.tensor(2.0)).item()  # second derivative, 6 x
        12.0
    """
    value_and_grad_f = _value_and_grad(func, argnums, has_aux, "grad")

    @functools.wraps(func)
    def grad_f(*args, **kwargs):
        value, gradient = value_and_grad_f(*args, **kwargs)
        return (gradient, value[1]) if has_aux else gradient

    return grad_f


def vjp(func: Callable, *primals, has_aux: bool = False):
    """Run ``func(*primals)`` and return its output with a function computing vector-Jacobian products.

    ``vjp_fn(cotangents)`` returns ``cotangents . d output / d primals``, one Tensor per
    primal; it can be called several times.

    Args:
        func: a function of Tensors returning a Tensor or a tuple of Tensors.
        *primals: the Tensors to evaluate ``func`` at (all are differentiated).
        has_aux: ``func`` returns ``(output, aux)``; the result is then ``(output, vjp_fn, aux)``.

    Returns:
        ``(output, vjp_fn)``; ``vjp_fn`` takes one cotangent per output (a Tensor of its
        shape, or a tuple for a tuple output) and returns a tuple of gradients.

    Example:
        >>> import deepgrad as dg
        >>> out, vjp_fn = vjp(lambda x: x * x, dg.tensor([1.0, 2.0]))
        >>> vjp_fn(dg.tensor([1.0, 10.0]))[0].tolist()
        [2.0, 40.0]
    """
    if not primals:
        raise TypeError("vjp: pass at least one primal (the Tensors to evaluate func at)")
    track = _tracking([p for p in primals if isinstance(p, Tensor)])
    aliases = [_alias("vjp", p, i, track) for i, p in enumerate(primals)]
    with _Level():
        out, aux = _split_aux("vjp", func(*aliases), has_aux)
    outputs, single = _as_tensors("vjp", "the output of func", out)

    def vjp_fn(cotangents):
        if single and isinstance(cotangents, Tensor):
            cotangents = [cotangents]
        cotangents, _ = _as_tensors("vjp_fn", "cotangents", cotangents)
        if len(cotangents) != len(outputs):
            raise ValueError(
                f"vjp_fn: got {len(cotangents)} cotangents for {len(outputs)} outputs; pass one per output."
            )
        for i, (o, v) in enumerate(zip(outputs, cotangents)):
            if v.shape != o.shape:
                raise RuntimeError(
                    f"vjp_fn: cotangent {i} has shape {v.shape} but output {i} has shape {o.shape}; they must match."
                )
        create = _tracking(cotangents) or track
        return tuple(
            _gradients(outputs, aliases, cotangents, create_graph=create, retain_graph=True)
        )

    if not track:
        out = _detach(out)
        aux = _detach(aux)
    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


def jacobian(func: Callable, argnums=0, has_aux: bool = False) -> Callable:
    """A function returning the Jacobian of ``func`` (reverse mode: one backward pass per output element).

    For an output of shape ``S`` and an argument of shape ``A`` the Jacobian has shape
    ``S + A``: ``J[i..., j...] = d out[i...] / d arg[j...]``.

    Args:
        func: a function of Tensors returning a Tensor or a tuple of Tensors.
        argnums: which positional argument(s) to differentiate: an int, or a tuple of ints.
        has_aux: ``func`` returns ``(output, aux)``; the result is then ``(jacobian, aux)``.

    Returns:
        A function returning the Jacobian; a tuple over ``argnums`` when it is a tuple,
        inside a tuple over the outputs when ``func`` returns a tuple.

    Example:
        >>> import deepgrad as dg
        >>> jacobian(lambda x: x * x)(dg.tensor([1.0, 2.0])).tolist()
        [[2.0, 0.0], [0.0, 4.0]]
    """

    @functools.wraps(func)
    def jacobian_f(*args, **kwargs):
        nums = _argnums("jacobian", argnums, len(args))
        track = _tracking([a for i, a in enumerate(args) if i in nums and isinstance(a, Tensor)])
        args = list(args)
        aliases = []
        for i in nums:
            args[i] = _alias("jacobian", args[i], i, track)
            aliases.append(args[i])
        with _Level():
            out, aux = _split_aux("jacobian", func(*args, **kwargs), has_aux)
            outputs, single = _as_tensors("jacobian", "the output of func", out)
            per_output = [_jacobian_of(o, aliases, track) for o in outputs]
        per_output = [j[0] if isinstance(argnums, int) else tuple(j) for j in per_output]
        result = per_output[0] if single else tuple(per_output)
        if has_aux:
            return result, (aux if track else _detach(aux))
        return result

    return jacobian_f


def _jacobian_of(out: Tensor, aliases: list, track: bool) -> list:
    """[d out / d a for a in aliases], each of shape out.shape + a.shape."""
    xp = out.xp
    n = out._data.size
    rows = []
    for k in range(n):
        onehot = xp.zeros(n, dtype=out.dtype)
        onehot[k] = 1
        rows.append(
            _gradients([out], aliases, [Tensor._make(onehot.reshape(out.shape), None)], track, True)
        )
    jacobians = []
    for j, a in enumerate(aliases):
        column = [row[j] for row in rows]
        if not column:
            stacked = Tensor._make(xp.zeros((0,) + a.shape, dtype=a.dtype), None)
        elif track:
            stacked = _Stack.apply(*column)
        else:
            stacked = Tensor._make(xp.stack([g._data for g in column]), None)
        jacobians.append(stacked.reshape(out.shape + a.shape))
    return jacobians


def hessian(func: Callable, argnums=0) -> Callable:
    """A function returning the Hessian of a scalar ``func``: the Jacobian of its gradient.

    For an argument of shape ``A`` the Hessian has shape ``A + A``.

    Example:
        >>> import deepgrad as dg
        >>> hessian(lambda x: (x ** 3).sum())(dg.tensor([1.0, 2.0])).tolist()
        [[6.0, 0.0], [0.0, 12.0]]
    """
    return jacobian(grad(func, argnums), argnums)


def hvp(func: Callable, primals, tangents):
    """Hessian-vector product of a scalar ``func`` at ``primals`` with ``tangents``, without forming the Hessian.

    Two reverse passes: ``H v = d/dx (grad f(x) . v)``; costs about two gradients,
    whatever the size of ``x``.

    Args:
        func: a function of Tensors returning a one-element Tensor.
        primals: a Tensor or a tuple of Tensors (the point).
        tangents: the vector(s) ``v``, shaped like ``primals``.

    Returns:
        ``(func(*primals), H v)``; ``H v`` is a Tensor, or a tuple when ``primals`` is a tuple.

    Example:
        >>> import deepgrad as dg
        >>> value, hv = hvp(lambda x: (x ** 3).sum(), dg.tensor([1.0, 2.0]), dg.tensor([1.0, 1.0]))
        >>> hv.tolist()
        [6.0, 12.0]
    """
    primals, single = _as_tensors("hvp", "primals", primals)
    tangents, _ = _as_tensors("hvp", "tangents", tangents)
    if len(tangents) != len(primals):
        raise ValueError(
            f"hvp: got {len(tangents)} tangents for {len(primals)} primals; pass one per primal."
        )
    for i, (p, v) in enumerate(zip(primals, tangents)):
        if v.shape != p.shape:
            raise RuntimeError(
                f"hvp: tangent {i} has shape {v.shape} but primal {i} has shape {p.shape}; they must match."
            )
    track = _tracking(primals + tangents)
    aliases = [_alias("hvp", p, i, track) for i, p in enumerate(primals)]
    with _Level():
        out = _scalar_output("hvp", func(*aliases))
        grads = _gradients([out], aliases, [None], create_graph=True, retain_graph=True)
        dot = None
        for g, v in zip(grads, tangents):
            term = (g * v).sum()
            dot = term if dot is None else dot + term
        products = _gradients([dot], aliases, [None], create_graph=track, retain_graph=track)
    if not track:
        out = out.detach()
    return out, (products[0] if single else tuple(products))


jacrev = jacobian  # PyTorch's name (torch.func.jacrev): the Jacobian by reverse mode
