"""CuPy's ``ElementwiseKernel`` and ``ReductionKernel`` for the fake CuPy, run with NumPy.

``fake_cupy.install(monkeypatch, kernels=True)`` adds them to the fake module, so that
deepgrad's generated CUDA kernels (``deepgrad/compile/passes/cupy_codegen.py``) run, and their
results can be compared with eager mode, on a machine without a GPU. They follow CuPy's
documented semantics:

- ``ElementwiseKernel(in_params, out_params, operation, name, ..., preamble, options)``; a call
  takes the inputs, then optionally the outputs; all are broadcast together, outputs made when
  not given; ``operation`` runs for every element (here: on whole arrays at once).
- ``ReductionKernel(in_params, out_params, map_expr, reduce_expr, post_map_expr, identity,
  name, reduce_type=None, reduce_dims=True, preamble='', options=())``; a call takes the inputs
  (the outputs positionally or as ``out=``), ``axis`` (None: all) and ``keepdims``. ``map_expr``
  maps each element of the broadcast inputs; the mapped values, started from ``identity``, are
  combined by ``reduce_expr`` (of ``a`` and ``b``) along ``axis``, here as a pairwise tree (a
  GPU adds in another order: per-thread runs, then a tree in the block); ``post_map_expr`` sees
  the result as ``a`` and assigns the outputs. The values of the reduction have ``reduce_type``,
  or, when it is None, the first output's type.
- Parameters are ``type name``; ``type`` is a C type (float, double, int, bool) or a one-word
  placeholder (``T``), bound at each call from the arrays' dtypes (a mismatch raises, as CuPy's
  "Type is mismatched"). Host NumPy arrays are refused, as CuPy refuses them.

The C they read is a small subset, and anything else raises ``NotImplementedError``: statements
``type name = expr;``, ``name = expr;``, ``typedef type name;``, ``return expr;`` and ``//``
comments; expressions with literals, names, casts ``(type)x``, unary ``-``, ``* / + -``,
comparisons, ``c ? a : b`` and calls of the math functions (exp, log, log1p, sqrt, tanh and
their ``f`` forms) or of ``__device__`` functions defined in the preamble (no templates). The
arithmetic keeps C's types: float stays float32, a literal ``1.0`` is double, ``(T)0`` is T.
deepgrad's backend kernels (``deepgrad/backend/cuda_kernels.py``: sigmoid, the ReLU gradient,
Adam, LSTM steps) use C templates: keep those ops out of tests that install these kernels.
"""

from __future__ import annotations

import re

import numpy as np

_C_TYPES = {
    "float": np.dtype("float32"),
    "double": np.dtype("float64"),
    "int": np.dtype("int32"),
    "bool": np.dtype("bool"),
}
_MATH = {
    name: ufunc
    for base, ufunc in (
        ("exp", np.exp),
        ("log", np.log),
        ("log1p", np.log1p),
        ("sqrt", np.sqrt),
        ("tanh", np.tanh),
        ("fabs", np.abs),
    )
    for name in (base, base + "f")
}
_TOKEN = re.compile(
    r"\s*(?:(\d+\.\d*(?:[eE][-+]?\d+)?[fF]?|\.\d+(?:[eE][-+]?\d+)?[fF]?|\d+[eE][-+]?\d+[fF]?)"
    r"|(\d+)|([A-Za-z_]\w*)|(<=|>=|==|!=|[-+*/<>?:(),]))"
)
_COMPARE = {
    "<": np.less,
    ">": np.greater,
    "<=": np.less_equal,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}


def _unsupported(what: str) -> NotImplementedError:
    return NotImplementedError(f"fake cupy kernels: {what} is not C this emulator reads")


def _tokens(text: str) -> list[tuple[str, object]]:
    out, position, text = [], 0, text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise _unsupported(repr(text[position:]))
        real, integer, name, op = match.groups()
        if real is not None:
            single = real[-1] in "fF"
            value = float(real.rstrip("fF"))
            out.append(("num", np.float32(value) if single else np.float64(value)))
        elif integer is not None:
            out.append(("num", int(integer)))  # an int: converts to the other operand's type
        elif name is not None:
            out.append(("name", name))
        else:
            out.append(("op", op))
        position = match.end()
    return out


class _Scope:
    """Names (values, their declared dtypes), type names, and the preamble's functions."""

    def __init__(self, types: dict, functions: dict) -> None:
        self.values: dict = {}
        self.declared: dict = {}
        self.types = dict(_C_TYPES, **types)
        self.functions = functions

    def dtype(self, name: str) -> np.dtype:
        if name not in self.types:
            raise _unsupported(f"the type {name!r}")
        return self.types[name]

    def set(self, name: str, value, dtype: np.dtype | None = None) -> None:
        if dtype is not None:
            self.declared[name] = dtype
        dtype = self.declared.get(name)
        self.values[name] = value if dtype is None else _cast(value, dtype)


