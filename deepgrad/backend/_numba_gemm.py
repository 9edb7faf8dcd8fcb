"""A register-blocked GEMM in numba for C += A^T B, the layout of the recurrent layers' big products.

Imported only through ``deepgrad.backend.kernels`` on first use, like ``_numba_kernels``.

The weight gradients of a recurrent layer are sums over all T * B rows of two row-major arrays:
dW_hh = sum_k dgates[k]^T h[k] and dW_ih = sum_k dgates[k]^T x[k]. As dot products (note 16's
``gemm_nt``, now removed) they need both operands transposed; as outer products they take the
arrays as they are:

    C[i:i+8, j:j+32] += sum over k of  A[k, i:i+8]^T  (outer)  B[k, j:j+32]

Sixteen 16-float accumulators hold the 8 x 32 tile of C in vector registers while k runs: per k,
two vector loads of B's row, eight scalars of A's row broadcast, sixteen fused multiply-adds.
numba's loops cannot say that (LLVM keeps C in memory when the loop is written over arrays:
docs/performance.md, note 16), so ``_tile`` is a numba intrinsic that emits the loop in LLVM IR
with the vectors spelled out. On a processor with 512-bit registers that is ~2x the rate of
OpenBLAS's Haswell kernels; elsewhere LLVM splits the vectors, and the measurement that chooses
the kernel (``deepgrad.backend.gemm_tn``) keeps NumPy's BLAS (docs/performance.md, note 19).

k runs in blocks of ``KC`` rows so that B's block stays in the L1/L2 caches across the tiles.
A may have any strides (a transposed view included: its elements are loaded one by one); B's and
C's rows must be contiguous. Edges that do not fill a tile are computed by plain loops.
"""

from __future__ import annotations

from deepgrad.backend._numba_kernels import _jit

try:
    from llvmlite import ir
    from numba import types
    from numba.extending import intrinsic

    _HAVE_NUMBA = True
except ImportError:  # pytest's doctest collection imports every module; kernels.py never does then
    _HAVE_NUMBA = False

MR, NQ, LANES = 8, 2, 16
"""A tile is MR rows of C by NQ vectors of LANES float32 (8 x 32)."""
NR = NQ * LANES
KC = 64
"""Rows of A and B per block of k (measured: 64 to 256 within 10% on dW_hh and dW_ih)."""


def _address(builder, array, row, col, pointee):
    """A pointer to array[row, col] (byte strides, so any layout), cast to ``pointee``*."""
    base = builder.ptrtoint(array.data, ir.IntType(64))
    offset = builder.add(
        builder.mul(row, builder.extract_value(array.strides, 0)),
        builder.mul(col, builder.extract_value(array.strides, 1)),
    )
    return builder.inttoptr(builder.add(base, offset), pointee.as_pointer())


def _fma_vectors(builder, a, b, acc, k, rows, cols, vec):
    """The k-th step: acc[r, q] + a[k, rows[r]] * b[k, cols[q]:cols[q] + LANES] for every r, q."""
    name = f"llvm.fma.v{LANES}f32"
    fma = builder.module.globals.get(name) or ir.Function(
        builder.module, ir.FunctionType(vec, [vec] * 3), name
    )
    b_rows = [builder.load(_address(builder, b, k, col, vec), align=4) for col in cols]
    undef = ir.Constant(vec, ir.Undefined)
    lane0 = ir.Constant(ir.IntType(32), 0)
    zeros = ir.Constant(ir.VectorType(ir.IntType(32), LANES), [0] * LANES)
    out = []
    for r, row in enumerate(rows):
        scalar = builder.load(_address(builder, a, k, row, ir.FloatType()))
        splat = builder.shuffle_vector(builder.insert_element(undef, scalar, lane0), undef, zeros)
        out += [
            builder.call(fma, [splat, b_row, acc[r * NQ + q]]) for q, b_row in enumerate(b_rows)
        ]
    return out


def _tile_codegen(context, builder, signature, args):
    """LLVM IR for _tile: load C's tile, loop k over [k0, k1) with phi-node accumulators, store."""
    a, b, c = (context.make_array(t)(context, builder, v) for t, v in zip(signature.args[:3], args))
    k0, k1, i, j = args[3:]
    i64, vec = ir.IntType(64), ir.VectorType(ir.FloatType(), LANES)
    rows = [builder.add(i, ir.Constant(i64, r)) for r in range(MR)]
    cols = [builder.add(j, ir.Constant(i64, LANES * q)) for q in range(NQ)]
    tile = [_address(builder, c, row, col, vec) for row in rows for col in cols]
    start = [builder.load(pointer, align=4) for pointer in tile]
    entry = builder.block
    body = builder.append_basic_block("tile_k")
    done = builder.append_basic_block("tile_done")
    builder.cbranch(builder.icmp_signed("<", k0, k1), body, done)
    builder.position_at_end(body)
    k = builder.phi(i64)
    acc = [builder.phi(vec) for _ in start]
    step = _fma_vectors(builder, a, b, acc, k, rows, cols, vec)
    k_next = builder.add(k, ir.Constant(i64, 1))
    k.add_incoming(k0, entry)
    k.add_incoming(k_next, body)
    for phi, first, updated in zip(acc, start, step):
        phi.add_incoming(first, entry)
        phi.add_incoming(updated, body)
    builder.cbranch(builder.icmp_signed("<", k_next, k1), body, done)
    builder.position_at_end(done)
    final = [builder.phi(vec) for _ in tile]  # phi nodes first in their block, then the stores
    for phi, first, updated, pointer in zip(final, start, step, tile):
        phi.add_incoming(first, entry)
        phi.add_incoming(updated, body)
        builder.store(phi, pointer, align=4)
    return context.get_dummy_value()


if _HAVE_NUMBA:

    @intrinsic
    def _tile(typingctx, a, b, c, k0, k1, i, j):
        """c[i:i+MR, j:j+NR] += a[k0:k1, i:i+MR]^T b[k0:k1, j:j+NR], the tile in vector registers."""
        index = types.intp
        return types.void(a, b, c, index, index, index, index), _tile_codegen


@_jit()
def _edges(a, b, c, full_rows, full_cols):
    """The part of c += a^T b outside the whole tiles: rows from full_rows, columns from full_cols."""
    rows, cols = c.shape
    for i in range(rows):
        for n in range(full_cols if i < full_rows else 0, cols):
            s = c[i, n]
            for k in range(a.shape[0]):
                s += a[k, i] * b[k, n]
            c[i, n] = s


@_jit()
def gemm_tn(a, b, c):
    """c += a^T @ b for float32 a (K, M) of any strides, b (K, N) and c (M, N) with contiguous rows."""
    depth, rows = a.shape
    cols = b.shape[1]
    full_rows, full_cols = rows - rows % MR, cols - cols % NR
    for k0 in range(0, depth, KC):
        k1 = min(depth, k0 + KC)
        for i in range(0, full_rows, MR):
            for j in range(0, full_cols, NR):
                _tile(a, b, c, k0, k1, i, j)
    _edges(a, b, c, full_rows, full_cols)
