"""Random number generators: every random draw in deepgrad goes through one.

``deepgrad.manual_seed(s)`` reseeds the default generator, which makes
initialization, shuffling, dropout and augmentation repeatable (DESIGN
principle 7). A ``Generator`` wraps a NumPy ``PCG64`` generator for the CPU and,
created lazily, a CuPy generator for CUDA draws, seeded from the same seed.
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

    def __init__(self, device=None):
        self.device: Device = parse_device(device)
        self._seed = 0
        self.np = np.random.Generator(np.random.PCG64(0))
        self._cupy_rng = None

    def manual_seed(self, seed: int) -> "Generator":
        """Reseed; returns self so ``Generator().manual_seed(0)`` reads naturally."""
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise TypeError(f"Generator.manual_seed: seed must be an int (got {seed!r})")
        self._seed = int(seed) & 0xFFFF_FFFF_FFFF_FFFF
        self.np = np.random.Generator(np.random.PCG64(self._seed))
        self._cupy_rng = None
        return self

    def seed(self) -> int:
        """Reseed from the operating system's entropy; returns the new seed."""
        new = int(np.random.SeedSequence().entropy) & 0xFFFF_FFFF_FFFF_FFFF
        self.manual_seed(new)
        return new

    def initial_seed(self) -> int:
        return self._seed

    def rng_for(self, xp):
        """The generator object that draws arrays of module ``xp``."""
        if xp is np:
            return self.np
        if self._cupy_rng is None:
            self._cupy_rng = get_cupy(required=True).random.RandomState(self._seed)
        return self._cupy_rng

    def get_state(self) -> dict:
        """A JSON-able snapshot of the generator (for checkpoints)."""
        return {"seed": self._seed, "bit_generator": self.np.bit_generator.state}

    def set_state(self, state: dict) -> None:
        self._seed = state["seed"]
        self.np = np.random.Generator(np.random.PCG64())
        self.np.bit_generator.state = state["bit_generator"]
        self._cupy_rng = None


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (and so every draw that does not name its own)."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> dict:
    return default_generator.get_state()


def set_rng_state(state: dict) -> None:
    default_generator.set_state(state)
