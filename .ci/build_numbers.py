"""The numbers a build produces, and their comparison between builds (the stream-format promise on every path).

    python .ci/build_numbers.py dump OUT.npz        # raw words, every fill kind and dtype, initializers, simulations
    python .ci/build_numbers.py compare A.npz B.npz [--exact]

compare: raw words and uniforms must be bit-identical; with --exact (the same SIMD path, e.g. an OpenMP-less
build) everything must be; otherwise normals and truncated normals must agree to the stream format's stated
rounding (float32 2e-6 absolute, float64 1e-12), their float16 / bfloat16 roundings to one step of the format,
and simulation statistics to 1e-4 (float32) / 1e-9 (float64) relative, histogram counts to 0.2% of the values.
The fills include pieces at a stream offset and rows at their own offsets. Exits 1 with the first difference.
"""
import sys

import numpy as np


def dump(path):
    from threadpoolctl import threadpool_limits

    import fastinit as fi
    import fastinit.init  # noqa: F401
    import fastinit.initializers  # noqa: F401
    from fastinit import _core
    from fastinit.experiment._simulation import ACTIVATIONS

    out = {}
    g = fi.Generator(7)
    n = 100_003
    out["raw"] = g.random_raw(n)
    for dtype in (np.float32, np.float64):
        t = np.dtype(dtype).name
        out[f"uniform_{t}"] = g.uniform(n, low=-2, high=3, dtype=dtype)
        out[f"normal_{t}"] = g.normal(n, dtype=dtype)
        out[f"truncated_{t}"] = g.truncated_normal(n, low=-1, high=2.5, dtype=dtype)
        out[f"truncated_tail_{t}"] = g.truncated_normal(n, low=3, high=8, dtype=dtype)
        # a piece at an offset of a stream, and rows at their own offsets (a column shard)
        out[f"normal_offset_{t}"] = g.normal(4099, dtype=dtype, stream=5, offset=12345)
        rows = np.empty((7, 333), dtype)
        g.truncated_normal(out=rows, low=-1, high=2, stream=6, row_offsets=np.arange(7, dtype=np.uint64) * 1000 + 3)
        out[f"truncated_rows_{t}"] = rows
    for t in ("float16", "bfloat16"):   # the float32 draws rounded to the 16-bit format (bfloat16: its bits)
        out[f"narrow16_uniform_{t}"] = g.uniform(n, low=-2, high=3, dtype=t)
        out[f"narrow16_normal_{t}"] = g.normal(n, dtype=t)
        out[f"narrow16_truncated_{t}"] = g.truncated_normal(n, low=-1, high=2.5, dtype=t)
    out["uniform_init"] = fi.init.xavier_uniform_(np.empty((256, 128), np.float32), generator=fi.Generator(1))
    out["normal_init"] = fi.init.kaiming_normal_(np.empty((256, 128), np.float32), generator=fi.Generator(1))
    out["orthogonal"] = fi.init.orthogonal_(np.empty((64, 64), np.float64), generator=fi.Generator(2))
    # every named scheme and Keras initializer, and the theory of each scheme (the tables behind them)
    for name in sorted(fi.init.SCHEMES):
        w = fi.init.SCHEMES[name](np.empty((48, 40), np.float32), generator=fi.Generator(5))
        out[f"scheme_{name}"] = w
    for name in sorted(fi.schemes.KERAS_ALIASES):   # (the names of the scheme table, not Keras's legacy aliases)
        if name not in ("constant", "identity", "zeros", "ones"):
            out[f"keras_{name}"] = fi.initializers.get(name).__class__(seed=9)((40, 48))
        for act in ("tanh", "relu"):
            out[f"theory_{name}_{act}"] = fi.theory.predict(depth=5, width=64, activation=act, init=name).h_std
    for name in sorted(fi.init.SCHEMES):
        out[f"theory_scheme_{name}"] = fi.theory.predict(depth=5, width=64, activation="tanh", init=name).p_std
    with threadpool_limits(1, user_api="blas"):
        for act in ACTIVATIONS:
            for bn in (False, True):
                for dtype in ("float32", "float64"):
                    r = fi.simulate(depth=4, width=96, batch=400, activation=act, init="he_normal", batchnorm=bn,
                                    backward=True, dtype=dtype, seed=3)
                    name = f"sim_{act}_{int(bn)}_{dtype}"
                    for k, v in {**r.layers, **r.grads}.items():
                        out[f"{name}_{k}"] = v
                    out[f"{name}_hist_h"] = r.h_hist
                    out[f"{name}_hist_p"] = r.p_hist
    with threadpool_limits(1, user_api="blas"):
        rows = fi.sweep(depth=[2, 5, 9], width=[32, 48], activation=["tanh", "relu"], init=["xavier_normal",
                                                                                            "he_normal"],
                        batch=64, seeds=[0, 1], progress=False, workers=1).rows
    for k in ("final_h_std", "final_p_std", "final_h_mean", "theory_final_h_std", "q_star", "chi_star"):
        out[f"sweep_{k}"] = np.array([r[k] for r in rows])
    out["build"] = np.array([f"openmp={_core.have_openmp()} simd={_core.get_simd()} "
                             f"available={','.join(_core.simd_available())}"])
    np.savez(path, **out)
    print(f"{path}: {len(out)} arrays, {out['build'][0]}")


