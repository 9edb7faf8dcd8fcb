"""Linear algebra primitives: matrix multiplication."""

from __future__ import annotations

from deepgrad.autograd.function import Function
from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import DeviceError, ShapeError


class MatMul(Function):
    """y = a @ b (batched over leading dims).   da = dy @ b^T, db = a^T @ dy"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_inputs(0, 1)
        return a @ b

    @staticmethod
    def backward(ctx, dy):
        a, b = ctx.saved_inputs
        need_a, need_b = ctx.needs_input_grad
        return (dy @ b.mT if need_a else None), (a.mT @ dy if need_b else None)


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product with NumPy's rules: 1-D operands are vectors, leading dims broadcast."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"matmul: both operands must be Tensors (got {type(a).__name__} and {type(b).__name__})")
    ad, bd = a._data, b._data
    if ad.ndim == 0 or bd.ndim == 0:
        raise ShapeError(f"matmul: both operands need at least 1 dimension (got shapes {a.shape} and {b.shape})")
    inner_a = ad.shape[-1]
    inner_b = bd.shape[-2] if bd.ndim > 1 else bd.shape[0]
    if inner_a != inner_b:
        raise ShapeError(
            f"matmul: {a.shape} @ {b.shape}: inner sizes {inner_a} and {inner_b} differ; "
            "transpose one operand or check the layer sizes."
        )
    if type(ad) is not type(bd):
        raise DeviceError(f"matmul: operands are on {a.device} and {b.device}; move one with .to(device) first.")
    if ad.ndim == 1 and bd.ndim == 1:
        return (a * b).sum()
    if ad.ndim == 1:
        return MatMul.apply(a.reshape(1, -1), b).squeeze(-2)
    if bd.ndim == 1:
        return MatMul.apply(a, b.reshape(-1, 1)).squeeze(-1)
    return MatMul.apply(a, b)
