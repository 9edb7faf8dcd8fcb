"""The pieces the distributed Trainer is built from, in one process: Metric.sync merges ranks'
sums exactly, DistributedSampler re-shards the rest of an epoch, the helpers are no-ops alone."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.data import BatchSampler
from deepgrad.data.distributed import DistributedSampler
from deepgrad.train import metrics as M
from deepgrad.train.distributed import broadcast_json, unwrap_model, world


def synced_ranks(make, parts):
    """One metric per simulated rank, fed its part, then synced as on MPI: call k of the
    gather returns every rank's array of call k (recorded first with a one-rank gather)."""
    ranks = [make() for _ in parts]
    for metric, (out, target) in zip(ranks, parts):
        metric.update(dg.tensor(out), dg.tensor(target))
    sent = []
    for metric in ranks:
        calls: list[np.ndarray] = []
        copy.deepcopy(metric).sync(lambda a, calls=calls: calls.append(np.asarray(a)) or [a])
        sent.append(calls)
    for metric in ranks:
        counter = iter(range(100))
        metric.sync(lambda a, c=counter: [calls[k] for k in [next(c)] for calls in sent])
    return ranks


@pytest.mark.parametrize(
    "make",
    [M.Accuracy, M.ConfusionMatrix, M.F1, lambda: M.TopKAccuracy(k=2), M.MeanSquaredError],
)
def test_synced_classification_metrics_equal_one_metric_over_all_data(make):
    rng = np.random.default_rng(0)
    out = rng.standard_normal((11, 3)).astype(np.float32)
    target = rng.integers(0, 3, 11)
    if make is M.MeanSquaredError:
        target = rng.standard_normal((11, 3)).astype(np.float32)
    whole = make()
    whole.update(dg.tensor(out), dg.tensor(target))
    ranks = synced_ranks(make, [(out[:4], target[:4]), (out[4:], target[4:])])
    for metric in ranks:
        np.testing.assert_allclose(np.asarray(metric.compute()), np.asarray(whole.compute()))


def test_synced_r2_merges_the_ranks_moments_exactly():
    rng = np.random.default_rng(1)
    y = rng.standard_normal((9, 2)) * 5 + 100
    f = y + rng.standard_normal((9, 2))
    whole = M.R2Score()
    whole.update(dg.tensor(f), dg.tensor(y))
    ranks = synced_ranks(M.R2Score, [(f[:2], y[:2]), (f[2:], y[2:])])
    assert ranks[0].compute() == pytest.approx(whole.compute(), rel=1e-12)


def test_a_custom_metric_without_sums_says_how_to_reduce_it():
    class Odd(M.Metric):
        def reset(self):
            self._seen = 0

        def update(self, output, target):
            self._seen += 1

        def compute(self):
            return float(self._seen)

    with pytest.raises(NotImplementedError, match="set _summed"):
        Odd().sync(lambda a: [a])


@pytest.mark.parametrize("saved, now, start", [(2, 1, 3), (2, 3, 2), (3, 2, 1), (2, 2, 4)])
def test_sampler_resumes_the_rest_of_the_epoch_on_another_number_of_ranks(saved, now, start):
    n = 13
    first = [list(DistributedSampler(range(n), saved, r, seed=4)) for r in range(saved)]
    used = [i for shard in first for i in shard[:start]]
    state = {**DistributedSampler(range(n), saved, 0, seed=4).state_dict(), "start": start}
    rest = []
    for r in range(now):
        sampler = DistributedSampler(range(n), now, r, seed=4)
        sampler.load_state_dict(state)
        rest.append(list(sampler))
    assert len({len(part) for part in rest}) == 1  # every rank the same number of samples
    assert set(used) | {i for part in rest for i in part} == set(range(n))  # all seen
    assert not set(used) & {i for part in rest for i in part[: (n - len(used)) // now]}
    if saved == now:
        assert rest == [shard[start:] for shard in first]


def test_batch_sampler_resumes_with_the_saved_batch_size():
    saved = BatchSampler(DistributedSampler(range(12), 2, 0, shuffle=False), 3)
    state = {**saved.state_dict(), "start": 1}  # one batch of 3 on each of 2 ranks used
    resumed = BatchSampler(DistributedSampler(range(12), 1, 0, shuffle=False), 6)
    resumed.load_state_dict(state)
    assert list(resumed) == [[6, 7, 8, 9, 10, 11]]
    with pytest.raises(ValueError, match="another sampler"):
        plain = DistributedSampler(range(4), 1, 0)
        plain.load_state_dict({"start": 1})
        list(plain)


def test_alone_the_helpers_do_nothing():
    assert world() == (0, 1)
    assert broadcast_json({"a": [1]}) == {"a": [1]}
    model = nn.Linear(2, 1)
    assert unwrap_model(model) is model