def _cast(value, dtype: np.dtype):
    array = np.asarray(value)
    return array.astype(dtype) if array.shape else dtype.type(array)


class _Parser:
    """Recursive descent over one expression: ternary < comparison < + - < * / < unary."""

    def __init__(self, text: str, scope: _Scope) -> None:
        self.tokens, self.position, self.scope, self.text = _tokens(text), 0, scope, text

    def peek(self, offset: int = 0):
        index = self.position + offset
        return self.tokens[index] if index < len(self.tokens) else ("end", None)

    def take(self, op: str | None = None):
        token = self.peek()
        if op is not None and token != ("op", op):
            raise _unsupported(f"{self.text!r} (expected {op!r})")
        self.position += 1
        return token

    def value(self):
        result = self.ternary()
        if self.peek()[0] != "end":
            raise _unsupported(repr(self.text))
        return result

    def ternary(self):
        condition = self.compare()
        if self.peek() != ("op", "?"):
            return condition
        self.take("?")
        yes = self.ternary()
        self.take(":")
        no = self.ternary()
        return np.where(condition, yes, no)

    def compare(self):
        left = self.additive()
        while self.peek()[0] == "op" and self.peek()[1] in _COMPARE:
            left = _COMPARE[self.take()[1]](left, self.additive())
        return left

    def additive(self):
        left = self.term()
        while self.peek() in (("op", "+"), ("op", "-")):
            op = self.take()[1]
            right = self.term()
            left = left + right if op == "+" else left - right
        return left

    def term(self):
        left = self.unary()
        while self.peek() in (("op", "*"), ("op", "/")):
            op = self.take()[1]
            right = self.unary()
            if op == "*":
                left = left * right
            elif isinstance(left, int) and isinstance(right, int):
                left = int(left / right)  # C's integer division truncates
            else:
                left = left / right
        return left

    def unary(self):
        kind, text = self.peek()
        if (kind, text) == ("op", "-"):
            self.take()
            return -self.unary()
        is_cast = self.peek(1)[0] == "name" and self.peek(2) == ("op", ")")
        if (kind, text) == ("op", "(") and is_cast and self.peek(1)[1] in self.scope.types:
            self.take()
            dtype = self.scope.dtype(self.take()[1])
            self.take(")")
            return _cast(self.unary(), dtype)
        return self.primary()

    def primary(self):
        kind, text = self.take()
        if kind == "num":
            return text
        if (kind, text) == ("op", "("):
            inner = self.ternary()
            self.take(")")
            return inner
        if kind != "name":
            raise _unsupported(f"{self.text!r} (at {text!r})")
        if self.peek() != ("op", "("):
            if text not in self.scope.values:
                raise NameError(f"fake cupy kernels: {text!r} is not defined in {self.text!r}")
            return self.scope.values[text]
        self.take("(")
        args = []
        while self.peek() != ("op", ")"):
            args.append(self.ternary())
            if self.peek() == ("op", ","):
                self.take()
        self.take(")")
        return self.call(text, args)

    def call(self, name: str, args: list):
        if name in _MATH:
            if name.endswith("f") and name != "fabs":
                args = [_cast(a, np.dtype("float32")) for a in args]
            return _MATH[name](*args)
        if name in self.scope.functions:
            return self.scope.functions[name](self.scope, args)
        raise _unsupported(f"the function {name!r}")


def evaluate(text: str, scope: _Scope):
    """The value of one C expression in ``scope``."""
    return _Parser(text, scope).value()


def run_statements(text: str, scope: _Scope):
    """Run C statements; the value of a ``return``, else None."""
    text = re.sub(r"//[^\n]*", "", text)
    for statement in filter(None, (part.strip() for part in text.split(";"))):
        words = statement.split()
        if words[0] == "return":
            return evaluate(statement[len("return") :], scope)
        if words[0] == "typedef" and len(words) == 3:
            scope.types[words[2]] = scope.dtype(words[1])
            continue
        match = re.fullmatch(r"(?:const\s+)?(?:(\w+)\s+)?(\w+)\s*=(.*)", statement, flags=re.S)
        if match is None:
            raise _unsupported(repr(statement))
        type_name, name, expression = match.groups()
        dtype = scope.dtype(type_name) if type_name else None
        if dtype is None and name not in scope.values:
            raise NameError(f"fake cupy kernels: {name!r} is assigned before it is declared")
        scope.set(name, evaluate(expression, scope), dtype)
    return None


