"""``torch.utils.tensorboard`` under deepgrad: ``SummaryWriter`` writes TensorBoard event files.

The event files are written by tensorboardX (``pip install tensorboardX``, or the extra
``deepgrad[tensorboard]``); view them with ``tensorboard --logdir runs``. The writer takes deepgrad
Tensors (on any device), NumPy arrays and Python numbers wherever PyTorch's takes tensors.

Non-finite values never stop training, because a diverging run is exactly what one wants to see:

- ``add_scalar`` / ``add_scalars`` write nan and inf as they are (TensorBoard plots them as such);
- ``add_histogram`` bins the finite values only (``np.histogram`` cannot bin nan or inf) and writes
  nothing when no finite value is left (PyTorch raises there);
- ``add_image`` / ``add_images`` draw nan as 0 (black) and clip +-inf into the range, as they clip
  every float pixel into [0, 1].

Example:
    >>> import tempfile, deepgrad as dg
    >>> with SummaryWriter(tempfile.mkdtemp()) as writer:
    ...     writer.add_scalar("loss", dg.tensor(0.5), global_step=1)
    ...     writer.add_histogram("weights", dg.randn(100), global_step=1)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import get_array_module

ArrayLike = Tensor | np.ndarray | float | int | Sequence[float]


def _numpy(value: ArrayLike) -> np.ndarray:
    """A deepgrad Tensor (any device), a NumPy array or numbers -> a NumPy array (no graph)."""
    if isinstance(value, Tensor):
        array = value._data
        return array if get_array_module(array) is np else array.get()
    return np.asarray(value)


def _step(global_step: int | Tensor | None) -> int | None:
    if global_step is None:
        return None
    return int(_numpy(global_step))


def _scalar(value: ArrayLike, method: str, tag: str) -> float:
    array = _numpy(value)
    if array.size != 1:
        raise ValueError(
            f"SummaryWriter.{method}: {tag!r} needs one number (got shape {array.shape}); "
            "log a reduction such as loss.mean(), or use add_histogram for many values."
        )
    return float(array.reshape(()))


def _pixels(value: ArrayLike) -> np.ndarray:
    """Image data -> uint8, as PyTorch does: floats in [0, 1] are scaled by 255 and clipped.

    nan becomes 0 and +-inf the ends of the range, so a diverged image still draws.
    """
    array = _numpy(value)
    if array.dtype == np.uint8:
        return array
    array = np.nan_to_num(array.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    return (array * 255.0).clip(0, 255).astype(np.uint8)


class SummaryWriter:
    """Write scalars, histograms, images, figures and text for TensorBoard (as PyTorch's writer).

    Args:
        log_dir: the folder of the event files. Default: ``runs/<date>_<time>_<host><comment>``.
        comment: appended to the default ``log_dir`` (unused with a ``log_dir``). Default: ''.
        purge_step: on resuming a crashed run, drop the events at and after this step so that the
            resumed run does not overlap them. Default: None.
        max_queue: events kept in memory before they are written. Default: 10.
        flush_secs: seconds between writes to disk. Default: 120.
        filename_suffix: appended to the event file's name. Default: ''.

    Example:
        >>> import tempfile
        >>> writer = SummaryWriter(tempfile.mkdtemp(), flush_secs=10)
        >>> for step in range(3):
        ...     writer.add_scalars("loss", {"train": 1.0 / (step + 1), "val": 0.5}, step)
        >>> writer.close()
    """

    def __init__(
        self,
        log_dir: str | os.PathLike | None = None,
        comment: str = "",
        purge_step: int | None = None,
        max_queue: int = 10,
        flush_secs: int = 120,
        filename_suffix: str = "",
    ) -> None:
        try:
            from tensorboardX import SummaryWriter as _Writer
        except ImportError as exc:
            raise ImportError(
                f"SummaryWriter: writing TensorBoard files needs tensorboardX ({exc}); "
                "pip install tensorboardX (or deepgrad[tensorboard])."
            ) from None
        self._writer = _Writer(
            logdir=None if log_dir is None else os.fspath(log_dir),
            comment=comment,
            purge_step=purge_step,
            max_queue=max_queue,
            flush_secs=flush_secs,
            filename_suffix=filename_suffix,
        )
        self.log_dir: str = self._writer.logdir

    def get_logdir(self) -> str:
        """The folder the event files are written to."""
        return self.log_dir

    def add_scalar(
        self,
        tag: str,
        scalar_value: ArrayLike,
        global_step: int | None = None,
        walltime: float | None = None,
        new_style: bool = False,
        double_precision: bool = False,
    ) -> None:
        """Log one number (a float, a one-element Tensor or array) under ``tag`` at ``global_step``.

        ``new_style`` and ``double_precision`` (PyTorch's storage choices) are accepted; the value
        is always stored as TensorBoard's classic 32-bit scalar. nan and inf are written as is.
        """
        del new_style, double_precision  # one storage format here; see the docstring
        value = _scalar(scalar_value, "add_scalar", tag)
        self._writer.add_scalar(tag, value, _step(global_step), walltime)

    def add_scalars(
        self,
        main_tag: str,
        tag_scalar_dict: Mapping[str, ArrayLike],
        global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        """Log several numbers on one chart: ``{"train": loss, "val": val_loss}`` as ``main_tag``.

        Each series goes to its own run folder ``<log_dir>/<main_tag>/<key>`` (tensorboardX's
        layout; PyTorch's is ``<main_tag>_<key>``: TensorBoard draws both the same way).
        """
        values = {
            key: _scalar(v, "add_scalars", f"{main_tag}/{key}")
            for key, v in tag_scalar_dict.items()
        }
        self._writer.add_scalars(main_tag, values, _step(global_step), walltime)

    def add_histogram(
        self,
        tag: str,
        values: ArrayLike,
        global_step: int | None = None,
        bins: str | int | Sequence[float] = "tensorflow",
        walltime: float | None = None,
        max_bins: int | None = None,
    ) -> None:
        """Log the distribution of ``values`` (any shape; flattened), e.g. a layer's weights.

        Args:
            bins: 'tensorflow' (TensorBoard's exponential bins), a NumPy rule ('auto', 'fd', ...),
                a number of bins, or the bin edges. Default: 'tensorflow'.
            max_bins: merge bins down to at most this many. Default: None.

        Only the finite values are binned; when none is left (or ``values`` is empty) nothing is
        written, so a diverged layer never stops training.
        """
        array = _numpy(values).reshape(-1)
        if array.dtype.kind in "fc":
            array = array[np.isfinite(array)]
        if array.size == 0:
            return
        self._writer.add_histogram(tag, array, _step(global_step), bins, walltime, max_bins)

    def add_image(
        self,
        tag: str,
        img_tensor: ArrayLike,
        global_step: int | None = None,
        walltime: float | None = None,
        dataformats: str = "CHW",
    ) -> None:
        """Log one image: uint8 in [0, 255] or floats in [0, 1] (clipped), in ``dataformats``.

        ``dataformats`` is 'CHW' (default), 'HWC', 'HW' (grayscale) ... with C = 1, 3 or 4.
        """
        self._writer.add_image(tag, _pixels(img_tensor), _step(global_step), walltime, dataformats)

    def add_images(
        self,
        tag: str,
        img_tensor: ArrayLike,
        global_step: int | None = None,
        walltime: float | None = None,
        dataformats: str = "NCHW",
    ) -> None:
        """Log a batch of images as one grid (``dataformats`` 'NCHW' by default; see add_image)."""
        self._writer.add_images(tag, _pixels(img_tensor), _step(global_step), walltime, dataformats)

    def add_figure(
        self,
        tag: str,
        figure: Any,
        global_step: int | None = None,
        close: bool = True,
        walltime: float | None = None,
    ) -> None:
        """Log a matplotlib figure (or a list of them) as an image; ``close`` closes it after."""
        self._writer.add_figure(tag, figure, _step(global_step), close, walltime)

    def add_text(
        self,
        tag: str,
        text_string: str,
        global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        """Log text (Markdown is rendered by TensorBoard)."""
        if not isinstance(text_string, str):
            raise TypeError(
                "SummaryWriter.add_text: text_string must be a str "
                f"(got {type(text_string).__name__})."
            )
        self._writer.add_text(tag, text_string, _step(global_step), walltime)

    def add_hparams(
        self,
        hparam_dict: Mapping[str, bool | str | float | int],
        metric_dict: Mapping[str, ArrayLike],
        hparam_domain_discrete: Mapping[str, list] | None = None,
        run_name: str | None = None,
        global_step: int | None = None,
    ) -> None:
        """Log one run's hyperparameters and final metrics for TensorBoard's HParams tab.

        ``hparam_domain_discrete`` (PyTorch's list of allowed values) is accepted; TensorBoard then
        infers the domains from the runs logged.
        """
        del hparam_domain_discrete  # tensorboardX infers the domains
        metrics = {key: _scalar(v, "add_hparams", key) for key, v in metric_dict.items()}
        self._writer.add_hparams(
            dict(hparam_dict), metrics, name=run_name, global_step=_step(global_step)
        )

    def flush(self) -> None:
        """Write the pending events to disk now."""
        self._writer.flush()

    def close(self) -> None:
        """Write the pending events and close the files; the writer cannot be used after."""
        self._writer.close()

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


__all__ = ["SummaryWriter"]
