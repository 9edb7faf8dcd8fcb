"""Write docs/compatibility.md: which of PyTorch's public names deepgrad has, per namespace.

Usage (from the repository root):

    python3 tools/compat_table.py            # regenerate docs/compatibility.md
    python3 tools/compat_table.py --check    # exit 1 when docs/compatibility.md is out of date
    python3 tools/compat_table.py --verify-torch   # names of NAMES missing from the installed torch

The names checked are a curated list written here by hand (``NAMES``): the public API of
PyTorch that programs and tutorials use, per namespace. Regenerating needs deepgrad only, never
torch; ``--verify-torch`` is a maintainer's check that the list has no typos or retired names.

Each name is classified by looking it up in deepgrad's matching namespace (``MODULES``):

- supported: the name exists in deepgrad (with PyTorch's meaning, as the tests check);
- differs: it exists but behaves differently in a way a PyTorch user must know (``DIFFERS``);
- not supported: it does not exist; ``REASONS`` says why where the reason is known.

``tests/test_compat_table.py`` regenerates the text and fails when the file is out of date, so a
change that adds a name also updates the table.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "docs" / "compatibility.md"

# PyTorch namespace -> (deepgrad module, attribute inside it or None)
MODULES: dict[str, tuple[str, str | None]] = {
    "torch": ("deepgrad", None),
    "torch.Tensor": ("deepgrad", "Tensor"),
    "torch.nn": ("deepgrad.nn", None),
    "torch.nn.functional": ("deepgrad.nn.functional", None),
    "torch.nn.init": ("deepgrad.nn.init", None),
    "torch.nn.utils": ("deepgrad.nn.utils", None),
    "torch.optim": ("deepgrad.optim", None),
    "torch.optim.lr_scheduler": ("deepgrad.optim.lr_scheduler", None),
    "torch.utils.data": ("deepgrad.utils.data", None),
    "torch.distributions": ("deepgrad.distributions", None),
    "torch.autograd": ("deepgrad.autograd", None),
}


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split())


NAMES: dict[str, tuple[str, ...]] = {
    "torch": _split("""
        Tensor tensor as_tensor from_numpy from_dlpack zeros ones empty full arange linspace logspace eye
        zeros_like ones_like empty_like full_like rand randn randint randperm rand_like randn_like
        randint_like normal bernoulli multinomial poisson manual_seed seed initial_seed
        get_rng_state set_rng_state Generator
        float32 float64 float16 bfloat16 int8 int16 int32 int64 uint8 bool complex64
        float double half long int short cfloat dtype device get_default_dtype set_default_dtype
        set_printoptions is_tensor is_floating_point numel
        abs neg add sub mul div true_divide floor_divide remainder fmod pow exp exp2 expm1 log log2
        log10 log1p sqrt rsqrt square sin cos tan asin acos atan atan2 sinh cosh tanh sigmoid
        erf erfinv floor ceil round trunc frac sign clamp clip reciprocal lerp hypot logaddexp
        maximum minimum fmax fmin
        sum mean std var prod max min amax amin argmax argmin median mode logsumexp norm cumsum
        cumprod cummax all any count_nonzero std_mean var_mean nansum nanmean
        eq ne gt ge lt le isclose allclose equal isnan isinf isfinite logical_and logical_or
        logical_not logical_xor where
        cat concat concatenate stack hstack vstack dstack split chunk unbind squeeze unsqueeze
        reshape flatten unflatten transpose permute movedim swapaxes t narrow select
        gather scatter scatter_add index_select masked_select masked_fill take take_along_dim
        nonzero argwhere flip fliplr flipud roll rot90 repeat_interleave tile broadcast_to
        broadcast_tensors expand_copy meshgrid tril triu diag diagonal diag_embed trace
        topk sort argsort kthvalue unique unique_consecutive bucketize searchsorted histc bincount
        matmul mm bmm baddbmm addmm einsum dot vdot outer inner cross tensordot kron cdist
        softmax log_softmax relu
        no_grad enable_grad set_grad_enabled is_grad_enabled inference_mode
        autocast save load compile set_num_threads get_num_threads
        nn optim autograd cuda backends utils distributions linalg fft special accelerator
        """),
    "torch.Tensor": _split("""
        shape size dim ndim numel dtype device requires_grad grad grad_fn is_leaf data T mT
        item tolist numpy clone detach detach_ requires_grad_ backward retain_grad register_hook
        to cpu cuda float double half long int bool type type_as is_cuda element_size nbytes
        contiguous is_contiguous stride storage_offset view view_as reshape reshape_as
        flatten unflatten squeeze unsqueeze transpose permute t expand expand_as repeat
        repeat_interleave flip roll chunk split unbind narrow unfold movedim
        new_zeros new_ones new_full new_empty new_tensor zero_ fill_ copy_ normal_ uniform_
        bernoulli_ random_ clamp_ add_ sub_ mul_ div_ pow_ masked_fill_ index_add_ scatter_
        scatter_add_ abs neg exp log log1p sqrt rsqrt sigmoid tanh relu sin cos pow clamp clip
        floor ceil round sign reciprocal sum mean std var prod max min amax amin argmax argmin
        cumsum cumprod logsumexp norm softmax log_softmax all any isnan isinf isfinite
        eq ne gt ge lt le matmul mm bmm dot gather scatter index_select masked_fill masked_select
        topk sort argsort diag diagonal tril triu where nonzero unique apply_
        __format__ __len__ __getitem__ __setitem__ __array__ __bool__ __float__
        __int__ __index__ __matmul__ __dlpack__ __dlpack_device__
        """),
    "torch.nn": _split("""
        Module Parameter Buffer Sequential ModuleList ModuleDict ParameterList ParameterDict
        Linear Bilinear Identity Flatten Unflatten Embedding EmbeddingBag
        Conv1d Conv2d Conv3d ConvTranspose1d ConvTranspose2d ConvTranspose3d Unfold Fold
        MaxPool1d MaxPool2d MaxPool3d AvgPool1d AvgPool2d AvgPool3d AdaptiveAvgPool1d
        AdaptiveAvgPool2d AdaptiveMaxPool1d AdaptiveMaxPool2d LPPool2d
        BatchNorm1d BatchNorm2d BatchNorm3d LayerNorm GroupNorm InstanceNorm1d InstanceNorm2d
        LocalResponseNorm RMSNorm
        Dropout Dropout1d Dropout2d Dropout3d AlphaDropout
        ReLU ReLU6 LeakyReLU PReLU RReLU ELU SELU CELU GELU SiLU Mish Sigmoid Tanh Hardtanh
        Hardsigmoid Hardswish Softplus Softsign Softmax LogSoftmax Softmin LogSigmoid Tanhshrink
        Softshrink Hardshrink Threshold GLU
        RNN LSTM GRU RNNCell LSTMCell GRUCell
        MultiheadAttention Transformer TransformerEncoder TransformerEncoderLayer
        TransformerDecoder TransformerDecoderLayer
        ZeroPad2d ConstantPad1d ConstantPad2d ReflectionPad1d ReflectionPad2d ReplicationPad1d
        ReplicationPad2d CircularPad2d Upsample UpsamplingNearest2d PixelShuffle PixelUnshuffle
        ChannelShuffle
        MSELoss L1Loss SmoothL1Loss HuberLoss CrossEntropyLoss NLLLoss BCELoss BCEWithLogitsLoss
        KLDivLoss GaussianNLLLoss PoissonNLLLoss CTCLoss MarginRankingLoss HingeEmbeddingLoss
        CosineEmbeddingLoss TripletMarginLoss MultiLabelSoftMarginLoss MultiMarginLoss
        SoftMarginLoss CosineSimilarity PairwiseDistance
        DataParallel functional init utils parallel
        """),
    "torch.nn.functional": _split("""
        linear bilinear conv1d conv2d conv3d conv_transpose1d conv_transpose2d unfold fold
        max_pool1d max_pool2d avg_pool1d avg_pool2d adaptive_avg_pool1d adaptive_avg_pool2d
        adaptive_max_pool2d lp_pool2d
        relu relu_ relu6 leaky_relu prelu rrelu elu selu celu gelu silu mish sigmoid tanh
        hardtanh hardsigmoid hardswish softplus softsign softmax log_softmax softmin logsigmoid
        glu threshold tanhshrink normalize
        dropout dropout1d dropout2d alpha_dropout
        batch_norm layer_norm group_norm instance_norm local_response_norm rms_norm
        embedding one_hot pad interpolate upsample grid_sample affine_grid pixel_shuffle
        pixel_unshuffle scaled_dot_product_attention multi_head_attention_forward
        mse_loss l1_loss smooth_l1_loss huber_loss cross_entropy nll_loss binary_cross_entropy
        binary_cross_entropy_with_logits kl_div gaussian_nll_loss poisson_nll_loss ctc_loss
        margin_ranking_loss hinge_embedding_loss cosine_embedding_loss triplet_margin_loss
        cosine_similarity pairwise_distance
        """),
    "torch.nn.init": _split("""
        calculate_gain uniform_ normal_ constant_ ones_ zeros_ eye_ dirac_ xavier_uniform_
        xavier_normal_ kaiming_uniform_ kaiming_normal_ trunc_normal_ orthogonal_ sparse_
        """),
    "torch.nn.utils": _split("""
        clip_grad_norm_ clip_grad_value_ get_total_norm clip_grads_with_norm_
        parameters_to_vector vector_to_parameters weight_norm spectral_norm
        remove_weight_norm remove_spectral_norm skip_init rnn parametrize
        """),
    "torch.optim": _split("""
        Optimizer SGD Adam AdamW Adagrad Adadelta Adamax RMSprop NAdam RAdam Rprop ASGD LBFGS
        SparseAdam lr_scheduler
        """),
    "torch.optim.lr_scheduler": _split("""
        LRScheduler StepLR MultiStepLR ExponentialLR CosineAnnealingLR CosineAnnealingWarmRestarts
        ReduceLROnPlateau LambdaLR MultiplicativeLR LinearLR ConstantLR OneCycleLR CyclicLR
        PolynomialLR SequentialLR ChainedScheduler
        """),
    "torch.utils.data": _split("""
        Dataset IterableDataset TensorDataset Subset ConcatDataset ChainDataset StackDataset
        random_split DataLoader Sampler SequentialSampler RandomSampler SubsetRandomSampler
        WeightedRandomSampler BatchSampler DistributedSampler default_collate default_convert
        get_worker_info dataloader
        """),
    "torch.distributions": _split("""
        Distribution Normal Bernoulli Categorical Uniform Beta Gamma Dirichlet Exponential
        Laplace LogNormal Multinomial MultivariateNormal OneHotCategorical Poisson Binomial
        Geometric StudentT Cauchy Gumbel RelaxedBernoulli RelaxedOneHotCategorical
        Independent MixtureSameFamily TransformedDistribution kl_divergence register_kl
        constraints transforms
        """),
    "torch.autograd": _split("""
        grad backward Function gradcheck gradgradcheck no_grad enable_grad set_grad_enabled
        inference_mode functional forward_ad graph Variable detect_anomaly
        """),
}

# Names deepgrad has but that behave differently from PyTorch, and how.
DIFFERS: dict[tuple[str, str], str] = {
    ("torch", "save"): (
        "writes safetensors with JSON metadata, never pickle: tensors and (nested) state dicts, "
        "not whole Modules or arbitrary objects; PyTorch cannot read the file as a `.pt`"
    ),
    ("torch", "load"): (
        "reads safetensors files and PyTorch's `.pt`/`.pth` (`torch.save`) files, always with "
        "`weights_only=True` semantics: tensors and plain containers only, never arbitrary objects"
    ),
    ("torch", "manual_seed"): (
        "seeds deepgrad's NumPy-based generators: the same seed gives other numbers than in "
        "PyTorch, so compare runs on statistics or copy the initial weights"
    ),
    ("torch", "device"): "devices are `'cpu'` and `'cuda'` (CuPy) only",
    ("torch.autograd", "Function"): (
        "a custom Function's `forward(ctx, *arrays)` computes on arrays (`ctx.xp`), its "
        "`backward(ctx, dy)` on Tensors; `ctx.save_inputs(i)` / `ctx.save_outputs()` replace "
        "`ctx.save_for_backward`"
    ),
    (
        "torch",
        "backends",
    ): "flags are accepted and kept but change nothing (see `deepgrad.backends`)",
    ("torch", "bfloat16"): (
        "NumPy has no bfloat16: it needs the `ml_dtypes` package (in the `test` and `onnx` "
        "extras), without which `deepgrad.bfloat16` raises AttributeError naming it"
    ),
    ("torch.nn", "RNN"): "no `proj_size`",
    ("torch.nn", "LSTM"): "no `proj_size`",
    ("torch.nn", "GRU"): "no `proj_size`",
}

# Why a name is missing, where the reason is known.
REASONS: dict[tuple[str, str], str] = {
    ("torch", "dtype"): "dtypes are NumPy's (`deepgrad.float32 is numpy.dtype('float32')`)",
    ("torch", "complex64"): "no complex dtypes",
    ("torch", "cfloat"): "no complex dtypes",
    ("torch", "fft"): "no FFT module",
    ("torch", "special"): "no `torch.special` module",
    ("torch", "linalg"): "no `torch.linalg` module yet; `matmul`, `norm`, `einsum` are top-level",
    ("torch", "set_num_threads"): "threads are NumPy's BLAS (set `OMP_NUM_THREADS`)",
    ("torch", "get_num_threads"): "threads are NumPy's BLAS (set `OMP_NUM_THREADS`)",
    ("torch.Tensor", "storage_offset"): "tensors do not expose a storage",
    ("torch.nn", "DataParallel"): "single process; multi-GPU training is the distributed issue's",
    ("torch.nn", "Conv3d"): "no 3-d convolution",
    ("torch.nn", "ConvTranspose3d"): "no 3-d convolution",
    ("torch.nn", "MaxPool3d"): "no 3-d pooling",
    ("torch.nn", "AvgPool3d"): "no 3-d pooling",
    ("torch.nn", "BatchNorm3d"): "no 3-d layers",
    ("torch.nn", "Dropout3d"): "no 3-d layers",
    ("torch.nn", "CTCLoss"): "not implemented",
    ("torch.nn.functional", "conv3d"): "no 3-d convolution",
    ("torch.nn.functional", "ctc_loss"): "not implemented",
    ("torch.nn.functional", "grid_sample"): "not implemented",
    ("torch.nn.functional", "affine_grid"): "not implemented",
    ("torch.optim", "SparseAdam"): "no sparse gradients",
    ("torch.autograd", "Variable"): "retired in PyTorch 0.4; use tensors with `requires_grad`",
    ("torch.autograd", "forward_ad"): "reverse mode only (`deepgrad.func.jvp` is built from vjps)",
}


def _namespace(name: str):
    module_name, attribute = MODULES[name]
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module


def _has(namespace, name: str) -> bool:
    """Whether deepgrad defines ``name`` there; a dunder counts only if a deepgrad class defines
    it (every class inherits ``object.__format__``, which does not format a tensor)."""
    if name.startswith("__") and isinstance(namespace, type):
        return any(name in vars(cls) for cls in namespace.__mro__ if cls is not object)
    try:
        return hasattr(namespace, name)
    except ImportError:  # a lazy subpackage whose import fails counts as missing
        return False


def classify() -> dict[str, dict[str, list]]:
    """Per namespace: {'supported': [names], 'differs': [(name, how)], 'missing': [(name, why)]}."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    table = {}
    for space, names in NAMES.items():
        found = _namespace(space)
        rows: dict[str, list] = {"supported": [], "differs": [], "missing": []}
        for name in sorted(set(names), key=lambda n: (n.lower(), n)):
            if not _has(found, name):
                rows["missing"].append((name, REASONS.get((space, name), "")))
            elif (space, name) in DIFFERS:
                rows["differs"].append((name, DIFFERS[(space, name)]))
            else:
                rows["supported"].append(name)
        table[space] = rows
    return table


