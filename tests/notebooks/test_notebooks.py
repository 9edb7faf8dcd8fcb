"""The lab notebooks run top to bottom (small sizes), and match their sources in notebooks/_src.

Each notebook is executed in a fresh IPython kernel started with this interpreter
(``sys.executable -m ipykernel_launcher``), so no kernel has to be installed first, with
``DEEPGRAD_NOTEBOOK_SMALL=1`` (the notebooks shrink their data and epochs), ``MPLBACKEND=Agg``
and the repository on ``PYTHONPATH``. A failing cell fails the test with its traceback.
Skipped only when nbclient, nbformat or ipykernel are missing (they are in the ``test`` extra).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
EXPECTED = [
    "01_autodiff",
    "02_mnist_mlp",
    "03_initialization",
    "04_regularization",
    "05_cnn",
    "06_rnn_lstm",
    "07_autoencoders",
    "08_vae_gan",
    "09_optimizers_and_lr",
    "10_compile",
    "11_pixelcnn",
    "12_resnets_and_committees",
    "13_reinforcement_learning",
]
CELL_TIMEOUT = 300

nbformat = pytest.importorskip("nbformat")


def _load_build():
    spec = importlib.util.spec_from_file_location("notebooks_build", NOTEBOOKS / "_build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_lab_has_a_notebook_and_a_source():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == EXPECTED
    assert sorted(p.stem for p in (NOTEBOOKS / "_src").glob("[0-9]*.py")) == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_is_built_from_its_source_without_outputs(name):
    build = _load_build()
    path = NOTEBOOKS / f"{name}.ipynb"
    expected = build.render(build.build(NOTEBOOKS / "_src" / f"{name}.py"))
    assert path.read_text() == expected, (
        f"{path.name} is out of date: run python notebooks/_build.py"
    )
    notebook = nbformat.reads(path.read_text(), as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
    assert 'SMALL = os.environ.get("DEEPGRAD_NOTEBOOK_SMALL") == "1"' in code[0].source
    assert any(cell.cell_type == "markdown" for cell in notebook.cells)


def _kernel_manager():
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    env = {
        "DEEPGRAD_NOTEBOOK_SMALL": "1",
        "MPLBACKEND": "Agg",
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
        ),
    }
    # One BLAS thread per kernel unless the caller chose: on a busy CI machine several BLAS
    # threads per process oversubscribe the cores and can make the small runs 10x slower.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = os.environ.get(name, "1")

    class ThisInterpreter(KernelSpecManager):
        """Kernel "python3" run by the interpreter running the tests, whatever kernels are installed."""

        def get_kernel_spec(self, kernel_name):
            return KernelSpec(
                argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                display_name="Python 3 (tests)",
                language="python",
                env=env,
            )

    return AsyncKernelManager(kernel_name="python3", kernel_spec_manager=ThisInterpreter())


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_runs_top_to_bottom(name):
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    # one more cell, in memory only: the small-size switch reached the kernel
    notebook.cells.append(
        nbformat.v4.new_code_cell(
            "assert SMALL, 'DEEPGRAD_NOTEBOOK_SMALL did not reach the kernel'"
        )
    )
    client = NotebookClient(
        notebook,
        km=_kernel_manager(),
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    try:
        client.execute()
    except CellExecutionError as error:
        pytest.fail(f"{name}.ipynb: a cell failed:\n{error}", pytrace=False)
    ran = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in ran)
