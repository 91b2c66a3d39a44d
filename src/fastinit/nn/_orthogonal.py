"""Haar-distributed (semi-)orthogonal matrices from fastinit's normal draws: what ``fastinit.init.orthogonal_``
and the Keras / JAX ``Orthogonal`` initializers fill (Saxe, McClelland & Ganguli 2013; Mezzadri 2007)."""
import numpy as np

from .. import _core

__all__ = ["orthogonal_matrix"]


def _haar_columns(m, n, dtype, gen):
    """An (m, n) matrix, m >= n, with orthonormal columns, Haar distributed, in Fortran order.

    Householder QR of a Gaussian matrix A, with the signs of R's diagonal moved into Q, gives a Haar-distributed Q
    (Saxe et al. 2013; Mezzadri 2007). By rotation invariance the k-th Householder vector of that QR is built from
    a fresh Gaussian vector of length m - k (Stewart 1980), so we skip the factorization: reflector k is made
    from entries k.. of column k of A (LAPACK's larfg convention: beta = -sign(alpha) |x|, tau = (beta - alpha) /
    beta, v = x[1:] / (alpha - beta)), LAPACK's orgqr forms Q = H_1 ... H_n, and column k is multiplied by
    sign(beta_k), which is sign(R_kk). Half the flops of QR followed by orgqr.
    """
    from scipy.linalg import lapack

    a = gen.normal((n, m), dtype=dtype).T          # Fortran-ordered (m, n): LAPACK works in place, no copy
    tau = np.empty(n, dtype=dtype)
    sign = np.empty(n, dtype=dtype)
    _core.householder(a, tau, sign)
    orgqr, = lapack.get_lapack_funcs(("orgqr",), (a,))
    lwork = int(orgqr(a, tau, lwork=-1)[1][0].real)   # workspace query: a is not touched
    q, _, info = orgqr(a, tau, lwork=max(lwork, 1), overwrite_a=1)
    if info != 0:
        raise RuntimeError(f"LAPACK orgqr failed (info={info})")
    q *= sign
    return q


def orthogonal_matrix(rows, cols, dtype, generator):
    """A new (rows, cols) matrix with orthonormal rows (rows <= cols) or columns, Haar distributed (Mezzadri 2007),
    drawn from ``generator`` (a fastinit.Generator): what ``orthogonal_`` and Keras's ``Orthogonal`` fill."""
    if rows >= cols:
        return _haar_columns(rows, cols, dtype, generator)
    return _haar_columns(cols, rows, dtype, generator).T
