"""The stream format on the GPU: Triton kernels for every fill of the C core (README, "Stream format").

One kernel body, ``_fill``, specialised by ``constexpr`` parameters as the C core's kernels are by its templates:
``KIND`` (raw, uniform, normal, truncated normal), ``OUT`` (uint32, float32, float64, float16, bfloat16) and
whether row offsets come from memory. Each program computes ``BLOCK`` Philox4x32-10 blocks and writes the draws
they hold: 4 per block for 32-bit draws (float32, uint32, 16-bit), 2 for float64. Element e of row r is draw
``first[r] + e`` of the stream, so a whole fill is one row, and the row pieces of a column shard are many rows of
one launch.

The math is the C core's portable path, operation for operation (scalar_math.h): Cephes' float32 log and
sin/cos polynomials with the exact word-based argument reduction, fdlibm's float64 log and sin/cos kernels,
Acklam's inverse normal CDF in float64 (float64 division and square root are
correctly rounded on every backend; the float32 square root is asked for as ``sqrt_rn``) (with one Halley step for
float64 output, whose erfc is fdlibm's), and the
C core's round-to-nearest-even 16-bit conversions done on the bits. Uniforms and words are therefore bit for bit
the C core's; normals agree with it to the rounding of the math (the stream format's tolerance). Launches pass
``enable_fp_fusion=False`` so that no multiply-add is contracted (the C core is compiled with
``-ffp-contract=off``): ``low + scale * u`` keeps its two roundings.

Triton is optional: ``available()`` says whether it can be imported; ``fastinit.random._backends`` chooses this
module for CUDA tensors. Its interpreter (``TRITON_INTERPRET=1``) runs the same kernels on CPU tensors, which is how the
tests check them on machines without a GPU.
"""
import numpy as np

from .. import _core

__all__ = ["available", "fill", "KIND_CODES", "OUT_CODES"]

KIND_CODES = {"raw": 0, "uniform": 1, "normal": 2, "truncated_normal": 3}
OUT_CODES = dict(_core.DTYPE_CODES)   # fi_dtype's values (csrc/fastinit.h), as the C core reads them
BLOCK = 256   # Philox blocks per program: 1024 float32 draws

try:   # (Triton ships with CUDA builds of torch; CPU-only installs may lack it)
    import triton
    import triton.language as tl
    _IMPORT_ERROR = None
except ImportError as e:   # pragma: no cover - depends on the installation
    triton = tl = None
    _IMPORT_ERROR = e


def available():
    """(True, "") when Triton can be imported, else (False, why)."""
    if triton is None:
        return False, f"triton is not installed ({_IMPORT_ERROR})"
    return True, ""


def _f64_bits(x):
    """A float64 as the int64 of its bits: Triton passes Python floats as float32, the kernel bitcasts these."""
    return int(np.array(x, np.float64).view(np.int64))


