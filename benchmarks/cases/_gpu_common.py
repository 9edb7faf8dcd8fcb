"""Shared by the gpu_* cases: a library on a device, and the wait that makes GPU steps timeable.

GPU work is asynchronous: a step returns when its kernels are queued, not done. Every GPU step
therefore ends with a device synchronization, so that the harness times the work itself.
Setup raises when the library has no usable GPU here, and the harness reports the
implementation as skipped with that message.
"""

import importlib


def library_on(library: str, device: str):
    """(module, synchronize) for ``library`` ('deepgrad' or 'torch') on ``device`` ('cpu' or 'cuda')."""
    lib = importlib.import_module(library)
    if device == "cpu":
        return lib, lambda: None
    if library == "deepgrad":
        if not lib.cuda.is_available():
            raise RuntimeError(f"deepgrad has no GPU here: {lib.cuda.unavailable_reason()}")
    elif not lib.cuda.is_available():
        raise RuntimeError("torch has no GPU here (torch.cuda.is_available() is False)")
    return lib, lib.cuda.synchronize


def implementations(setup_for) -> dict:
    """The implementations every GPU case compares: deepgrad and PyTorch on CUDA, and deepgrad on the CPU
    (for the CPU-to-GPU speed-up). ``setup_for(library, device)`` returns a setup function."""
    return {
        "deepgrad_cuda": setup_for("deepgrad", "cuda"),
        "torch_cuda": setup_for("torch", "cuda"),
        "deepgrad_cpu": setup_for("deepgrad", "cpu"),
    }
