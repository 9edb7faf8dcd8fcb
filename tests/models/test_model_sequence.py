"""SequenceClassifier and CharLM: shapes, gradients, sampling, and short training runs."""

from __future__ import annotations

import numpy as np
import pytest
from model_helpers import directional_gradcheck

import deepgrad as dg
from deepgrad.data import CharVocabulary, DataLoader, TensorDataset, TextDataset, load_corpus
from deepgrad.models import CharLM, SequenceClassifier
from deepgrad.nn import functional as F
from deepgrad.optim import Adam
from deepgrad.train import Trainer


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_classifier_shapes(cell, pooling):
    net = SequenceClassifier(
        3, 8, num_classes=4, cell=cell, pooling=pooling, num_layers=2, dropout=0.1
    )
    assert net(dg.randn(2, 7, 3)).shape == (2, 4)


def test_classifier_on_token_ids_and_bidirectional():
    net = SequenceClassifier(5, 6, num_classes=3, vocab_size=11, bidirectional=True)
    assert net(dg.randint(0, 11, size=(4, 9))).shape == (4, 3)
    assert net.head.in_features == 12


def test_bidirectional_last_joins_each_direction_at_its_own_end():
    dg.manual_seed(0)
    net = SequenceClassifier(2, 3, num_classes=2, cell="gru", bidirectional=True).eval()
    x = dg.randn(2, 5, 2)
    output, _ = net.rnn(x)
    out = output.detach().numpy()
    summary = np.concatenate([out[:, -1, :3], out[:, 0, 3:]], axis=1)
    w, b = net.head.weight.detach().numpy(), net.head.bias.detach().numpy()
    np.testing.assert_allclose(net(x).detach().numpy(), summary @ w.T + b, rtol=1e-5)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_classifier_gradients_match_finite_differences_in_float64(cell):
    dg.manual_seed(0)
    net = SequenceClassifier(2, 3, num_classes=2, cell=cell, pooling="mean").double()
    x = dg.randn(3, 4, 2, dtype=dg.float64, requires_grad=True)
    y = dg.tensor([0, 1, 1])
    directional_gradcheck(lambda: F.cross_entropy(net(x), y), [*net.parameters(), x])


def test_lstm_classifier_remembers_the_first_element_of_a_sequence():
    rng = np.random.default_rng(1)
    x = rng.choice([-1.0, 1.0], size=(512, 10, 1)).astype(np.float32)
    y = (x[:, 0, 0] > 0).astype(
        np.int64
    )  # only the first step decides: the net must carry it to the end
    dg.manual_seed(0)
    net = SequenceClassifier(1, 16, num_classes=2, cell="lstm")
    trainer = Trainer(
        net, F.cross_entropy, Adam(net.parameters(), lr=1e-2), metrics=["accuracy"], progress=False
    )
    trainer.fit(DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True), epochs=8)
    assert trainer.history.epochs[-1]["accuracy"] >= 0.95


def test_bad_classifier_arguments():
    message = (
        r"^SequenceClassifier: cell must be one of 'rnn', 'lstm', 'gru' \(got 'transformer'\)\.$"
    )
    with pytest.raises(ValueError, match=message):
        SequenceClassifier(2, cell="transformer")
    message = (
        r"^SequenceClassifier: pooling must be one of 'last', 'mean', 'max' \(got 'first'\)\.$"
    )
    with pytest.raises(ValueError, match=message):
        SequenceClassifier(2, pooling="first")
    message = r"^SequenceClassifier: dropout must be in \[0, 1\) \(got 1\); it is the probability"
    with pytest.raises(ValueError, match=message):
        SequenceClassifier(2, dropout=1)
    message = r"^CharLM: cell must be one of 'rnn', 'lstm', 'gru' \(got 'x'\)"
    with pytest.raises(ValueError, match=message):
        CharLM(4, cell="x")
    message = r"^CharLM: dropout must be a number \(got NoneType None\); it is"
    with pytest.raises(TypeError, match=message):
        CharLM(4, dropout=None)