if triton is not None:
    _NO_SPECIAL = ["row_len", "chunks", "first_block", "first_skip", "row_step", "key0", "key1", "stream0",
                   "stream1", "low", "scale", "upper", "mean", "std", "p_lo", "q_hi", "mass", "clamp_lo", "clamp_hi",
                   "narrow_lo", "narrow_hi"]

    @triton.jit
    def _philox(c0, c1, c2, c3, k0, k1):
        """Philox4x32-10: (hi0, lo0) = M0 x0, (hi1, lo1) = M1 x2; x = (hi1 ^ x1 ^ k0, lo1, hi0 ^ x3 ^ k1, lo0)."""
        for r in tl.static_range(10):
            if r > 0:
                k0 = k0 + 0x9E3779B9
                k1 = k1 + 0xBB67AE85
            a0 = c0
            a2 = c2
            c0 = tl.umulhi(a2, 0xCD9E8D57) ^ c1 ^ k0
            c2 = tl.umulhi(a0, 0xD2511F53) ^ c3 ^ k1
            c1 = a2 * 0xCD9E8D57
            c3 = a0 * 0xD2511F53
        return c0, c1, c2, c3

    # ---------------------------------------------------------------- float32: Cephes logf, sinf, cosf

    @triton.jit
    def _log1p_reduced_f(f, e):
        z = f * f
        p = f * 7.0376836292E-2 + -1.1514610310E-1
        p = p * f + 1.1676998740E-1
        p = p * f + -1.2420140846E-1
        p = p * f + 1.4249322787E-1
        p = p * f + -1.6668057665E-1
        p = p * f + 2.0000714765E-1
        p = p * f + -2.4999993993E-1
        p = p * f + 3.3333331174E-1
        y = f * z * p
        y = y + e * -2.12194440e-4
        y = y - 0.5 * z
        return (f + y) + e * 0.693359375

    @triton.jit
    def _neg2log_f(w):
        """-2 ln u1, u1 = w 2^-32 + 2^-33; the upper half as 1 - u1 formed exactly from ~w (w ^ 0xFFFFFFFF)."""
        upper = (w >> 31) != 0
        m = tl.where(upper, w ^ 0xFFFFFFFF, w)   # (~w: triton <= 3.8 interpreters overflow a uint32 under NumPy 2)
        x = m.to(tl.int32, bitcast=True).to(tl.float32) * 2.3283064365386963e-10 + 1.1641532182693481e-10
        b = x.to(tl.uint32, bitcast=True)
        ex = (b >> 23).to(tl.int32) - 126
        mant = ((b & 0x007FFFFF) | 0x3F000000).to(tl.float32, bitcast=True)
        small = mant < 0.70710678118654752
        mant = tl.where(small, mant + mant, mant)
        ex = tl.where(small, ex - 1, ex)
        f_low = mant - 1.0
        e_low = ex.to(tl.float32)
        near = x <= 0.29289321881345248
        f_up = tl.where(near, -x, 1.0 - 2.0 * x)
        e_up = tl.where(near, 0.0, -1.0)
        f = tl.where(upper, f_up, f_low)
        e = tl.where(upper, e_up, e_low)
        return -2.0 * _log1p_reduced_f(f, e)

    @triton.jit
    def _by_quadrant(sr, cr, quadrant):
        """(sin, cos) of the angle from those of its residual in the quadrant."""
        odd = (quadrant & 1) != 0
        so = tl.where(odd, cr, sr)
        co = tl.where(odd, sr, cr)
        so = tl.where((quadrant & 2) != 0, -so, so)
        co = tl.where(((quadrant + 1) & 2) != 0, -co, co)
        return so, co

    @triton.jit
    def _sincos_2pi_f(w):
        """sin and cos of 2 pi u2, u2 = w 2^-32 + 2^-33: quadrant from the word's top bits, residual from the rest."""
        quadrant = ((w + 0x20000000) >> 30) & 3
        r = ((w << 2).to(tl.int32, bitcast=True).to(tl.float32) + 2.0) * 3.657295198167899e-10
        z = r * r
        sp = z * -1.9515295891E-4 + 8.3321608736E-3
        sp = sp * z + -1.6666654611E-1
        sr = r + r * z * sp
        cp = z * 2.443315711809948E-5 + -1.388731625493765E-3
        cp = cp * z + 4.166664568298827E-2
        cr = 1.0 - 0.5 * z + z * z * cp
        return _by_quadrant(sr, cr, quadrant)

    # ---------------------------------------------------------------- float64: fdlibm log, sin, cos, erfc

    @triton.jit
    def _log1p_reduced_d(f, e):
        s = f / (2.0 + f)
        z = s * s
        w = z * z
        t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01 + w * 1.531383769920937332e-01))
        t2 = z * (6.666666666666735130e-01 + w * (2.857142874366239149e-01 + w * (1.818357216161805012e-01
                                                                                 + w * 1.479819860511658591e-01)))
        rr = t2 + t1
        hfsq = 0.5 * f * f
        return e * 6.93147180369123816490e-01 - ((hfsq - (s * (hfsq + rr) + e * 1.90821492927058770002e-10)) - f)

    @triton.jit
    def _reduce_d(x):
        """(f, e) with x = 2^e (1 + f), 1 + f in [sqrt(1/2), sqrt(2))."""
        b = x.to(tl.int64, bitcast=True)
        ex = (b >> 52) - 1022
        mant = ((b & 0x000FFFFFFFFFFFFF) | 0x3FE0000000000000).to(tl.float64, bitcast=True)
        small = mant < 0.70710678118654752440
        mant = tl.where(small, mant + mant, mant)
        ex = tl.where(small, ex - 1, ex)
        return mant - 1.0, ex.to(tl.float64)

    @triton.jit
    def _log_d(x):
        f, e = _reduce_d(x)
        return _log1p_reduced_d(f, e)

    @triton.jit
    def _neg2log_d(k):
        """-2 ln u1, u1 = k 2^-53 + 2^-54 for a 53-bit k (int64)."""
        upper = (k >> 52) != 0
        m = tl.where(upper, k ^ 0x1FFFFFFFFFFFFF, k)
        x = m.to(tl.float64) * 1.1102230246251565e-16 + 5.551115123125783e-17
        f_low, e_low = _reduce_d(x)
        near = x <= 0.29289321881345247560
        f = tl.where(upper, tl.where(near, -x, 1.0 - 2.0 * x), f_low)
        e = tl.where(upper, tl.where(near, 0.0, -1.0), e_low)
        return -2.0 * _log1p_reduced_d(f, e)

    @triton.jit
    def _sincos_2pi_d(k):
        quadrant = ((k + (1 << 50)) >> 51) & 3
        d = (k << 13) >> 13   # (int64: arithmetic shift) the low 51 bits as a signed number
        r = (d.to(tl.float64) + 0.5) * (1.5707963267948966 * 4.440892098500626e-16)
        z = r * r
        sr = r + r * z * (-1.66666666666666324348e-01 + z * (8.33333333332248946124e-03 + z * (
            -1.98412698298579493134e-04 + z * (2.75573137070700676789e-06 + z * (
                -2.50507602534068634195e-08 + z * 1.58969099521155010221e-10)))))
        cr = 1.0 - 0.5 * z + z * z * (4.16666666666666019037e-02 + z * (-1.38888888888741095749e-03 + z * (
            2.48015872894767294178e-05 + z * (-2.75573143513906633035e-07 + z * (
                2.08757232129817482790e-09 + z * -1.13596475577881948265e-11)))))
        return _by_quadrant(sr, cr, quadrant)

    @triton.jit
    def _ndtri_acklam(p, q):
        """z with Phi(z) = p from p and q = 1 - p (each accurate): Acklam's rational approximation."""
        t = tl.minimum(p, q)
        x = 0.5 * (p - q)
        r = x * x
        num = (((((-3.969683028665376e+01 * r + 2.209460984245205e+02) * r - 2.759285104469687e+02) * r
                 + 1.383577518672690e+02) * r - 3.066479806614716e+01) * r + 2.506628277459239e+00) * x
        den = ((((-5.447609879822406e+01 * r + 1.615858368580409e+02) * r - 1.556989798598866e+02) * r
                + 6.680131188771972e+01) * r - 1.328068155288572e+01) * r + 1.0
        central = num / den
        s = tl.sqrt(-2.0 * _log_d(tl.where(t > 0.0, t, 0.5)))
        num = ((((-7.784894002430293e-03 * s - 3.223964580411365e-01) * s - 2.400758277161838e+00) * s
                - 2.549732539343734e+00) * s + 4.374664141464968e+00) * s + 2.938163982698783e+00
        den = (((7.784695709041462e-03 * s + 3.224671290700398e-01) * s + 2.445134137142996e+00) * s
               + 3.754408661907416e+00) * s + 1.0
        zt = num / den
        tail = tl.where(p < q, zt, -zt)
        return tl.where(t >= 0.02425, central, tail)

    @triton.jit
    def _erfc_pos(x):
        """erfc(x) for x >= 0 (fdlibm s_erf.c, the branches of x >= 0)."""
        z = x * x
        # |x| < 0.84375
        r = 1.28379167095512558561e-01 + z * (-3.25042107247001499370e-01 + z * (-2.84817495755985104766e-02 + z * (
            -5.77027029648944159157e-03 + z * -2.37630166566501626084e-05)))
        s = 1.0 + z * (3.97917223959155352819e-01 + z * (6.50222499887672944485e-02 + z * (
            5.08130628187576562776e-03 + z * (1.32494738004321644526e-04 + z * -3.96022827877536812320e-06))))
        y = r / s
        small = tl.where(x < 0.25, 1.0 - (x + x * y), 0.5 - (x * y + (x - 0.5)))
        # 0.84375 <= x < 1.25
        a = x - 1.0
        pp = -2.36211856075265944077e-03 + a * (4.14856118683748331666e-01 + a * (-3.72207876035701323847e-01 + a * (
            3.18346619901161753674e-01 + a * (-1.10894694282396677476e-01 + a * (3.54783043256182359371e-02
                                                                                  + a * -2.16637559486879084300e-03)))))
        qq = 1.0 + a * (1.06420880400844228286e-01 + a * (5.40397917702171048937e-01 + a * (7.18286544141962662868e-02 + a * (
            1.26171219808761642112e-01 + a * (1.36370839120290507362e-02 + a * 1.19844998467991074170e-02)))))
        mid = 1.0 - 8.45062911510467529297e-01 - pp / qq
        # 1.25 <= x < 28
        xb = tl.maximum(x, 1.25)   # (the lanes of the other branches: keep exp finite)
        s2 = 1.0 / (xb * xb)
        ra = -9.86494403484714822705e-03 + s2 * (-6.93858572707181764372e-01 + s2 * (-1.05586262253232909814e+01 + s2 * (
            -6.23753324503260060396e+01 + s2 * (-1.62396669462573470355e+02 + s2 * (-1.84605092906711035994e+02 + s2 * (
                -8.12874355063065934246e+01 + s2 * -9.81432934416914548592e+00))))))
        sa = 1.0 + s2 * (1.96512716674392571292e+01 + s2 * (1.37657754143519042600e+02 + s2 * (4.34565877475229228821e+02 + s2 * (
            6.45387271733267880336e+02 + s2 * (4.29008140027567833386e+02 + s2 * (1.08635005541779435134e+02 + s2 * (
                6.57024977031928170135e+00 + s2 * -6.04244152148580987438e-02)))))))
        rb = -9.86494292470009928597e-03 + s2 * (-7.99283237680523006574e-01 + s2 * (-1.77579549177547519889e+01 + s2 * (
            -1.60636384855821916062e+02 + s2 * (-6.37566443368389627722e+02 + s2 * (-1.02509513161107724954e+03
                                                                                     + s2 * -4.83519191608651397019e+02)))))
        sb = 1.0 + s2 * (3.03380607434824582924e+01 + s2 * (3.25792512996573918826e+02 + s2 * (1.53672958608443695994e+03 + s2 * (
            3.19985821950859553908e+03 + s2 * (2.55305040643316442583e+03 + s2 * (4.74528541206955367215e+02
                                                                                   + s2 * -2.24409524465858183362e+01))))))
        near = xb < 2.857142857142857
        rr = tl.where(near, ra, rb)
        ss = tl.where(near, sa, sb)
        hi = (xb.to(tl.int64, bitcast=True) & -4294967296).to(tl.float64, bitcast=True)   # low word cleared
        big = tl.exp(-hi * hi - 0.5625) * tl.exp((hi - xb) * (hi + xb) + rr / ss) / xb
        out = tl.where(x < 0.84375, small, tl.where(x < 1.25, mid, big))
        return tl.where(x < 28.0, out, 0.0)

    @triton.jit
    def _ndtri_refined(p, q):
        """One Halley step on Acklam's value in the small tail: double precision."""
        z = _ndtri_acklam(p, q)
        lower = p < q
        a = tl.where(lower, z, -z)
        t = tl.where(lower, p, q)
        err = 0.5 * _erfc_pos(-a * 0.70710678118654752440) - t
        u = err * 2.50662827463100050242 * tl.exp(0.5 * a * a)
        a = a - u / (1.0 + 0.5 * a * u)
        return tl.where(lower, a, -a)

    # ---------------------------------------------------------------- 16-bit outputs and the draws of one kind

    @triton.jit
    def _narrow16(v, lo, hi, OUT: tl.constexpr):
        """float32 -> float16 / bfloat16 bits (int16), held in [lo, hi], rounded to nearest even on the bits."""
        v = tl.where(v < lo, lo, tl.where(v > hi, hi, v))   # (exact: a zero keeps its sign, as in the C core)
        u = v.to(tl.uint32, bitcast=True)
        if OUT == 4:
            bits = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
        else:
            sign = (u >> 16) & 0x8000
            a = u & 0x7FFFFFFF
            rb = a - 0x38000000
            normal = (rb + 0xFFF + ((rb >> 13) & 1)) >> 13
            t = a.to(tl.float32, bitcast=True) + 0.5
            sub = t.to(tl.uint32, bitcast=True) - 0x3F000000
            bits = sign | tl.where(a >= 0x47800000, 0x7C00, tl.where(a >= 0x38800000, normal, sub))
        return bits.to(tl.uint16).to(tl.int16, bitcast=True)

    @triton.jit
    def _as_f64(bits):
        """The float64 whose bits the int argument holds (Triton types a small int argument as int32)."""
        return bits.to(tl.int64).to(tl.float64, bitcast=True)

    @triton.jit
    def _k53(lo, hi):
        return (((hi.to(tl.uint64) << 32) | lo.to(tl.uint64)) >> 11).to(tl.int64)

    @triton.jit
    def _truncnorm(k, kmax, ulp, p_lo, q_hi, mass, mean, std, REFINE: tl.constexpr):
        kd = k.to(tl.float64)
        u = (kd + 0.5) * ulp
        um = ((kmax - k).to(tl.float64) + 0.5) * ulp
        pp = p_lo + u * mass
        qq = q_hi + um * mass
        if REFINE:
            z = _ndtri_refined(pp, qq)
        else:
            z = _ndtri_acklam(pp, qq)
        return mean + std * z

    @triton.jit(do_not_specialize=_NO_SPECIAL)
    def _fill(out_ptr, rows_ptr, row_len, chunks, first_block, first_skip, row_step, key0, key1, stream0, stream1,
              low, scale, upper, mean, std, p_lo, q_hi, mass, clamp_lo, clamp_hi, narrow_lo, narrow_hi,
              KIND: tl.constexpr, OUT: tl.constexpr, ROWS_IN_MEMORY: tl.constexpr, BLOCK: tl.constexpr):
        PER: tl.constexpr = 2 if OUT == 1 else 4   # draws per Philox block
        pid = tl.program_id(0).to(tl.int64)
        row = pid // chunks
        chunk = pid % chunks
        if ROWS_IN_MEMORY:
            first = tl.load(rows_ptr + row).to(tl.uint64)
            block0 = first // PER
            skip = (first % PER).to(tl.int64)
        else:
            rel = first_skip.to(tl.uint64) + row.to(tl.uint64) * row_step.to(tl.uint64)
            block0 = first_block.to(tl.uint64) + rel // PER
            skip = (rel % PER).to(tl.int64)
        t = chunk * BLOCK + tl.arange(0, BLOCK).to(tl.int64)
        b = block0 + t.to(tl.uint64)
        zero = tl.zeros([BLOCK], tl.uint32)
        w0, w1, w2, w3 = _philox((b & 0xFFFFFFFF).to(tl.uint32), (b >> 32).to(tl.uint32),
                                 zero + stream0.to(tl.uint32), zero + stream1.to(tl.uint32),
                                 zero + key0.to(tl.uint32), zero + key1.to(tl.uint32))
        lo = _as_f64(low)
        sc = _as_f64(scale)
        up = _as_f64(upper)
        mu = _as_f64(mean)
        sd = _as_f64(std)
        if OUT == 1:   # float64: two draws per block
            if KIND == 1:
                v0 = tl.minimum(lo + sc * (_k53(w0, w1).to(tl.float64) * 1.1102230246251565e-16), up)
                v1 = tl.minimum(lo + sc * (_k53(w2, w3).to(tl.float64) * 1.1102230246251565e-16), up)
            elif KIND == 2:
                r = tl.sqrt(_neg2log_d(_k53(w0, w1)))
                s, c = _sincos_2pi_d(_k53(w2, w3))
                v0 = mu + sd * (r * c)
                v1 = mu + sd * (r * s)
            else:
                pl = _as_f64(p_lo)
                qh = _as_f64(q_hi)
                ms = _as_f64(mass)
                cl = _as_f64(clamp_lo)
                ch = _as_f64(clamp_hi)
                v0 = _truncnorm(_k53(w0, w1), 0x1FFFFFFFFFFFFF, 1.1102230246251565e-16, pl, qh, ms, mu, sd, True)
                v1 = _truncnorm(_k53(w2, w3), 0x1FFFFFFFFFFFFF, 1.1102230246251565e-16, pl, qh, ms, mu, sd, True)
                v0 = tl.minimum(tl.maximum(v0, cl), ch)
                v1 = tl.minimum(tl.maximum(v1, cl), ch)
            vals = tl.interleave(v0, v1)
        else:
            if KIND == 0:
                v0 = w0.to(tl.int32, bitcast=True)
                v1 = w1.to(tl.int32, bitcast=True)
                v2 = w2.to(tl.int32, bitcast=True)
                v3 = w3.to(tl.int32, bitcast=True)
            elif KIND == 1:
                lo32 = lo.to(tl.float32)
                sc32 = sc.to(tl.float32)
                up32 = up.to(tl.float32)
                v0 = tl.minimum(lo32 + sc32 * ((w0 >> 8).to(tl.float32) * 5.9604644775390625e-08), up32)
                v1 = tl.minimum(lo32 + sc32 * ((w1 >> 8).to(tl.float32) * 5.9604644775390625e-08), up32)
                v2 = tl.minimum(lo32 + sc32 * ((w2 >> 8).to(tl.float32) * 5.9604644775390625e-08), up32)
                v3 = tl.minimum(lo32 + sc32 * ((w3 >> 8).to(tl.float32) * 5.9604644775390625e-08), up32)
            elif KIND == 2:
                mu32 = mu.to(tl.float32)
                sd32 = sd.to(tl.float32)
                ra = tl.sqrt_rn(_neg2log_f(w0))
                sa, ca = _sincos_2pi_f(w1)
                rb = tl.sqrt_rn(_neg2log_f(w2))
                sb, cb = _sincos_2pi_f(w3)
                v0 = mu32 + sd32 * (ra * ca)
                v1 = mu32 + sd32 * (ra * sa)
                v2 = mu32 + sd32 * (rb * cb)
                v3 = mu32 + sd32 * (rb * sb)
            else:
                pl = _as_f64(p_lo)
                qh = _as_f64(q_hi)
                ms = _as_f64(mass)
                cl = _as_f64(clamp_lo).to(tl.float32)
                ch = _as_f64(clamp_hi).to(tl.float32)
                ulp = 5.9604644775390625e-08
                v0 = _truncnorm((w0 >> 8).to(tl.int64), 0xFFFFFF, ulp, pl, qh, ms, mu, sd, False).to(tl.float32)
                v1 = _truncnorm((w1 >> 8).to(tl.int64), 0xFFFFFF, ulp, pl, qh, ms, mu, sd, False).to(tl.float32)
                v2 = _truncnorm((w2 >> 8).to(tl.int64), 0xFFFFFF, ulp, pl, qh, ms, mu, sd, False).to(tl.float32)
                v3 = _truncnorm((w3 >> 8).to(tl.int64), 0xFFFFFF, ulp, pl, qh, ms, mu, sd, False).to(tl.float32)
                v0 = tl.minimum(tl.maximum(v0, cl), ch)
                v1 = tl.minimum(tl.maximum(v1, cl), ch)
                v2 = tl.minimum(tl.maximum(v2, cl), ch)
                v3 = tl.minimum(tl.maximum(v3, cl), ch)
            if OUT == 3 or OUT == 4:
                nlo = _as_f64(narrow_lo).to(tl.float32)
                nhi = _as_f64(narrow_hi).to(tl.float32)
                v0 = _narrow16(v0, nlo, nhi, OUT)
                v1 = _narrow16(v1, nlo, nhi, OUT)
                v2 = _narrow16(v2, nlo, nhi, OUT)
                v3 = _narrow16(v3, nlo, nhi, OUT)
            # draws 4b, 4b+1, 4b+2, 4b+3 next to each other
            vals = tl.interleave(tl.interleave(v0, v2), tl.interleave(v1, v3))
        e = chunk * (BLOCK * PER) + tl.arange(0, BLOCK * PER).to(tl.int64) - skip
        mask = (e >= 0) & (e < row_len)
        tl.store(out_ptr + row * row_len + e, vals, mask=mask)


