"""deepgrad.backends: PyTorch's ``torch.backends`` switches, accepted so that PyTorch programs run.

Not to be confused with ``deepgrad.backend`` (singular), where the array modules live.

PyTorch programs set these flags at the top (``torch.backends.cudnn.benchmark = True``) and ask
these questions (``torch.backends.mps.is_available()``). deepgrad keeps every flag (reading one
back gives what was set) but most mean nothing here, and each submodule says which:

- ``cudnn``: ``enabled``, ``benchmark``, ``deterministic``, ``allow_tf32``, ``flags(...)``: no
  effect, deepgrad does not use cuDNN (convolution on CUDA is im2col and one cuBLAS product);
  ``is_available()`` is False, ``version()`` None.
- ``cuda``: ``matmul.allow_tf32``, ``matmul.allow_fp16_reduced_precision_reduction``,
  ``matmul.allow_bf16_reduced_precision_reduction``, ``enable_flash_sdp`` and friends: no effect,
  float32 products are computed in float32 on every device; ``is_built()`` is
  ``deepgrad.cuda.is_available()``.
- ``mps``: ``is_available()`` and ``is_built()`` are False (no Apple-GPU backend).
- ``mkldnn``: ``enabled``: no effect; ``is_available()`` is False (NumPy's BLAS does the work).

Every deepgrad run is deterministic on the CPU for a given seed, with or without
``cudnn.deterministic``.

Example:
    >>> import deepgrad.backends.cudnn as cudnn
    >>> cudnn.benchmark = True
    >>> cudnn.benchmark, cudnn.is_available()
    (True, False)
    >>> cudnn.benchmark = False
"""

from __future__ import annotations

from deepgrad.backends import cuda, cudnn, mkldnn, mps

__all__ = ["cuda", "cudnn", "mkldnn", "mps"]
