"""Data pipeline cost (issue 5) next to the training steps it feeds, all at batch 128:

- ``loader``: one shuffled batch of the shipped MNIST subset through ``DataLoader`` (uint8 -> float32
  images (128, 1, 28, 28) and int64 labels); target: under 5% of the MLP step;
- ``augment``: rotation + translation + elastic distortion of 128 MNIST images (one ``Compose``);
  target: under one LeNet-5 step;
- ``mlp_step``: 784-1000-500-100-10 ReLU MLP, cross-entropy, SGD, forward + backward + update;
- ``lenet_step``: LeNet-5 (conv 6@5x5 pad 2, pool, conv 16@5x5, pool, 120, 84, 10) training step,
  in deepgrad and (when installed) in PyTorch.
"""

import itertools

from harness import Case

from cases._mlp_data import SIZES, data

BATCH = 128


def _mnist():
    import warnings

    from deepgrad.data.datasets import load_embedded_mnist

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        images, labels = load_embedded_mnist(train=True)
    return images, labels


def loader(config):
    from deepgrad.data import DataLoader, ImageArrayDataset

    images, labels = _mnist()
    dataset = ImageArrayDataset(images, labels)
    loader = DataLoader(dataset, batch_size=config["batch"], shuffle=True, drop_last=True)
    state = {"iterator": iter(loader)}

    def step():
        try:
            return next(state["iterator"])
        except StopIteration:
            state["iterator"] = iter(loader)
            return next(state["iterator"])

    return step


def augment(config):
    import numpy as np

    import deepgrad as dg
    from deepgrad.data.augment import Compose, ElasticDistortion, RandomRotation, RandomTranslation

    images, _ = _mnist()
    batch = images[: config["batch"], None].astype(np.float32) / 255
    transform = Compose(
        [RandomRotation(15), RandomTranslation(pixels=2), ElasticDistortion(alpha=34, sigma=4)]
    )
    generator = dg.Generator().manual_seed(0)
    return lambda: transform(batch, generator=generator)


def mlp_step(config):
    import deepgrad as dg
    import deepgrad.nn.functional as F
    from deepgrad import nn
    from deepgrad.optim import SGD

    dg.manual_seed(0)
    layers = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(SIZES)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(SIZES) - 2:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    opt = SGD(model.parameters(), lr=0.01)
    x, y = data(config["batch"])
    x, y = dg.from_numpy(x), dg.from_numpy(y.astype("int64"))

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def lenet_step(config):
    import numpy as np

    import deepgrad as dg
    import deepgrad.nn.functional as F
    from deepgrad import nn
    from deepgrad.ops.conv import conv2d
    from deepgrad.ops.pool import max_pool2d
    from deepgrad.optim import SGD

    dg.manual_seed(0)
    rng = np.random.default_rng(0)

    def param(*shape):
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
        return nn.Parameter(
            dg.tensor((rng.uniform(-1, 1, shape) / np.sqrt(fan_in)).astype(np.float32))
        )

    w1, b1, w2, b2 = param(6, 1, 5, 5), param(6), param(16, 6, 5, 5), param(16)
    fc = [nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)]
    params = [w1, b1, w2, b2] + [p for layer in fc for p in layer.parameters()]
    opt = SGD(params, lr=0.01)
    images, labels = _mnist()
    x = dg.tensor(images[: config["batch"], None].astype(np.float32) / 255)
    y = dg.tensor(labels[: config["batch"]])

    def step():
        h = max_pool2d(F.relu(conv2d(x, w1, b1, padding=2)), 2)
        h = max_pool2d(F.relu(conv2d(h, w2, b2)), 2).reshape(x.shape[0], -1)
        h = F.relu(fc[0](h))
        h = F.relu(fc[1](h))
        loss = F.cross_entropy(fc[2](h), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def torch_lenet_step(config):
    import numpy as np
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5, padding=2),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 16, 5),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(400, 120),
        torch.nn.ReLU(),
        torch.nn.Linear(120, 84),
        torch.nn.ReLU(),
        torch.nn.Linear(84, 10),
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    images, labels = _mnist()
    x = torch.from_numpy(images[: config["batch"], None].astype(np.float32) / 255)
    y = torch.from_numpy(labels[: config["batch"]].astype(np.int64))

    def step():
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


CASE = Case(
    name="data_pipeline",
    description=f"batch {BATCH}: DataLoader batch and MNIST augmentation vs MLP and LeNet-5 training steps",
    implementations={
        "loader": loader,
        "augment": augment,
        "mlp_step": mlp_step,
        "lenet_step": lenet_step,
        "torch_lenet_step": torch_lenet_step,
    },
    reference=("mlp_step", "lenet_step"),
    config={"batch": BATCH},
)