_FUNCTION = re.compile(r"__device__\s+(\w+)\s+(\w+)\s*\(([^)]*)\)\s*\{([^{}]*)\}", flags=re.S)


def parse_preamble(preamble: str) -> dict:
    """The preamble's ``__device__`` functions, each as ``function(scope, args)``."""
    functions: dict = {}
    rest = _FUNCTION.sub("", re.sub(r"//[^\n]*", "", preamble))
    if rest.strip():
        raise _unsupported(f"the preamble part {rest.strip()[:60]!r}")
    for return_type, name, params, body in _FUNCTION.findall(preamble):
        declared = [_param(p) for p in params.split(",") if p.strip()]
        functions[name] = _device_function(return_type, declared, body)
    return functions


def _device_function(return_type: str, params: list, body: str):
    def call(caller: _Scope, args: list):
        scope = _Scope({}, caller.functions)
        scope.types = dict(caller.types)
        for (type_name, name), arg in zip(params, args, strict=True):
            scope.set(name, arg, scope.dtype(type_name))
        result = run_statements(body, scope)
        if result is None:
            raise _unsupported("a function without return")
        return _cast(result, caller.dtype(return_type))

    return call


def _param(text: str) -> tuple[str, str]:
    words = [w for w in text.split() if w != "const"]
    if len(words) != 2 or words[0] == "raw":
        raise _unsupported(f"the parameter {text.strip()!r}")
    return words[0], words[1]


def _params(text: str) -> list[tuple[str, str]]:
    return [_param(p) for p in text.split(",") if p.strip()]


class _Kernel:
    """What both kernels share: parameters, type binding, device checks."""

    device_type: type = np.ndarray  # set by ``kernel_classes``

    def _setup(self, in_params: str, out_params: str, name: str, preamble: str, options) -> None:
        self.in_params, self.out_params = _params(in_params), _params(out_params)
        self.name, self.preamble, self.options = name, preamble, tuple(options)
        self.functions = parse_preamble(preamble)

    def _bind(self, params: list, args: list) -> dict:
        """Placeholder -> dtype, from the arrays (CuPy: 'Type is mismatched')."""
        types: dict = {}
        for (type_name, name), arg in zip(params, args):
            if isinstance(arg, np.ndarray) and not isinstance(arg, self.device_type):
                raise TypeError(f"fake cupy: {self.name}: {name} is a host NumPy array")
            if type_name in _C_TYPES or not isinstance(arg, np.ndarray):
                continue
            if types.setdefault(type_name, arg.dtype) != arg.dtype:
                raise TypeError(f"Type is mismatched. {name} {arg.dtype} {types[type_name]}")
        return types

    def _scope(self, types: dict) -> _Scope:
        return _Scope(types, self.functions)

    def _new(self, shape: tuple, dtype) -> np.ndarray:
        return np.empty(shape, dtype=dtype).view(self.device_type)

    @staticmethod
    def _host(value) -> object:
        return value.view(np.ndarray) if isinstance(value, np.ndarray) else value


class ElementwiseKernel(_Kernel):
    """``cupy.ElementwiseKernel`` run with NumPy (see the module docstring)."""

    def __init__(self, in_params, out_params, operation, name="kernel", reduce_dims=True,
                 preamble="", no_return=False, return_tuple=False, loop_prep="",
                 after_loop="", options=()) -> None:  # fmt: skip
        self._setup(in_params, out_params, name, preamble, options)
        self.operation = operation

    def __call__(self, *args, size=None, stream=None):
        nin, nout = len(self.in_params), len(self.out_params)
        if len(args) not in (nin, nin + nout):
            raise TypeError(f"Wrong number of arguments for {self.name!r}")
        types = self._bind(self.in_params + self.out_params, list(args))
        shape = np.broadcast_shapes(*(np.shape(a) for a in args))
        outputs = list(args[nin:])
        for out in outputs:
            if out.shape != shape:
                raise ValueError(f"Out shape is mismatched: {out.shape} (broadcast: {shape})")
        if not outputs:
            dtypes = [types.get(t) or _C_TYPES[t] for t, _ in self.out_params]
            outputs = [self._new(shape, dtype) for dtype in dtypes]
        scope = self._scope(types)
        for (type_name, name), arg in zip(self.in_params, args[:nin]):
            scope.set(name, np.broadcast_to(self._host(arg), shape), scope.dtype(type_name))
        for (type_name, name), out in zip(self.out_params, outputs):
            scope.set(name, self._host(out).copy(), scope.dtype(type_name))
        with np.errstate(all="ignore"):
            run_statements(self.operation, scope)
        for (_, name), out in zip(self.out_params, outputs):
            out.view(np.ndarray)[...] = scope.values[name]
        return outputs[0] if nout == 1 else tuple(outputs)


