"""fastinit.random._jax (the stream format in jax.numpy) against the C core and against jax.random.

    python bench/jax_stream.py [--n 1048576] [--time-n 4194304] [--repeat 7]

Prints, per kind and dtype, the largest difference between the JAX path (jit-compiled) and each C path
(baseline, avx2 where built), and the share of values equal bit for bit; then the time of one jitted fill of
--time-n float32 values beside jax.random's function of the same distribution (threefry), in the same run.
"""
import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

import fastinit as fi
from fastinit import _core
from fastinit.random import _jax as J, _spec as F

SEED = 2024


def c_core(path, call):
    previous = _core.get_simd()
    _core.set_simd(path)
    try:
        return call()
    finally:
        _core.set_simd(previous)


def agreement(n):
    k0, k1 = J.key_words(jax.random.PRNGKey(SEED))
    g = fi.Generator(SEED)
    cases = [
        ("words", None, "uint32", lambda: g.random_raw(n, stream=0)),
        ("uniform [-1, 3)", F.uniform(-1.0, 3.0, "float32"), "float32", lambda: g.uniform(n, -1.0, 3.0, stream=0)),
        ("uniform [-0.5, 2)", F.uniform(-0.5, 2.0, "float32"), "float32", lambda: g.uniform(n, -0.5, 2.0, stream=0)),
        ("normal", F.normal(0.0, 1.0, "float32"), "float32", lambda: g.normal(n, stream=0)),
        ("truncated normal [-2, 2]", F.truncated_normal(0.0, 1.0, -2.0, 2.0, "float32"), "float32",
         lambda: g.truncated_normal(n, 0.0, 1.0, -2.0, 2.0, stream=0)),
        ("truncated normal [3, 8]", F.truncated_normal(0.0, 1.0, 3.0, 8.0, "float32"), "float32",
         lambda: g.truncated_normal(n, 0.0, 1.0, 3.0, 8.0, stream=0)),
        ("normal bfloat16", F.normal(0.0, 1.0, "bfloat16"), "bfloat16",
         lambda: g.normal(n, dtype="bfloat16", stream=0)),
        ("uniform float16", F.uniform(-1.0, 3.0, "float16"), "float16",
         lambda: g.uniform(n, -1.0, 3.0, dtype="float16", stream=0)),
    ]
    print(f"agreement with the C core, {n} values, seed {SEED} (largest |difference|, share equal bit for bit)")
    for label, draw, dtype, call in cases:
        got = np.asarray(J.words(k0, k1, n) if draw is None else J.fill(draw, (n,), dtype, k0, k1))
        row = [f"{label:26s}"]
        for path in _core.simd_available():
            ref = c_core(path, call)
            if dtype == "bfloat16":
                ref = ref.view(got.dtype)
            diff = np.abs(got.astype(np.float64) - ref.astype(np.float64)).max()
            row.append(f"{path}: {diff:.3g} ({np.mean(got == ref):.4%} equal)")
        print("  ".join(row))


def best_of(f, repeat):
    f().block_until_ready()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f().block_until_ready()
        times.append(time.perf_counter() - t)
    return min(times)


def timing(n, repeat):
    key = jax.random.PRNGKey(SEED)
    shape = (n,)
    ours = {
        "uniform": jax.jit(lambda k: J.fill(F.uniform(-1.0, 1.0, "float32"), shape, "float32", *J.key_words(k))),
        "normal": jax.jit(lambda k: J.fill(F.normal(0.0, 1.0, "float32"), shape, "float32", *J.key_words(k))),
        "truncated normal": jax.jit(lambda k: J.fill(F.truncated_normal(0.0, 1.0, -2.0, 2.0, "float32"), shape,
                                                     "float32", *J.key_words(k))),
    }
    theirs = {
        "uniform": jax.jit(lambda k: jax.random.uniform(k, shape, jnp.float32, -1.0, 1.0)),
        "normal": jax.jit(lambda k: jax.random.normal(k, shape, jnp.float32)),
        "truncated normal": jax.jit(lambda k: jax.random.truncated_normal(k, -2.0, 2.0, shape, jnp.float32)),
    }
    print(f"\njit-compiled fills of {n} float32 values on {jax.devices()[0].platform} ({jax.__version__}), best of "
          f"{repeat}")
    for kind in ours:
        a, b = best_of(lambda: ours[kind](key), repeat), best_of(lambda: theirs[kind](key), repeat)
        print(f"  {kind:18s} fastinit.random._jax {a * 1e3:8.2f} ms   jax.random {b * 1e3:8.2f} ms   "
              f"ratio {a / b:.2f}x")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1 << 20)
    ap.add_argument("--time-n", type=int, default=1 << 22)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    agreement(args.n)
    timing(args.time_n, args.repeat)


if __name__ == "__main__":
    main()
