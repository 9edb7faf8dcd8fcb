"""The main job's epoch (issue 13): ``deepgrad train mnist-mlp`` on the embedded MNIST subset,
one epoch of training (MLP 784-1000-500-100-10, ReLU, Kaiming init, Adam lr 1e-3, batch 64,
shuffled) plus the validation pass, against the same loop written for PyTorch.

- ``deepgrad``: the recipe's own pieces (``build_run``, ``loaders``, ``make_optimizer``,
  ``make_trainer`` with the run's Monitor) and ``Trainer.fit`` for one more epoch; checkpoint
  files and plots are left out (disk, not compute).
- ``deepgrad-loop`` and ``torch``: one hand-written loop in PyTorch's API, run by each library:
  a DataLoader over the same training and validation arrays, the same model and optimizer, the
  validation loss and accuracy under ``no_grad``.

One step is one epoch; its time is reported in seconds.
"""

import itertools

from harness import Case

RECIPE = "mnist-mlp"


def _recipe_parts():
    """The main job's config, recipe, data and model, as ``deepgrad train mnist-mlp`` builds them."""
    from deepgrad.experiments import get_recipe
    from deepgrad.experiments.runs import build_run

    config = get_recipe(RECIPE).make_config()
    recipe, data, model = build_run(config)
    return config, recipe, data, model


def _arrays(dataset):
    """A dataset's images and labels as two NumPy arrays (one batch of everything)."""
    from deepgrad.utils.data import DataLoader

    x, y = next(iter(DataLoader(dataset, batch_size=len(dataset))))
    return x.numpy(), y.numpy().astype("int64")


def deepgrad_trainer(config_overrides):
    from deepgrad.experiments.runs import MONITOR_EVERY
    from deepgrad.train import Monitor

    config, recipe, data, model = _recipe_parts()
    train, val, _ = recipe.loaders(config, data)
    optimizer = recipe.make_optimizer(config, model)
    monitor = Monitor(every=MONITOR_EVERY)
    trainer = recipe.make_trainer(config, model, optimizer, [], monitor, progress=False)

    def step():
        trainer.fit(train, val, epochs=1)  # a fit without resume_from starts at epoch 0

    return step


def _loop_impl(library: str):
    """The loop a PyTorch user writes, the same code for deepgrad and PyTorch."""

    def setup(config_overrides):
        import importlib

        lib = importlib.import_module(library)
        nn = lib.nn
        data_mod = importlib.import_module(f"{library}.utils.data")
        config, _, data, _ = _recipe_parts()
        (x_train, y_train), (x_val, y_val) = _arrays(data.train), _arrays(data.val)
        lib.manual_seed(config.seed)
        sizes = (784, *config.options["hidden"], 10)
        layers = []
        for n_in, n_out in itertools.pairwise(sizes):
            linear = nn.Linear(n_in, n_out)
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
            nn.init.zeros_(linear.bias)
            layers += [linear, nn.ReLU()]
        model = nn.Sequential(*layers[:-1])
        optimizer = lib.optim.Adam(model.parameters(), lr=config.lr)
        loss_fn = nn.CrossEntropyLoss()
        tensors = data_mod.TensorDataset
        train = data_mod.DataLoader(
            tensors(lib.from_numpy(x_train), lib.from_numpy(y_train)),
            batch_size=config.batch_size,
            shuffle=True,
        )
        val = data_mod.DataLoader(
            tensors(lib.from_numpy(x_val), lib.from_numpy(y_val)), batch_size=1000
        )

        def step():
            model.train()
            for x, y in train:
                optimizer.zero_grad()
                loss = loss_fn(model(x), y)
                loss.backward()
                optimizer.step()
            model.eval()
            correct, total = 0, 0.0
            with lib.no_grad():
                for x, y in val:
                    logits = model(x)
                    total += loss_fn(logits, y).item() * len(y)
                    correct += int((logits.argmax(dim=1) == y).sum().item())
            return total / len(x_val), correct / len(x_val)

        return step

    return setup


CASE = Case(
    name="main_job",
    description="one epoch of the main job (mnist-mlp on the embedded subset: train + validate)",
    implementations={
        "deepgrad": deepgrad_trainer,
        "deepgrad-loop": _loop_impl("deepgrad"),
        "torch": _loop_impl("torch"),
    },
    unit="s",
    reference=("torch",),
)
