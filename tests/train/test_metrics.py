"""Metrics against hand computations (plain-Python loops, no scikit-learn)."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.backend import ShapeError
from deepgrad.train import metrics as M


def _batches(output: np.ndarray, target: np.ndarray, size: int):
    for i in range(0, len(target), size):
        yield dg.tensor(output[i : i + size]), dg.tensor(target[i : i + size])


def _feed(metric, output, target, size=7):
    for o, t in _batches(output, target, size):
        metric.update(o, t)
    return metric.compute()


@pytest.fixture
def multiclass():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(50, 4)).astype(np.float32)
    target = rng.integers(0, 4, size=50)
    target[:20] = scores[:20].argmax(1)  # make it better than chance
    return scores, target


def _loop_counts(pred, target, c):
    tp = sum(1 for p, t in zip(pred, target) if p == c and t == c)
    fp = sum(1 for p, t in zip(pred, target) if p == c and t != c)
    fn = sum(1 for p, t in zip(pred, target) if p != c and t == c)
    return tp, fp, fn


def test_accuracy_over_batches(multiclass):
    scores, target = multiclass
    pred = [int(np.argmax(row)) for row in scores]
    expected = sum(p == t for p, t in zip(pred, target)) / len(target)
    assert _feed(M.Accuracy(), scores, target) == pytest.approx(expected)


def test_accuracy_binary_threshold():
    probs = np.array([0.1, 0.6, 0.5, 0.9, 0.3], dtype=np.float32)
    target = np.array([0, 1, 0, 0, 0])
    # predictions at 0.5: 0,1,1,1,0 -> correct: yes, yes, no, no, yes
    assert _feed(M.Accuracy(), probs, target, size=2) == pytest.approx(3 / 5)
    logits = probs - 0.5
    assert _feed(M.Accuracy(threshold=0.0), logits, target, size=2) == pytest.approx(3 / 5)


def test_accuracy_reset_and_empty():
    acc = M.Accuracy()
    acc.update(dg.tensor([[1.0, 0.0]]), dg.tensor([1]))
    assert acc.compute() == 0.0
    acc.reset()
    with pytest.raises(RuntimeError, match="no samples"):
        acc.compute()


def test_accuracy_shape_errors():
    with pytest.raises(ShapeError, match=r"\(4, 3\).*\(5,\)"):
        M.Accuracy().update(dg.zeros(4, 3), dg.zeros(5, dtype=dg.int64))
    with pytest.raises(ShapeError, match="integer class indices"):
        M.Accuracy().update(dg.zeros(4, 3), dg.zeros(4))


def test_top_k_accuracy(multiclass):
    scores, target = multiclass
    expected = np.mean([t in np.argsort(-row)[:2] for row, t in zip(scores, target)])
    assert _feed(M.TopKAccuracy(k=2), scores, target) == pytest.approx(expected)
    assert M.TopKAccuracy(k=2).name == "top2_accuracy"
    assert _feed(M.TopKAccuracy(k=4), scores, target) == 1.0
    message = r"^TopKAccuracy: k must be a positive int \(got 0\); k=1 is plain accuracy\.$"
    with pytest.raises(ValueError, match=message):
        M.TopKAccuracy(k=0)
    message = r"^TopKAccuracy: k must be a positive int \(got float 2\.0\)"
    with pytest.raises(TypeError, match=message):
        M.TopKAccuracy(k=2.0)
    assert M.TopKAccuracy(k=np.int64(3)).k == 3 and type(M.TopKAccuracy(k=np.int64(3)).k) is int
    with pytest.raises(ShapeError, match="larger than the number of classes"):
        M.TopKAccuracy(k=5).update(dg.tensor(scores), dg.tensor(target))


def test_confusion_matrix(multiclass):
    scores, target = multiclass
    pred = scores.argmax(1)
    expected = np.zeros((4, 4), dtype=np.int64)
    for p, t in zip(pred, target):
        expected[t, p] += 1
    cm = _feed(M.ConfusionMatrix(), scores, target)
    assert cm.dtype == dg.int64
    np.testing.assert_array_equal(cm.numpy(), expected)


def test_confusion_matrix_checks_labels():
    cm = M.ConfusionMatrix(num_classes=3)
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        cm.update(dg.tensor([0, 1, 3]), dg.tensor([0, 1, 2]))
    with pytest.raises(ShapeError, match="4 classes but num_classes=3"):
        cm.update(dg.zeros(2, 4), dg.tensor([0, 1]))
    with pytest.raises(ValueError, match="num_classes"):
        M.ConfusionMatrix().update(dg.tensor([0, 1]), dg.tensor([0, 1]))


def test_num_classes_is_validated():
    message = (
        r"^ConfusionMatrix: num_classes must be an int >= 2 \(got 1\); "
        r"pass None to take it from the first output's class dimension\.$"
    )
    with pytest.raises(ValueError, match=message):
        M.ConfusionMatrix(num_classes=1)
    message = r"^Recall: num_classes must be an int >= 2 \(got float 3\.0\)"
    with pytest.raises(TypeError, match=message):
        M.Recall(num_classes=3.0)
    assert M.ConfusionMatrix(num_classes=np.int32(3)).num_classes == 3


@pytest.mark.parametrize(
    "cls, formula",
    [
        (M.Precision, lambda tp, fp, fn: tp / (tp + fp) if tp + fp else 0.0),
        (M.Recall, lambda tp, fp, fn: tp / (tp + fn) if tp + fn else 0.0),
        (M.F1, lambda tp, fp, fn: 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0),
    ],
)
def test_precision_recall_f1(multiclass, cls, formula):
    scores, target = multiclass
    pred = scores.argmax(1)
    per_class = [formula(*_loop_counts(pred, target, c)) for c in range(4)]
    assert _feed(cls(average="macro"), scores, target) == pytest.approx(np.mean(per_class))
    np.testing.assert_allclose(_feed(cls(average="none"), scores, target).numpy(), per_class)
    totals = np.sum([_loop_counts(pred, target, c) for c in range(4)], axis=0)
    micro = formula(*totals)
    assert _feed(cls(average="micro"), scores, target) == pytest.approx(micro)
    # single-label problems: micro precision = micro recall = micro F1 = accuracy
    assert micro == pytest.approx(np.mean(pred == target))


def test_binary_average_uses_positive_class():
    probs = np.array([0.9, 0.8, 0.2, 0.7, 0.1, 0.6], dtype=np.float32)
    target = np.array([1, 0, 1, 1, 0, 0])
    # predicted 1 for samples 0, 1, 3, 5 -> tp = 2 (0, 3), fp = 2 (1, 5), fn = 1 (2)
    assert _feed(M.Precision(average="binary"), probs, target) == pytest.approx(2 / 4)
    assert _feed(M.Recall(average="binary"), probs, target) == pytest.approx(2 / 3)
    assert _feed(M.F1(average="binary"), probs, target) == pytest.approx(4 / 7)
    with pytest.raises(ValueError, match="needs 2 classes"):
        _feed(M.F1(average="binary"), np.eye(3, dtype=np.float32), np.arange(3))


def test_macro_ignores_classes_never_seen():
    # class 2 exists in the output but never in target nor prediction
    scores = np.array([[5.0, 0, 0], [0, 5.0, 0], [5.0, 0, 0]], dtype=np.float32)
    target = np.array([0, 1, 1])
    # class 0: tp 1 fp 1 -> 0.5 ; class 1: tp 1 fp 0 -> 1.0
    assert _feed(M.Precision(), scores, target) == pytest.approx(0.75)


def test_average_is_validated():
    message = (
        r"^F1: average must be one of 'macro', 'micro', 'binary', 'none' \(got 'weighted'\)\.$"
    )
    with pytest.raises(ValueError, match=message):
        M.F1(average="weighted")


def test_mse_mae(multiclass):
    rng = np.random.default_rng(1)
    out = rng.normal(size=(30, 2)).astype(np.float32)
    tgt = rng.normal(size=(30, 2)).astype(np.float32)
    diffs = [float(o) - float(t) for o, t in zip(out.ravel(), tgt.ravel())]
    assert _feed(M.MeanSquaredError(), out, tgt) == pytest.approx(
        sum(d * d for d in diffs) / 60, rel=1e-6
    )
    assert _feed(M.MeanAbsoluteError(), out, tgt) == pytest.approx(
        sum(abs(d) for d in diffs) / 60, rel=1e-6
    )


def test_regression_shapes():
    # (N, 1) against (N,) is the same data, not a broadcast to (N, N)
    mse = M.MeanSquaredError()
    mse.update(dg.tensor([[1.0], [2.0]]), dg.tensor([1.0, 4.0]))
    assert mse.compute() == pytest.approx(2.0)
    with pytest.raises(ShapeError, match="same shape"):
        M.MeanSquaredError().update(dg.zeros(3, 2), dg.zeros(3))


def test_r2_score():
    rng = np.random.default_rng(2)
    y = (1000.0 + rng.normal(size=(40, 3))).astype(
        np.float32
    )  # large mean: checks the stable variance merge
    f = (y + 0.3 * rng.normal(size=(40, 3))).astype(np.float32)
    yd, fd = y.astype(np.float64), f.astype(np.float64)
    per_column = []
    for j in range(3):
        mean = sum(yd[:, j]) / 40
        ss_tot = sum((v - mean) ** 2 for v in yd[:, j])
        ss_res = sum((a - b) ** 2 for a, b in zip(yd[:, j], fd[:, j]))
        per_column.append(1 - ss_res / ss_tot)
    assert _feed(M.R2Score(), f, y, size=6) == pytest.approx(np.mean(per_column), rel=1e-9)


def test_r2_constant_target():
    r2 = M.R2Score()
    r2.update(dg.tensor([2.0, 2.0]), dg.tensor([2.0, 2.0]))
    assert r2.compute() == 1.0
    r2.update(dg.tensor([1.0]), dg.tensor([2.0]))
    assert r2.compute() == 0.0


def test_metrics_by_name():
    assert isinstance(M.get_metric("accuracy"), M.Accuracy)
    assert isinstance(M.get_metric("f1"), M.F1)
    acc = M.Accuracy()
    assert M.get_metric(acc) is acc
    with pytest.raises(ValueError, match="allowed names: accuracy, top_k_accuracy, precision"):
        M.get_metric("acc")
    with pytest.raises(TypeError):
        M.get_metric(3)


def test_custom_name():
    assert M.F1(average="micro", name="f1_micro").name == "f1_micro"
    with pytest.raises(ValueError, match="name"):
        M.Accuracy(name="")
