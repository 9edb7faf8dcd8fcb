"""Random number generators: every random draw in deepgrad goes through one.

``deepgrad.manual_seed(s)`` reseeds the default generator, which makes
initialization, shuffling, dropout and augmentation repeatable (DESIGN
principle 7). A ``Generator`` wraps a NumPy ``PCG64`` generator for the CPU and,
created lazily, one CuPy ``RandomState`` per CUDA device for draws on the GPU, seeded from
the same seed (or from the one ``deepgrad.cuda.manual_seed`` gave). The CuPy generators are
wrapped in ``CupyDraws``, which speaks the NumPy ``Generator`` method names that deepgrad's
creation functions use, so ``gen.rng_for(xp).random(shape)`` works on both backends.

The GPU stream is a different random sequence from the CPU one (cuRAND, not PCG64): a seed
makes each device repeatable, not the two devices equal.
"""

from __future__ import annotations

import numpy as np

from deepgrad.backend.device import Device, get_cupy, parse_device


class Generator:
    """A seeded source of random numbers, like ``torch.Generator``.

    Args:
        device: where the draws are made ("cpu" or "cuda"). Default: "cpu".

    Example:
        >>> g = Generator().manual_seed(0)
        >>> a = g.np.random()
        >>> _ = g.manual_seed(0)
        >>> a == g.np.random()
        True
    """

    _cupy_rng = None  # {device index: CupyDraws}, made on the first draw on a GPU
    _cuda_seed = None  # set by deepgrad.cuda.manual_seed; None: follow the seed

    def __init__(self, device=None):
        self.device: Device = parse_device(device)
        self._seed = 0
        self.np = np.random.Generator(np.random.PCG64(0))

    def manual_seed(self, seed: int) -> Generator:
        """Reseed; returns self so ``Generator().manual_seed(0)`` reads naturally."""
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise TypeError(f"Generator.manual_seed: seed must be an int (got {seed!r})")
        self._seed = int(seed) & 0xFFFF_FFFF_FFFF_FFFF
        self.np = np.random.Generator(np.random.PCG64(self._seed))
        self._cupy_rng = None
        self._cuda_seed = None
        return self

    def manual_seed_cuda(self, seed: int) -> Generator:
        """Reseed only the CUDA draws (every device), leaving the CPU stream where it is.

        ``deepgrad.cuda.manual_seed`` calls this on the default generator. Works without a GPU
        (the seed is kept for when one is used), as in PyTorch.
        """
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise TypeError(f"Generator.manual_seed_cuda: seed must be an int (got {seed!r})")
        self._cuda_seed = int(seed) & 0xFFFF_FFFF_FFFF_FFFF
        self._cupy_rng = None
        return self

    def initial_seed_cuda(self) -> int:
        """The seed the CUDA draws started from."""
        return self._seed if self._cuda_seed is None else self._cuda_seed

    def seed(self) -> int:
        """Reseed from the operating system's entropy; returns the new seed."""
        new = int(np.random.SeedSequence().entropy) & 0xFFFF_FFFF_FFFF_FFFF
        self.manual_seed(new)
        return new

    def initial_seed(self) -> int:
        """The seed this generator was last seeded with."""
        return self._seed

    def rng_for(self, xp):
        """The generator that draws arrays of module ``xp``: NumPy's, or the CUDA one of the current device."""
        if xp is np:
            return self.np
        cupy = get_cupy(required=True)
        index = cupy.cuda.runtime.getDevice()
        draws = self._cupy_rng
        if draws is None:
            draws = self._cupy_rng = {}
        rng = draws.get(index)
        if rng is None:
            rng = draws[index] = CupyDraws(
                cupy.random.RandomState(np.uint64(self.initial_seed_cuda()))
            )
        return rng

    def get_state(self) -> dict:
        """A JSON-able snapshot of the generator (for checkpoints).

        It holds the CPU stream; after ``set_state`` the CUDA draws start again from their seed.
        """
        return {"seed": self._seed, "bit_generator": self.np.bit_generator.state}

    def set_state(self, state: dict) -> None:
        """Restore a state returned by ``get_state()``."""
        self._seed = state["seed"]
        self.np = np.random.Generator(np.random.PCG64())
        self.np.bit_generator.state = state["bit_generator"]
        self._cupy_rng = None
        self._cuda_seed = None


class CupyDraws:
    """A CuPy ``RandomState`` behind the NumPy ``Generator`` method names deepgrad draws with.

    CuPy's ``RandomState`` follows NumPy's legacy API (``random_sample``, ``randint``); deepgrad's
    creation functions call ``random``, ``standard_normal``, ``integers`` and ``permutation`` on
    whatever ``Generator.rng_for`` returns, and get arrays on the current GPU.
    """

    def __init__(self, random_state):
        self.random_state = random_state

    def random(self, size=None, dtype=np.float64):
        """Uniform samples in [0, 1) (float32 or float64)."""
        return self.random_state.random_sample(size=size, dtype=dtype)

    def standard_normal(self, size=None, dtype=np.float64):
        return self.random_state.standard_normal(size=size, dtype=dtype)

    def normal(self, loc=0.0, scale=1.0, size=None, dtype=np.float64):
        return self.random_state.normal(loc, scale, size=size, dtype=dtype)

    def uniform(self, low=0.0, high=1.0, size=None, dtype=np.float64):
        return self.random_state.uniform(low, high, size=size, dtype=dtype)

    def integers(self, low, high=None, size=None, dtype=np.int64):
        """Integers uniform in [low, high) (in [0, low) without high), like NumPy's ``Generator.integers``."""
        return self.random_state.randint(low, high, size=size, dtype=dtype)

    randint = integers

    def permutation(self, n):
        return self.random_state.permutation(n)

    def shuffle(self, array) -> None:
        self.random_state.shuffle(array)


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (and so every draw that does not name its own)."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the default generator from the operating system's entropy; returns the seed used."""
    return default_generator.seed()


def initial_seed() -> int:
    """The seed the default generator was last seeded with."""
    return default_generator.initial_seed()


def get_rng_state() -> dict:
    """The default generator's state (a dict), for ``set_rng_state`` to restore later."""
    return default_generator.get_state()


def set_rng_state(state: dict) -> None:
    """Restore the default generator's state from ``get_rng_state()``."""
    default_generator.set_state(state)