def _bf16(bits):
    """bfloat16 bit patterns (uint16) as float32 values."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def compare(a_path, b_path, exact):
    a, b = np.load(a_path), np.load(b_path)
    assert set(a.files) == set(b.files), "different contents"
    for k in sorted(a.files):
        if k == "build":
            continue
        x, y = a[k], b[k]
        if exact or k == "raw" or k.startswith(("uniform", "theory_", "narrow16_uniform")):
            ok = np.array_equal(x, y, equal_nan=True)   # (the theory draws nothing: NumPy arithmetic only)
        elif k.startswith("narrow16_"):
            # float32 draws within the float32 rounding above, then rounded to 16 bits: one 16-bit step apart
            # where the float32 values straddle a rounding boundary
            xf, yf = (_bf16(x), _bf16(y)) if k.endswith("bfloat16") else (x.astype(np.float32), y.astype(np.float32))
            step = np.maximum(np.abs(xf), np.abs(yf)) * (2.0 ** -7 if k.endswith("bfloat16") else 2.0 ** -10)
            ok = np.all(np.abs(xf - yf) <= np.maximum(step, 2.0 ** -24))
        elif k.startswith(("normal", "truncated", "orthogonal", "scheme_", "keras_")):
            # draws of the fill kernels (and the orthogonal matrices made from them: a QR moves their ulps a bit)
            tol = (2e-5 if "orthogonal" in k else 2e-6) if x.dtype == np.float32 else 1e-12
            ok = np.allclose(x, y, rtol=0, atol=tol * max(1.0, float(np.max(np.abs(x)))))
        elif "_hist_" in k:
            ok = np.all(np.abs(x - y) <= 0.002 * x.sum(axis=1, keepdims=True) + 2)
        else:   # simulation statistics; a mean near 0 (batch norm) is compared on the scale of its std
            rel = 1e-4 if "float32" in k or k.startswith("sweep_") else 1e-9   # (sweeps run in float32)
            scale = a[k[:-4] + "std"] if k.endswith("_mean") else x
            scale = np.nanmax(np.abs(scale)) if np.any(np.isfinite(scale)) else 0.0
            ok = np.allclose(x, y, rtol=rel, atol=rel * scale, equal_nan=True)
        if not ok:
            print(f"{k}: {a['build'][0]} and {b['build'][0]} differ beyond the promise")
            return 1
    print(f"same numbers ({'bit for bit' if exact else 'within the stream-format tolerances'}): "
          f"{a['build'][0]} / {b['build'][0]}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "dump":
        dump(sys.argv[2])
    elif len(sys.argv) >= 4 and sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3], "--exact" in sys.argv[4:]))
    else:
        sys.exit(__doc__)