def _storage_view(out, dtype):
    """The tensor the kernel writes: int32 for words, int16 for the 16-bit patterns, else out itself."""
    import torch

    if dtype == "uint32":
        return out.view(torch.int32)
    if dtype in ("float16", "bfloat16"):
        return out.view(torch.int16)
    return out


def fill(spec, out):
    """Write ``spec`` (a validated ``fastinit.random._spec.FillSpec``) into ``out``: a C-contiguous torch tensor of the
    spec's element type (uint32 words: int32 or uint32) on the device Triton runs on, in place, on its current
    stream. Returns out."""
    per = 2 if spec.dtype == "float64" else 4
    n = out.numel()
    if n == 0:
        return out
    rows_ptr = out   # (unused unless the rows come from memory)
    if spec.row_offsets is not None:
        rows = np.asarray(spec.row_offsets, np.uint64).reshape(-1)
        if rows.size == 0:
            return out
        row_len = n // rows.size
        step = np.diff(rows)
        if rows.size == 1 or (np.all(rows[1:] >= rows[:-1]) and np.all(step == step[0])):
            # an arithmetic progression (a column shard of a matrix): two numbers, nothing to upload
            first, row_step, in_memory = int(rows[0]), int(step[0]) if rows.size > 1 else 0, False
        else:
            import torch
            rows_ptr = torch.from_numpy(rows.view(np.int64)).to(out.device)
            first, row_step, in_memory = 0, 0, True
        nrows = rows.size
    else:
        first, row_step, in_memory, nrows, row_len = spec.offset, 0, False, 1, n
    chunks = -(-(row_len + per - 1) // (BLOCK * per))
    p = spec.params
    target = _storage_view(out, spec.dtype)
    if out.is_cuda:   # Triton launches on the current device and its current stream: make them the tensor's
        import torch

        with torch.cuda.device(out.device):
            _launch(target, rows_ptr, row_len, chunks, first, per, row_step, spec, p, in_memory, nrows)
    else:
        _launch(target, rows_ptr, row_len, chunks, first, per, row_step, spec, p, in_memory, nrows)
    return out


def _launch(target, rows_ptr, row_len, chunks, first, per, row_step, spec, p, in_memory, nrows):
    _fill[(nrows * chunks,)](
        target, rows_ptr, row_len, chunks, first // per, first % per, row_step,
        spec.seed & 0xFFFFFFFF, spec.seed >> 32, spec.stream & 0xFFFFFFFF, spec.stream >> 32,
        *[_f64_bits(p[name]) for name in ("low", "scale", "upper", "mean", "std", "p_lo", "q_hi", "mass",
                                           "clamp_lo", "clamp_hi", "narrow_lo", "narrow_hi")],
        KIND=KIND_CODES[spec.kind], OUT=OUT_CODES[spec.dtype], ROWS_IN_MEMORY=in_memory, BLOCK=BLOCK,
        enable_fp_fusion=False)

