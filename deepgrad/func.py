"""``deepgrad.func``: function transforms in the style of ``torch.func``.

``grad(f)`` returns a function computing the gradient of ``f``; ``value_and_grad``,
``vjp``, ``jacobian``, ``hessian`` and ``hvp`` likewise. They nest
(``grad(grad(f))``) and never write ``.grad`` on any tensor. See
``deepgrad/autograd/transforms.py`` for how they work.

Example:
    >>> import deepgrad as dg
    >>> dg.func.grad(lambda x: (x * x).sum())(dg.tensor([1.0, -3.0])).tolist()
    [2.0, -6.0]
"""

from deepgrad.autograd.transforms import grad, hessian, hvp, jacobian, jacrev, value_and_grad, vjp

__all__ = ["grad", "hessian", "hvp", "jacobian", "jacrev", "value_and_grad", "vjp"]
