"""utils.tensorboard.SummaryWriter: the event files it writes, read back record by record."""

from __future__ import annotations

import io
import math
import struct
import warnings

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.utils.tensorboard import SummaryWriter

event_pb2 = pytest.importorskip("tensorboardX.proto.event_pb2")
crc32c = pytest.importorskip("tensorboardX.crc32c")


def _masked_crc(data: bytes) -> int:
    """TFRecord's masked CRC-32C: rotate right by 15 bits, add 0xa282ead8."""
    crc = crc32c.crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _events(folder) -> list:
    """Every Event of every event file under ``folder`` (checksums checked as TensorBoard does)."""
    events = []
    for path in sorted(folder.rglob("events.out.tfevents.*")):
        data, offset = path.read_bytes(), 0
        while offset < len(data):
            (length,) = struct.unpack("<Q", data[offset : offset + 8])
            assert struct.unpack("<I", data[offset + 8 : offset + 12])[0] == _masked_crc(
                data[offset : offset + 8]
            )
            body = data[offset + 12 : offset + 12 + length]
            assert struct.unpack("<I", data[offset + 12 + length : offset + 16 + length])[0] == (
                _masked_crc(body)
            )
            event = event_pb2.Event()
            event.ParseFromString(body)
            events.append((path.parent.name, event))
            offset += 16 + length
    return events


def _values(folder, kind: str) -> list[tuple[str, str, int, object]]:
    """(run folder, tag, step, the summary value's ``kind`` field) for each logged value."""
    return [
        (run, value.tag, event.step, getattr(value, kind))
        for run, event in _events(folder)
        for value in event.summary.value
        if value.HasField(kind)
    ]