class ReductionKernel(_Kernel):
    """``cupy.ReductionKernel`` run with NumPy (see the module docstring)."""

    def __init__(self, in_params, out_params, map_expr, reduce_expr, post_map_expr, identity,
                 name="reduce_kernel", reduce_type=None, reduce_dims=True, preamble="",
                 options=()) -> None:  # fmt: skip
        self._setup(in_params, out_params, name, preamble, options)
        self.map_expr, self.reduce_expr = map_expr, reduce_expr
        self.post_map_expr, self.identity, self.reduce_type = post_map_expr, identity, reduce_type

    def __call__(self, *args, out=None, axis=None, keepdims=False, stream=None):
        nin, nout = len(self.in_params), len(self.out_params)
        if len(args) not in (nin, nin + nout) or (out is not None and len(args) != nin):
            raise TypeError(f"Wrong number of arguments for {self.name!r}")
        outputs = list(args[nin:]) or ([out] if out is not None else [])
        types = self._bind(self.in_params + self.out_params, list(args[:nin]) + outputs)
        shape = np.broadcast_shapes(*(np.shape(a) for a in args[:nin]))
        axes = _axes(axis, len(shape))
        scope = self._scope(types)
        for (type_name, name), arg in zip(self.in_params, args[:nin]):
            scope.set(name, np.broadcast_to(self._host(arg), shape), scope.dtype(type_name))
        reduce_dtype = scope.dtype(self.reduce_type or self.out_params[0][0])
        with np.errstate(all="ignore"):
            mapped = _cast(np.broadcast_to(evaluate(self.map_expr, scope), shape), reduce_dtype)
            reduced = self._reduce(mapped, axes, reduce_dtype, scope)
        if keepdims:
            reduced = reduced.reshape([1 if d in axes else n for d, n in enumerate(shape)])
        for given in outputs:
            if given.shape != reduced.shape:
                raise ValueError(f"Out shape is mismatched: {given.shape}, {reduced.shape}")
        if not outputs:
            dtypes = [scope.dtype(t) for t, _ in self.out_params]
            outputs = [self._new(reduced.shape, dtype) for dtype in dtypes]
        for (type_name, name), given in zip(self.out_params, outputs):
            scope.set(name, self._host(given).copy(), scope.dtype(type_name))
        scope.set("a", reduced, reduce_dtype)
        run_statements(self.post_map_expr, scope)
        for (_, name), given in zip(self.out_params, outputs):
            given.view(np.ndarray)[...] = scope.values[name]
        return outputs[0] if nout == 1 else tuple(outputs)

    def _reduce(self, mapped: np.ndarray, axes: tuple, dtype: np.dtype, scope: _Scope):
        """Combine along ``axes`` with ``reduce_expr``: identity first, then a pairwise tree."""
        kept = [d for d in range(mapped.ndim) if d not in axes]
        rows = np.transpose(mapped, kept + list(axes)).reshape(
            [mapped.shape[d] for d in kept] + [-1]
        )
        identity = _cast(evaluate(self.identity, scope), dtype)
        rows = self._combine(scope, np.full(rows.shape, identity, dtype=dtype), rows, dtype)
        if rows.shape[-1] == 0:
            return np.full(rows.shape[:-1], identity, dtype=dtype)
        while rows.shape[-1] > 1:
            if rows.shape[-1] % 2:
                pad = np.full(rows.shape[:-1] + (1,), identity, dtype=dtype)
                rows = np.concatenate([rows, pad], axis=-1)
            rows = self._combine(scope, rows[..., 0::2], rows[..., 1::2], dtype)
        return rows[..., 0]

    def _combine(self, scope: _Scope, a, b, dtype: np.dtype):
        scope.set("a", a, dtype)
        scope.set("b", b, dtype)
        return _cast(evaluate(self.reduce_expr, scope), dtype)


def _axes(axis, ndim: int) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    normal = tuple(sorted(a % ndim for a in axes)) if ndim else ()
    if any(not -ndim <= a < ndim for a in axes) or len(set(normal)) != len(axes):
        raise ValueError(f"axis {axis} is out of bounds or repeated for {ndim} dimensions")
    return normal


def kernel_classes(device_type: type) -> tuple[type, type]:
    """(ElementwiseKernel, ReductionKernel) that take and make ``device_type`` arrays."""
    attrs = {"device_type": device_type}
    return (
        type("ElementwiseKernel", (ElementwiseKernel,), attrs),
        type("ReductionKernel", (ReductionKernel,), attrs),
    )