# -- CharLM ---------------------------------------------------------------------------------------
def test_char_lm_scores_every_position():
    lm = CharLM(CharVocabulary("abcd"), embedding_dim=4, hidden_size=8, cell="gru")
    x = dg.randint(0, 4, size=(3, 6))
    logits = lm(x)
    assert logits.shape == (3, 6, 4)
    expected = F.cross_entropy(logits.reshape(18, 4), x.reshape(18))
    assert float(lm.loss(logits, x)) == pytest.approx(float(expected), rel=1e-6)


def test_char_lm_gradients_match_finite_differences_in_float64():
    dg.manual_seed(0)
    lm = CharLM(5, embedding_dim=3, hidden_size=4, num_layers=2).double()
    x = dg.randint(0, 5, size=(2, 4))
    y = dg.randint(0, 5, size=(2, 4))
    directional_gradcheck(lambda: lm.loss(lm(x), y), list(lm.parameters()))


def test_generate_extends_the_prefix_repeatably():
    vocab = CharVocabulary("hello world")
    lm = CharLM(vocab, hidden_size=8)
    text = lm.generate("he", length=20, temperature=1.0, generator=dg.Generator().manual_seed(5))
    assert len(text) == 22 and text.startswith("he") and set(text) <= set(vocab.chars)
    again = lm.generate("he", length=20, temperature=1.0, generator=dg.Generator().manual_seed(5))
    assert text == again
    ids = CharLM(7, hidden_size=4).generate([1, 2], length=3)
    assert len(ids) == 5 and all(0 <= i < 7 for i in ids)


def test_zero_temperature_takes_the_most_likely_character_each_time():
    dg.manual_seed(0)
    lm = CharLM(6, hidden_size=8)
    out = lm.generate([0, 1], length=5, temperature=0)
    ids = [0, 1]
    for _ in range(5):
        logits = lm(dg.tensor([ids])).detach().numpy()
        ids.append(int(logits[0, -1].argmax()))
    assert out == ids


def test_low_temperature_concentrates_the_draws():
    dg.manual_seed(0)
    lm = CharLM(6, hidden_size=8)
    hot = lm.generate([0], length=300, temperature=5.0, generator=dg.Generator().manual_seed(0))
    cold = lm.generate([0], length=300, temperature=0.2, generator=dg.Generator().manual_seed(0))
    assert np.bincount(cold).max() > np.bincount(hot).max()


def test_bad_generate_arguments():
    lm = CharLM(4, hidden_size=4)
    with pytest.raises(TypeError, match="no vocabulary"):
        lm.generate("ab")
    message = (
        r"^CharLM\.generate: temperature must be >= 0 \(got -1\); 1 samples the model as is, "
        r"< 1 sharpens, 0 always takes the most likely character\.$"
    )
    with pytest.raises(ValueError, match=message):
        lm.generate([0], temperature=-1)
    message = r"^CharLM\.generate: length must be a non-negative int \(got -1\)\.$"
    with pytest.raises(ValueError, match=message):
        lm.generate([0], length=-1)
    message = r"^CharLM\.generate: length must be a non-negative int \(got float 2\.0\)"
    with pytest.raises(TypeError, match=message):
        lm.generate([0], length=2.0)
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 4\)"):
        lm.generate([9])
    with pytest.raises(ValueError, match="at least one character"):
        lm.generate([])


def test_char_lm_loss_falls_below_the_unigram_entropy():
    text = load_corpus("alice")[:20000]
    data = TextDataset(text, seq_len=32)
    counts = np.bincount(data.ids)
    p = counts[counts > 0] / counts.sum()
    unigram_entropy = float(-(p * np.log(p)).sum())  # the best loss without looking at the context
    dg.manual_seed(0)
    lm = CharLM(data.vocab, embedding_dim=16, hidden_size=64)
    trainer = Trainer(lm, lm.loss, Adam(lm.parameters(), lr=1e-2), progress=False, grad_clip=5.0)
    trainer.fit(
        DataLoader(data, batch_size=16, shuffle=True, generator=dg.Generator().manual_seed(0)),
        epochs=3,
    )
    assert trainer.history.epochs[-1]["loss"] < unigram_entropy - 0.3