def test_scalars_from_tensors_arrays_and_numbers(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        writer.add_scalar("loss", dg.tensor(0.5), global_step=0)
        writer.add_scalar("loss", np.float32(0.25), global_step=dg.tensor(1))
        writer.add_scalar("loss", 0.125, 2)
        writer.add_scalar("loss", dg.tensor([0.0625], requires_grad=True), 3)
    got = [(tag, step, value) for _, tag, step, value in _values(tmp_path, "simple_value")]
    assert got == [("loss", 0, 0.5), ("loss", 1, 0.25), ("loss", 2, 0.125), ("loss", 3, 0.0625)]


def test_non_finite_scalars_are_written_as_they_are(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        writer.add_scalar("loss", dg.tensor(float("nan")), 0)
        writer.add_scalar("loss", float("inf"), 1)
        writer.add_scalars("run", {"a": float("-inf"), "b": dg.tensor(1.5)}, 2)
    got = {(run, tag, step): v for run, tag, step, v in _values(tmp_path, "simple_value")}
    assert (
        math.isnan(got[(tmp_path.name, "loss", 0)]) and got[(tmp_path.name, "loss", 1)] == math.inf
    )
    assert got[("a", "run", 2)] == -math.inf and got[("b", "run", 2)] == 1.5
    assert (tmp_path / "run" / "a").is_dir()  # one run folder per series


def test_a_scalar_must_be_one_number(tmp_path):
    with SummaryWriter(tmp_path) as writer, pytest.raises(ValueError, match=r"needs one number"):
        writer.add_scalar("loss", dg.ones(3), 0)


def test_histograms_bin_the_finite_values_and_skip_when_none_is_left(tmp_path):
    values = np.array([0.0, 1.0, 1.0, 2.0, np.nan, np.inf, -np.inf, 3.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from NumPy on the non-finite values
        with SummaryWriter(tmp_path) as writer:
            writer.add_histogram("w", dg.tensor(values), 5)
            writer.add_histogram("w", dg.tensor([np.nan, np.inf]), 6)  # nothing finite: skipped
            writer.add_histogram("w", np.zeros(0), 7)  # empty: skipped
            writer.add_histogram("counts", np.arange(10), 8, bins=5)
    histograms = _values(tmp_path, "histo")
    assert [(tag, step) for _, tag, step, _ in histograms] == [("w", 5), ("counts", 8)]
    w = histograms[0][3]
    assert (w.num, w.min, w.max, w.sum, w.sum_squares) == (5, 0.0, 3.0, 7.0, 15.0)
    assert sum(w.bucket) == 5
    assert histograms[1][3].num == 10 and sum(histograms[1][3].bucket) == 10


def test_images_from_floats_and_uint8_with_non_finite_pixels(tmp_path):
    pixels = np.array([[[0.0, 0.5], [1.0, 2.0]], [[np.nan, np.inf], [-np.inf, -1.0]]], np.float32)
    rgb = np.stack([pixels[0]] * 3)  # CHW
    with SummaryWriter(tmp_path) as writer:
        writer.add_image("float", dg.tensor(rgb), 0)
        writer.add_image("nonfinite", pixels[1], 0, dataformats="HW")
        writer.add_image("uint8", np.full((2, 2, 3), 200, np.uint8), 0, dataformats="HWC")
        writer.add_images("batch", dg.rand(4, 3, 2, 2), 0)
    images = {tag: image for _, tag, _, image in _values(tmp_path, "image")}
    assert set(images) == {"float", "nonfinite", "uint8", "batch"}
    image_module = pytest.importorskip("PIL.Image")

    def decoded(tag):
        return np.asarray(image_module.open(io.BytesIO(images[tag].encoded_image_string)))

    assert (images["float"].height, images["float"].width) == (2, 2)
    np.testing.assert_array_equal(decoded("float")[..., 0], [[0, 127], [255, 255]])
    np.testing.assert_array_equal(
        decoded("nonfinite").reshape(2, 2, -1)[..., 0], [[0, 255], [0, 0]]
    )
    np.testing.assert_array_equal(decoded("uint8"), np.full((2, 2, 3), 200))


def test_text_figure_hparams_flush_and_close(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    writer = SummaryWriter(tmp_path, flush_secs=1)
    writer.add_text("notes", "**lr** = 0.1", 0)
    figure = plt.figure()
    plt.plot([0, 1], [1, 0])
    writer.add_figure("curve", figure, 0)
    assert not plt.fignum_exists(figure.number)  # close=True closes it
    writer.add_hparams({"lr": 0.1, "optimizer": "sgd"}, {"hparam/loss": dg.tensor(0.3)})
    writer.flush()
    tags = {tag for _, tag, _, _ in _values(tmp_path, "tensor")}
    assert "notes/text_summary" in tags
    assert [tag for _, tag, _, _ in _values(tmp_path, "image")] == ["curve"]
    assert writer.get_logdir() == writer.log_dir == str(tmp_path)
    writer.close()
    hparam_values = [
        v for run, tag, _, v in _values(tmp_path, "simple_value") if tag == "hparam/loss"
    ]
    assert hparam_values == [pytest.approx(0.3)]


def test_default_log_dir_carries_the_comment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with SummaryWriter(comment="_lr0.1") as writer:
        writer.add_scalar("x", 1.0, 0)
    (run,) = (tmp_path / "runs").iterdir()
    assert run.name.endswith("_lr0.1") and writer.log_dir.startswith("runs")
    assert len(list(run.glob("events.out.tfevents.*"))) == 1


def test_purge_step_and_filename_suffix_reach_the_file(tmp_path):
    with SummaryWriter(tmp_path, filename_suffix=".first") as writer:
        for step in range(4):
            writer.add_scalar("x", float(step), step)
    with SummaryWriter(tmp_path, purge_step=2, filename_suffix=".resumed") as writer:
        writer.add_scalar("x", 20.0, 2)
    assert len(list(tmp_path.glob("events.out.tfevents.*.first"))) == 1
    events = [event for _, event in _events(tmp_path)]
    purges = [e for e in events if e.session_log.status == event_pb2.SessionLog.START]
    assert len(purges) == 1 and purges[0].step == 2


def test_add_text_needs_a_string(tmp_path):
    with SummaryWriter(tmp_path) as writer, pytest.raises(TypeError, match="must be a str"):
        writer.add_text("notes", 3, 0)
