"""TensorBoardLogger writes event files that TensorBoard reads (checked by parsing the records)."""

from __future__ import annotations

import struct

import pytest
from train_helpers import loader, mlp, moons

import deepgrad.nn.functional as F
from deepgrad.optim import SGD
from deepgrad.train import TensorBoardLogger, Trainer

event_pb2 = pytest.importorskip("tensorboardX.proto.event_pb2")
crc32c = pytest.importorskip("tensorboardX.crc32c")


def masked_crc(data: bytes) -> int:
    """TFRecord's masked CRC-32C: rotate right by 15 bits, add 0xa282ead8."""
    crc = crc32c.crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_events(path):
    """Parse a TFRecord file as TensorBoard does: length, masked CRC of the length, data, masked CRC."""
    events = []
    data = path.read_bytes()
    offset = 0
    while offset < len(data):
        (length,) = struct.unpack("<Q", data[offset : offset + 8])
        (length_crc,) = struct.unpack("<I", data[offset + 8 : offset + 12])
        assert length_crc == masked_crc(data[offset : offset + 8])
        body = data[offset + 12 : offset + 12 + length]
        (body_crc,) = struct.unpack("<I", data[offset + 12 + length : offset + 16 + length])
        assert body_crc == masked_crc(body)
        event = event_pb2.Event()
        event.ParseFromString(body)
        events.append(event)
        offset += 16 + length
    return events


def test_event_files_hold_scalars_and_histograms(tmp_path):
    model = mlp(width=8)
    logger = TensorBoardLogger(tmp_path / "tb", step_every=2)
    trainer = Trainer(
        model,
        F.cross_entropy,
        SGD(model.parameters(), lr=0.1),
        metrics=["accuracy"],
        callbacks=[logger],
        progress=False,
    )
    trainer.fit(loader(*moons(64, 0.1, 0), batch_size=16), loader(*moons(32, 0.1, 1)), epochs=2)
    files = list((tmp_path / "tb").glob("events.out.tfevents.*"))
    assert len(files) == 1
    events = read_events(files[0])
    assert events[0].file_version.startswith("brain.Event")
    scalars, histograms = {}, {}
    for event in events:
        for value in event.summary.value:
            if value.HasField("histo"):
                histograms.setdefault(value.tag, []).append((event.step, value.histo))
            else:
                scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    history = trainer.history
    assert [s for s, _ in scalars["train/loss"]] == [1, 2]
    assert [v for _, v in scalars["val/accuracy"]] == pytest.approx(history["val_accuracy"])
    assert [v for _, v in scalars["lr"]] == pytest.approx([0.1, 0.1])
    assert [s for s, _ in scalars["step/loss"]] == [2, 4, 6, 8]
    assert [v for _, v in scalars["step/loss"]] == pytest.approx(
        list(history.step_column("loss")[1::2])
    )
    for name in ("weights/0.weight", "weights/4.bias", "activations/1", "activations/4"):
        assert [s for s, _ in histograms[name]] == [1, 2], name
    assert histograms["weights/0.weight"][0][1].num == 16  # 8 x 2 weights
    assert histograms["activations/1"][0][1].num == 16 * 8  # first batch: 16 samples x 8 units
    assert not any(m._forward_hooks for m in model.modules())


def test_arguments(tmp_path):
    with pytest.raises(ValueError, match="step_every must be an integer >= 0"):
        TensorBoardLogger(tmp_path, step_every=-1)
