"""Device bookkeeping on the fake CuPy: where tensors, gradients, parameters, optimizer state and
batches live, what mixing devices says, and repeatable draws on the CUDA stream."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn
from deepgrad.backend import DeviceError, device_of, scatter_add
from deepgrad.data import DataLoader, TensorDataset


def _on_cuda(t) -> bool:
    return t.device.type == "cuda" and t.is_cuda


# -- tensors ----------------------------------------------------------------------------------------------
def test_to_cuda_cpu_round_trip(fake_cuda):
    x = dg.tensor([[1.0, 2.0], [3.0, 4.0]])
    y = x.to("cuda")
    assert _on_cuda(y) and isinstance(y._data, fake_cuda.ndarray)
    assert y.device == dg.device("cuda:0") and str(y.device) == "cuda:0"
    assert "device='cuda:0'" in repr(y)
    assert x.cuda().device == y.device and x.to(dg.device("cuda")).device == y.device
    back = y.cpu()
    assert type(back._data) is np.ndarray and back.device == dg.device("cpu")
    np.testing.assert_array_equal(back.numpy(), x.numpy())
    np.testing.assert_array_equal(y.numpy(), x.numpy())  # numpy() copies a CUDA tensor to the host
    assert y.to("cuda") is y
    assert y.sum().item() == 10.0 and float(y[1, 1]) == 4.0
    assert y.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    z = x.to("cuda", dg.float64)
    assert _on_cuda(z) and z.dtype == dg.float64


def test_gradients_flow_back_across_the_copy(fake_cuda):
    x = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x.to("cuda") * x.to("cuda")).sum().backward()
    assert type(x.grad._data) is np.ndarray
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])
    w = dg.tensor([1.0, -1.0], device="cuda", requires_grad=True)
    (w.cpu() * 3).sum().backward()
    assert _on_cuda(w.grad)
    np.testing.assert_allclose(w.grad.numpy(), [3.0, 3.0])


CREATORS = {
    "tensor": lambda d: dg.tensor([1.0, 2.0], device=d),
    "as_tensor": lambda d: dg.as_tensor(np.ones(3, np.float32), device=d),
    "zeros": lambda d: dg.zeros(2, 3, device=d),
    "ones": lambda d: dg.ones((2,), device=d),
    "empty": lambda d: dg.empty(4, device=d),
    "full": lambda d: dg.full((2, 2), 1.5, device=d),
    "eye": lambda d: dg.eye(3, device=d),
    "arange": lambda d: dg.arange(5, device=d),
    "linspace": lambda d: dg.linspace(0, 1, 5, device=d),
    "zeros_like": lambda d: dg.zeros_like(dg.ones(2), device=d),
    "ones_like": lambda d: dg.ones_like(dg.ones(2), device=d),
    "full_like": lambda d: dg.full_like(dg.ones(2), 3.0, device=d),
    "empty_like": lambda d: dg.empty_like(dg.ones(2), device=d),
    "rand": lambda d: dg.rand(2, 3, device=d),
    "randn": lambda d: dg.randn(2, 3, device=d, dtype=dg.float64),
    "randint": lambda d: dg.randint(0, 10, (4,), device=d),
    "normal": lambda d: dg.normal(1.0, 2.0, (3,), device=d),
    "uniform": lambda d: dg.uniform(-1.0, 1.0, (3,), device=d),
    "randperm": lambda d: dg.randperm(6, device=d),
    "rand_like": lambda d: dg.rand_like(dg.ones(2, device=d)),
    "randn_like": lambda d: dg.randn_like(dg.ones(2, device=d)),
    "bernoulli": lambda d: dg.bernoulli(dg.full((5,), 0.5, device=d)),
}


@pytest.mark.parametrize("name", sorted(CREATORS))
def test_every_creation_function_honours_device(fake_cuda, name):
    on_cpu, on_gpu = CREATORS[name]("cpu"), CREATORS[name]("cuda")
    assert type(on_cpu._data) is np.ndarray
    assert _on_cuda(on_gpu), f"{name}(device='cuda') made a tensor on {on_gpu.device}"
    assert on_gpu.dtype == on_cpu.dtype and on_gpu.shape == on_cpu.shape


def test_random_draws_on_cuda_are_repeatable_and_in_range(fake_cuda):
    dg.manual_seed(11)
    a = (
        dg.rand(100, device="cuda"),
        dg.randint(3, 7, (50,), device="cuda"),
        dg.randperm(8, device="cuda"),
    )
    dg.manual_seed(11)
    b = (
        dg.rand(100, device="cuda"),
        dg.randint(3, 7, (50,), device="cuda"),
        dg.randperm(8, device="cuda"),
    )
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u.numpy(), v.numpy())
    assert a[0].numpy().min() >= 0 and a[0].numpy().max() < 1
    assert set(a[1].numpy().tolist()) <= {3, 4, 5, 6} and a[1].dtype == dg.int64
    assert sorted(a[2].numpy().tolist()) == list(range(8))


def test_cuda_manual_seed_reseeds_the_gpu_stream_only(fake_cuda):
    dg.manual_seed(0)
    cpu_first = dg.randn(4).numpy()
    dg.manual_seed(0)
    dg.cuda.manual_seed(42)
    cpu_again = dg.randn(4).numpy()
    np.testing.assert_array_equal(cpu_first, cpu_again)  # the CPU stream did not move
    gpu_first = dg.randn(4, device="cuda").numpy()
    dg.cuda.manual_seed(42)
    np.testing.assert_array_equal(dg.randn(4, device="cuda").numpy(), gpu_first)
    dg.cuda.manual_seed(43)
    assert not np.array_equal(dg.randn(4, device="cuda").numpy(), gpu_first)


def test_dropout_masks_on_cuda_are_repeatable(fake_cuda):
    x = dg.ones(8, 16, device="cuda")
    dg.manual_seed(3)
    first = F.dropout(x, 0.5, training=True)
    dg.manual_seed(3)
    second = F.dropout(x, 0.5, training=True)
    assert _on_cuda(first)
    np.testing.assert_array_equal(first.numpy(), second.numpy())
    assert set(np.unique(first.numpy()).tolist()) <= {0.0, 2.0}


# -- mixing devices ---------------------------------------------------------------------------------------
MIXES = {
    "add": lambda g, c: g + c,
    "mul": lambda g, c: c * g,
    "matmul": lambda g, c: g @ c,
    "cat": lambda g, c: dg.cat([g, c]),
    "where": lambda g, c: dg.where(c > 0, g, g),
    "maximum": lambda g, c: dg.maximum(g, c),
    "linear": lambda g, c: F.linear(g, c),
    "conv2d": lambda g, c: F.conv2d(g.reshape(1, 1, 2, 2), c.reshape(1, 1, 2, 2)),
    "mse_loss": lambda g, c: F.mse_loss(g, c),
    "cross_entropy": lambda g, c: F.cross_entropy(g, dg.tensor([0, 1])),
    "gather": lambda g, c: dg.gather(g, 1, dg.tensor([[0], [1]])),
    "index_select": lambda g, c: dg.index_select(g, 0, dg.tensor([1])),
    "embedding": lambda g, c: F.embedding(dg.tensor([0, 1]), g),
}


@pytest.mark.parametrize("name", sorted(MIXES))
def test_mixing_devices_names_both_and_the_fix(fake_cuda, name):
    g = dg.tensor([[1.0, 2.0], [3.0, 4.0]], device="cuda")
    c = dg.tensor([[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(DeviceError, match=r"(?s)(cuda:0.*cpu|cpu.*cuda:0).*\.to\("):
        MIXES[name](g, c)


def test_backward_gradient_on_another_device_is_refused(fake_cuda):
    y = dg.ones(2, device="cuda", requires_grad=True) * 2
    with pytest.raises(
        DeviceError, match=r"gradient for tensor 0 is on cpu but the tensor is on cuda:0.*\.to\("
    ):
        y.backward(dg.ones(2))


# -- modules, optimizers, loaders, trainer ----------------------------------------------------------------
def _model():
    dg.manual_seed(0)
    return nn.Sequential(
        nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.0), nn.Linear(8, 3)
    )


def test_module_to_cuda_moves_parameters_and_buffers_in_place(fake_cuda):
    model = _model()
    params = list(model.parameters())
    assert model.to("cuda") is model
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]
    assert all(_on_cuda(p) for p in model.parameters())
    assert all(_on_cuda(b) for b in model.buffers())
    out = model(dg.randn(5, 4, device="cuda"))
    assert _on_cuda(out)
    with pytest.raises(DeviceError):
        model(dg.randn(5, 4))  # a CPU batch into a CUDA model
    model.cpu()
    assert all(type(p._data) is np.ndarray for p in model.parameters())


OPTIMIZERS = {
    "SGD": lambda ps: dg.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "Adam": lambda ps: dg.optim.Adam(ps, lr=0.01, amsgrad=True),
    "AdamW": lambda ps: dg.optim.AdamW(ps, lr=0.01),
    "RMSprop": lambda ps: dg.optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
    "Adagrad": lambda ps: dg.optim.Adagrad(ps, lr=0.1),
    "Adamax": lambda ps: dg.optim.Adamax(ps, lr=0.01),
    "NAdam": lambda ps: dg.optim.NAdam(ps, lr=0.01),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizers_step_on_cuda_like_on_cpu(fake_cuda, name):
    results = {}
    for device in ("cpu", "cuda"):
        model = _model().to(device)
        opt = OPTIMIZERS[name](model.parameters())
        x, y = dg.randn(6, 4).to(device), dg.tensor([0, 1, 2, 0, 1, 2], device=device)
        for _ in range(3):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
        for state in opt.state.values():
            for value in state.values():
                if isinstance(value, dg.Tensor):
                    assert value.device.type == device, f"{name}: optimizer state on {value.device}"
        assert all(device_of(b).type == device for b in opt._workspace.values())
        results[device] = [p.detach().cpu().numpy() for p in model.parameters()]
    for a, b in zip(results["cpu"], results["cuda"]):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_optimizer_state_loads_onto_the_parameters_device(fake_cuda):
    model = _model()
    opt = dg.optim.Adam(model.parameters(), lr=0.01)
    F.cross_entropy(model(dg.randn(6, 4)), dg.tensor([0, 1, 2, 0, 1, 2])).backward()
    opt.step()
    saved = opt.state_dict()
    gpu_model = _model().to("cuda")
    gpu_opt = dg.optim.Adam(gpu_model.parameters(), lr=0.01)
    gpu_opt.load_state_dict(saved)
    for state in gpu_opt.state.values():
        assert _on_cuda(state["exp_avg"]) and _on_cuda(state["exp_avg_sq"])
    gpu_model.load_state_dict(model.state_dict())  # CPU weights into the CUDA model
    assert all(_on_cuda(p) for p in gpu_model.parameters())


@pytest.mark.parametrize("num_workers", [0, 2])
def test_data_loader_moves_batches_to_the_device(fake_cuda, num_workers):
    data = TensorDataset(dg.randn(10, 3), dg.arange(10))
    batches = list(DataLoader(data, batch_size=4, device="cuda", num_workers=num_workers))
    assert len(batches) == 3
    for x, y in batches:
        assert _on_cuda(x) and _on_cuda(y) and y.dtype == dg.int64


def test_trainer_on_cuda_trains_and_keeps_everything_there(fake_cuda):
    from deepgrad.train import Trainer

    dg.manual_seed(0)
    x = dg.randn(64, 2)
    y = (x[:, 0] > 0).long()
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = dg.optim.Adam(model.parameters(), lr=0.05)
    trainer = Trainer(
        model, F.cross_entropy, opt, metrics=["accuracy"], device="cuda", progress=False
    )
    history = trainer.fit(DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True), epochs=15)
    assert all(_on_cuda(p) for p in model.parameters())
    assert history.epochs[-1]["accuracy"] > 0.9
    assert (
        trainer.evaluate(DataLoader(TensorDataset(x, y), batch_size=32))["loss"]
        < history.epochs[0]["loss"]
    )


# -- backend pieces --------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "int8", "bool", "uint8"])
def test_scatter_add_covers_the_types_cuda_atomics_lack(fake_cuda, dtype):
    index = (np.array([0, 2, 0, 0, 3]),)
    values = np.array([5, 1, 7, 9, 2]).astype(dtype)
    expected = np.zeros(4, dtype)
    np.add.at(expected, index, values)
    target = fake_cuda.zeros(4, dtype=dtype)
    out = scatter_add(fake_cuda, target, index, fake_cuda.asarray(values))
    assert out is target and isinstance(out, fake_cuda.ndarray)
    np.testing.assert_array_equal(target.get(), expected)


def test_large_int64_scatter_add_is_exact(fake_cuda):
    big = 2**62 + 12345
    target = fake_cuda.asarray(np.array([big, -big], dtype=np.int64))
    scatter_add(
        fake_cuda,
        target,
        (np.array([0, 0, 1]),),
        fake_cuda.asarray(np.array([3, 4, -5], dtype=np.int64)),
    )
    assert target.get().tolist() == [big + 7, -big - 5]


def test_save_and_load_a_cuda_tensor(fake_cuda, tmp_path):
    x = dg.randn(3, 2, device="cuda")
    dg.save({"x": x}, tmp_path / "t.safetensors")
    loaded = dg.load(tmp_path / "t.safetensors")["x"]
    assert type(loaded._data) is np.ndarray
    np.testing.assert_array_equal(loaded.numpy(), x.numpy())
    on_gpu = dg.load(tmp_path / "t.safetensors", map_location="cuda")["x"]
    assert _on_cuda(on_gpu)


def test_in_place_updates_and_gradient_accumulation_on_cuda(fake_cuda):
    """CuPy arrays have no flags.writeable: in-place paths and the engine must not ask for it."""
    w = dg.tensor([1.0, 2.0], device="cuda", requires_grad=True)
    for _ in range(2):  # the second backward accumulates into the existing .grad
        (w * w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [4.0, 8.0])
    w.data -= 0.25 * w.grad
    np.testing.assert_allclose(w.detach().numpy(), [0.0, 0.0])
    x = dg.ones(3, device="cuda")
    x += 1
    x.mul_(3).add_(dg.ones(3, device="cuda"), alpha=2)
    assert x.tolist() == [8.0, 8.0, 8.0] and _on_cuda(x)
    x.zero_()
    assert x.tolist() == [0.0, 0.0, 0.0]
    opt = dg.optim.SGD([w], lr=0.1)
    opt.zero_grad(set_to_none=False)
    assert w.grad.tolist() == [0.0, 0.0] and _on_cuda(w.grad)


def test_cuda_draws_speak_numpy_generator_names(fake_cuda):
    rng = dg.default_generator.rng_for(fake_cuda)
    assert rng is dg.default_generator.rng_for(fake_cuda)  # one stream per device, kept
    assert rng.random((2, 3), dtype=np.float32).dtype == np.float32
    assert rng.standard_normal(4).shape == (4,)
    assert 2.0 <= float(rng.normal(3.0, 0.1, size=(50,)).mean()) <= 4.0
    u = rng.uniform(-2.0, -1.0, size=(20,))
    assert float(u.min()) >= -2.0 and float(u.max()) < -1.0
    ints = rng.integers(5, size=(30,))
    assert ints.dtype == np.int64 and set(ints.get().tolist()) <= set(range(5))
    a = fake_cuda.arange(10)
    rng.shuffle(a)
    assert sorted(a.get().tolist()) == list(range(10))
    assert all(isinstance(x, fake_cuda.ndarray) for x in (u, ints, rng.permutation(5)))
