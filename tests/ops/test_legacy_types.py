"""PyTorch's legacy typed constructors and the top-level conveniences the seeds' code uses."""

import numpy as np
import pytest

import deepgrad as dg


@pytest.mark.parametrize(
    "cls, dtype",
    [
        (dg.FloatTensor, "float32"),
        (dg.DoubleTensor, "float64"),
        (dg.LongTensor, "int64"),
        (dg.BoolTensor, "bool"),
    ],
)
def test_legacy_types_make_convert_and_check(cls, dtype):
    sized = cls(2, 3)
    assert sized.shape == (2, 3) and sized.dtype == np.dtype(dtype)
    assert not sized.numpy().any()
    assert cls([1, 0]).dtype == np.dtype(dtype)
    converted = dg.randn(4).type(cls)
    assert converted.dtype == np.dtype(dtype)
    assert isinstance(converted, cls)
    assert not isinstance(dg.zeros(1, dtype="int8"), cls)


def test_legacy_type_rejects_mixed_arguments():
    with pytest.raises(TypeError, match="FloatTensor: pass sizes"):
        dg.FloatTensor([1.0], 2)


def test_softmax_methods_and_functions():
    x = dg.tensor([[0.0, 1000.0], [1.0, 1.0]])
    assert np.allclose(x.softmax(dim=1).numpy(), [[0.0, 1.0], [0.5, 0.5]])
    assert np.allclose(dg.log_softmax(x, 1).numpy(), [[-1000.0, 0.0], [np.log(0.5), np.log(0.5)]])


def test_subpackages_load_on_first_use():
    assert dg.optim.SGD.__name__ == "SGD"
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        dg.nonexistent  # noqa: B018