def _percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.0f}%" if whole else "-"


def render(table: dict[str, dict[str, list]]) -> str:
    """The Markdown text of docs/compatibility.md."""
    lines = [
        "# PyTorch compatibility",
        "",
        "Which of PyTorch's public names deepgrad has, per namespace (`import deepgrad as torch`).",
        "Generated by `python3 tools/compat_table.py` from deepgrad's code and a curated list",
        "of the PyTorch names that programs and tutorials use (kept in the tool). Do not edit",
        "by hand: `tests/test_compat_table.py` fails when this file is out of date.",
        "",
        "- **supported**: the name exists in deepgrad with PyTorch's meaning;",
        "- **differs**: it exists, with the difference noted;",
        "- **not supported**: it does not exist (with the reason, where known).",
        "",
        "## Summary",
        "",
        "| namespace | names | supported | differs | not supported | has the name |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    totals = [0, 0, 0, 0]
    for space, rows in table.items():
        counts = [len(rows["supported"]), len(rows["differs"]), len(rows["missing"])]
        total = sum(counts)
        totals = [a + b for a, b in zip(totals, [total, *counts])]
        have = _percent(counts[0] + counts[1], total)
        lines.append(f"| `{space}` | {total} | {counts[0]} | {counts[1]} | {counts[2]} | {have} |")
    have = _percent(totals[1] + totals[2], totals[0])
    lines.append(f"| **all** | {totals[0]} | {totals[1]} | {totals[2]} | {totals[3]} | {have} |")
    for space, rows in table.items():
        lines += ["", f"## `{space}`", ""]
        supported = ", ".join(f"`{name}`" for name in rows["supported"]) or "(none)"
        lines += [f"**Supported ({len(rows['supported'])}):** {supported}", ""]
        if rows["differs"]:
            lines += ["| differs | how |", "|---|---|"]
            lines += [f"| `{name}` | {how} |" for name, how in rows["differs"]]
            lines.append("")
        if rows["missing"]:
            lines += ["| not supported | why |", "|---|---|"]
            lines += [f"| `{name}` | {why} |" for name, why in rows["missing"]]
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def stale_entries() -> list[str]:
    """DIFFERS/REASONS keys that no longer fit: a 'differs' name deepgrad lacks, a reason for a
    name deepgrad has, or a key outside NAMES."""
    problems = []
    table = classify()
    for space, name in DIFFERS:
        if name not in NAMES.get(space, ()):
            problems.append(f"DIFFERS[{space!r}, {name!r}] is not in NAMES")
        elif name in dict(table[space]["missing"]):
            problems.append(f"DIFFERS[{space!r}, {name!r}]: deepgrad has no {name}")
    for space, name in REASONS:
        if name not in NAMES.get(space, ()):
            problems.append(f"REASONS[{space!r}, {name!r}] is not in NAMES")
        elif name not in dict(table[space]["missing"]):
            problems.append(
                f"REASONS[{space!r}, {name!r}]: deepgrad has {name} now; drop the reason"
            )
    return problems


def missing_from_torch() -> list[str]:
    """Curated names that the installed torch lacks (a typo or a retired name). Needs torch."""
    import torch  # a maintainer's check at generation time; deepgrad never imports torch

    problems = []
    for space, names in NAMES.items():
        found = torch.Tensor if space == "torch.Tensor" else importlib.import_module(space)
        problems += [f"{space}.{name}" for name in names if not hasattr(found, name)]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    parser.add_argument(
        "--verify-torch", action="store_true", help="list curated names the installed torch lacks"
    )
    args = parser.parse_args(argv)
    if args.verify_torch:
        problems = missing_from_torch()
        print("\n".join(problems) or "every curated name exists in torch")
        return 1 if problems else 0
    text = render(classify())
    if args.check:
        current = OUTPUT.read_text() if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is out of date: run python3 tools/compat_table.py")
            return 1
        return 0
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
