"""One SHA-256 over numbers a build produces: every fill kind and dtype, two initializers and simulations of every
activation (with batch norm and backward), the BLAS held to one thread. Builds that keep the stream-format
promise (default, FASTINIT_NO_OPENMP=1, FASTINIT_NO_AVX2=1) print the same digest.

    python .ci/digest.py            # prints: <sha256> <what was hashed>
"""
import hashlib

import numpy as np
from threadpoolctl import threadpool_limits

import fastinit as fi
from fastinit import _core
from fastinit.simulation import ACTIVATIONS


def main():
    h = hashlib.sha256()
    parts = 0

    def add(a):
        nonlocal parts
        h.update(np.ascontiguousarray(a).tobytes())
        parts += 1

    g = fi.Generator(7)
    n = 100_003
    for dtype in (np.float32, np.float64):
        add(g.normal(n, dtype=dtype))
        add(g.uniform(n, low=-2, high=3, dtype=dtype))
        add(g.truncated_normal(n, low=-1, high=2.5, dtype=dtype))
        add(g.truncated_normal(n, low=3, high=8, dtype=dtype))
    add(fi.init.kaiming_normal_(np.empty((256, 128), np.float32), generator=fi.Generator(1)))
    add(fi.init.orthogonal_(np.empty((64, 64), np.float64), generator=fi.Generator(2)))
    with threadpool_limits(1, user_api="blas"):
        for act in ACTIVATIONS:
            for bn in (False, True):
                for dtype in ("float32", "float64"):
                    r = fi.simulate(depth=4, width=96, batch=400, activation=act, init="he_normal", batchnorm=bn,
                                    backward=True, dtype=dtype, seed=3)
                    for k in sorted(r.layers):
                        add(r.layers[k])
                    for k in sorted(r.grads):
                        add(r.grads[k])
                    add(r.h_hist)
                    add(r.p_hist)
    print(h.hexdigest(), f"({parts} arrays; openmp={_core.have_openmp()}, simd={_core.get_simd()}, "
                         f"available={','.join(_core.simd_available())})")


if __name__ == "__main__":
    main()
