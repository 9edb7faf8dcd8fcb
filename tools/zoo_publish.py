"""Turn a ``deepgrad train`` run into a model-zoo weight file and print its record.

Usage (from the repository root):

    python3 tools/zoo_publish.py RUN_DIR NAME [--out DIR]

It reads RUN_DIR/best.safetensors (the weights the run kept), config.json and results.json,
writes NAME.safetensors (into deepgrad/models/weights/, or DIR for a model that is downloaded
rather than shipped) with the run's recipe, settings and test metrics in its metadata, and
prints the file's size and SHA-256 and the run's test metrics for the entry in
deepgrad/models/zoo.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deepgrad.data.datasets import file_digest
from deepgrad.io import load, save


def publish(run_dir: Path, name: str, out: Path) -> Path:
    """Write ``out/name.safetensors`` from the run and print what the zoo entry records."""
    config = json.loads((run_dir / "config.json").read_text())
    results = json.loads((run_dir / "results.json").read_text())
    state = load(run_dir / "best.safetensors")
    path = out / f"{name}.safetensors"
    recipe = config.pop("recipe")
    config.pop("device", None)
    save(
        state,
        path,
        metadata={"zoo": name, "recipe": recipe, "settings": config, "test": results["test"]},
    )
    print(f"{path}: {path.stat().st_size} bytes")
    print(f'recipe="{recipe}"')
    print(f"settings={config!r}")
    print(f"test={results['test']!r}")
    print(f'sha256="{file_digest(path)}"')
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("name")
    parser.add_argument("--out", type=Path, default=ROOT / "deepgrad" / "models" / "weights")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    publish(args.run_dir, args.name, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
