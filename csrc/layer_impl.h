/* Type-generic body of the layer kernels, included by layer_kernels.c once per element type and ISA:
 *   FI_T      element type (float or double)
 *   FI_N(x)   the name of x for this type and ISA
 *   FI_GEMM   the BLAS gemm function pointer type
 *   FI_EXP, FI_TANH, FI_ERF  the elementary functions for FI_T
 * Work is split in row chunks whose size depends only on the layer's width, and partial statistics are merged
 * in chunk order, so results do not depend on the thread count. */

/* y = act(x) over n elements. */
static void FI_N(act_row)(const FI_T *x, FI_T *y, size_t n, int act, FI_T alpha)
{
    size_t i;
    switch (act) {
    case FI_ACT_SIGMOID:
        for (i = 0; i < n; ++i) y[i] = (FI_T)1 / ((FI_T)1 + FI_EXP(-x[i]));
        break;
    case FI_ACT_TANH:
        for (i = 0; i < n; ++i) y[i] = FI_TANH(x[i]);
        break;
    case FI_ACT_RELU:
        for (i = 0; i < n; ++i) y[i] = x[i] > 0 ? x[i] : (FI_T)0;
        break;
    case FI_ACT_LEAKY_RELU:
        for (i = 0; i < n; ++i) y[i] = x[i] > 0 ? x[i] : alpha * x[i];
        break;
    case FI_ACT_ELU:
        for (i = 0; i < n; ++i) y[i] = x[i] > 0 ? x[i] : alpha * FI_EXPM1(x[i]);
        break;
    case FI_ACT_SELU:
        for (i = 0; i < n; ++i) y[i] = (FI_T)FI_SELU_LAMBDA * (x[i] > 0 ? x[i] : (FI_T)FI_SELU_ALPHA * FI_EXPM1(x[i]));
        break;
    case FI_ACT_GELU:
        for (i = 0; i < n; ++i) y[i] = (FI_T)0.5 * x[i] * ((FI_T)1 + FI_ERF(x[i] * (FI_T)0.70710678118654752));
        break;
    case FI_ACT_SILU:
        for (i = 0; i < n; ++i) y[i] = x[i] / ((FI_T)1 + FI_EXP(-x[i]));
        break;
    case FI_ACT_SOFTPLUS:   /* torch's threshold 20: x itself above it */
        for (i = 0; i < n; ++i) y[i] = x[i] > 20 ? x[i] : (FI_T)FI_LOG1P(FI_EXP(x[i]));
        break;
    default:
        if (y != x) memcpy(y, x, n * sizeof(FI_T));
    }
}

/* g *= act'(x), with h = act(x) at hand. */
static void FI_N(dact_row)(const FI_T *x, const FI_T *h, FI_T *g, size_t n, int act, FI_T alpha)
{
    size_t i;
    switch (act) {
    case FI_ACT_SIGMOID:
        for (i = 0; i < n; ++i) g[i] *= h[i] * ((FI_T)1 - h[i]);
        break;
    case FI_ACT_TANH:
        for (i = 0; i < n; ++i) g[i] *= (FI_T)1 - h[i] * h[i];
        break;
    case FI_ACT_RELU:
        for (i = 0; i < n; ++i) g[i] = x[i] > 0 ? g[i] : (FI_T)0;
        break;
    case FI_ACT_LEAKY_RELU:
        for (i = 0; i < n; ++i) g[i] *= x[i] > 0 ? (FI_T)1 : alpha;
        break;
    case FI_ACT_ELU:
        for (i = 0; i < n; ++i) g[i] *= x[i] > 0 ? (FI_T)1 : h[i] + alpha;
        break;
    case FI_ACT_SELU:
        for (i = 0; i < n; ++i) g[i] *= x[i] > 0 ? (FI_T)FI_SELU_LAMBDA : h[i] + (FI_T)(FI_SELU_LAMBDA * FI_SELU_ALPHA);
        break;
    case FI_ACT_GELU:   /* Phi(x) + x phi(x) */
        for (i = 0; i < n; ++i)
            g[i] *= (FI_T)0.5 * ((FI_T)1 + FI_ERF(x[i] * (FI_T)0.70710678118654752)) +
                x[i] * (FI_T)0.39894228040143268 * FI_EXP((FI_T)-0.5 * x[i] * x[i]);
        break;
    case FI_ACT_SILU:   /* s (1 + x (1 - s)), s = sigmoid(x) */
        for (i = 0; i < n; ++i) {
            FI_T s = (FI_T)1 / ((FI_T)1 + FI_EXP(-x[i]));
            g[i] *= s * ((FI_T)1 + x[i] * ((FI_T)1 - s));
        }
        break;
    case FI_ACT_SOFTPLUS:
        for (i = 0; i < n; ++i) g[i] *= x[i] > 20 ? (FI_T)1 : (FI_T)1 / ((FI_T)1 + FI_EXP(-x[i]));
        break;
    default: break;
    }
}

/* Add n values to a partial: shift is the chunk's first finite value. FI_LANES independent accumulators per
 * quantity so that the loop vectorizes without reassociating a sum (the result does not depend on the ISA's
 * vector width). Sums run in FI_T over blocks of FI_STATS_BLOCK values per lane, then fold into double lanes:
 * full-width vectors in the hot loop, and a block's rounding (<= 16 ulp of its sum) far below what the
 * statistics report. */
#ifndef FI_LANES
#define FI_LANES 8
#define FI_STATS_BLOCK 16
#endif
static void FI_N(stats_add)(fi_stats *s, const FI_T *x, size_t n, int saturation)
{
    if (s->shift != s->shift) {
        for (size_t i = 0; i < n; ++i)
            if (x[i] - x[i] == 0) {
                s->shift = (double)x[i];
                break;
            }
        if (s->shift != s->shift) {
            s->nonfinite += (int64_t)n;
            return;
        }   /* nothing finite yet */
    }
    /* a non-finite value is replaced by shift, a finite value of the partial: it moves no sum, min or max,
     * and the loop needs no branches */
    const FI_T shift = (FI_T)s->shift;
    const double limit = saturation == FI_SAT_UNIT ? FI_SAT_UNIT_LIMIT : FI_SAT_ABS_LIMIT;
    const FI_T centre = saturation == FI_SAT_UNIT ? (FI_T)FI_SAT_UNIT_CENTRE : (FI_T)0;
    /* |v - centre| > limit (in double) <=> |v - centre| >= sat_at, the least FI_T above limit; v - centre is
     * exact near the limit (Sterbenz), so the test is the double one without the conversion */
    FI_T sat_at = (FI_T)limit;
    while ((double)sat_at <= limit) sat_at = FI_NEXTAFTER(sat_at, (FI_T)2);
    double sum[FI_LANES], sumsq[FI_LANES];
    FI_T mn[FI_LANES], mx[FI_LANES];
    int32_t count[FI_LANES], zeros[FI_LANES], sat[FI_LANES];
    for (int l = 0; l < FI_LANES; ++l) {
        sum[l] = sumsq[l] = 0;
        mn[l] = (FI_T)INFINITY;
        mx[l] = (FI_T)-INFINITY;
        count[l] = zeros[l] = sat[l] = 0;
    }
    size_t i = 0;
    while (i + FI_LANES <= n) {
        const size_t block = i;
        size_t stop = i + (size_t)FI_LANES * FI_STATS_BLOCK;
        if (stop > n) stop = n;
        FI_T bsum[FI_LANES], bsumsq[FI_LANES];
        for (int l = 0; l < FI_LANES; ++l) bsum[l] = bsumsq[l] = 0;
        for (; i + FI_LANES <= stop; i += FI_LANES)
            for (int l = 0; l < FI_LANES; ++l) {
                FI_T v = x[i + l];
                int finite = v - v == 0;
                FI_T vc = finite ? v : shift;
                FI_T d = vc - shift, a = vc - centre;
                bsum[l] += d;
                bsumsq[l] += d * d;
                mn[l] = vc < mn[l] ? vc : mn[l];
                mx[l] = vc > mx[l] ? vc : mx[l];
                count[l] += finite;
                zeros[l] += v == 0;
                sat[l] += finite & ((a >= sat_at) | (-a >= sat_at));
            }
        int overflow = 0;
        for (int l = 0; l < FI_LANES; ++l) overflow |= !(bsumsq[l] - bsumsq[l] == 0);
        if (overflow) {   /* squares beyond FI_T's range (an exploding network): this block again in double */
            for (size_t j = block; j < i; ++j) {
                double d = x[j] - x[j] == 0 ? (double)x[j] - (double)shift : 0.0;
                sum[(j - block) % FI_LANES] += d;
                sumsq[(j - block) % FI_LANES] += d * d;
            }
            continue;
        }
        for (int l = 0; l < FI_LANES; ++l) {
            sum[l] += (double)bsum[l];
            sumsq[l] += (double)bsumsq[l];
        }
    }
    for (; i < n; ++i) {   /* the tail, into lane 0 */
        FI_T v = x[i];
        int finite = v - v == 0;
        double d = finite ? (double)(v - shift) : 0.0;
        FI_T a = v - centre;
        sum[0] += d;
        sumsq[0] += d * d;
        mn[0] = finite && v < mn[0] ? v : mn[0];
        mx[0] = finite && v > mx[0] ? v : mx[0];
        count[0] += finite;
        zeros[0] += v == 0;
        sat[0] += finite && (a >= sat_at || -a >= sat_at);
    }
    int64_t total = 0;
    for (int l = 0; l < FI_LANES; ++l) {
        s->sum += sum[l];
        s->sumsq += sumsq[l];
        s->min = mn[l] < s->min ? mn[l] : s->min;
        s->max = mx[l] > s->max ? mx[l] : s->max;
        s->count += count[l];
        total += count[l];
        s->zeros += zeros[l];
        if (saturation != FI_SAT_NONE) s->saturated += sat[l];
    }
    s->nonfinite += (int64_t)n - total;
}

/* Count the values of [lo, hi] into bins equal bins (the last one closed) of h, which holds FI_HIST_COPIES
 * histograms of bins + 1 entries each: entry bins collects what is outside (or not finite) and is dropped by the
 * caller, and consecutive values go to different copies so that runs of equal bins (a peaked histogram) do not
 * wait on each other's increments. Bin indices are computed 256 at a time in a loop that vectorizes. */
#ifndef FI_HIST_COPIES
#define FI_HIST_COPIES 4
#endif
static void FI_N(hist_add)(const FI_T *x, size_t n, double lo, double hi, int bins, int64_t *h)
{
    /* a range of subnormal width (a collapsed network) makes bins / (hi - lo) overflow FI_T, and a range wider
     * than the largest double (an exploded float64 network) overflows hi - lo: both go through double, halved */
    const int halve = !(hi - lo < INFINITY);
    const double dscale = halve ? bins / (0.5 * hi - 0.5 * lo) : bins / (hi - lo);
    const int wide = !halve && (double)(FI_T)dscale < INFINITY;
    const FI_T flo = (FI_T)lo, fhi = (FI_T)hi, scale = wide ? (FI_T)dscale : (FI_T)0;
    const int32_t stride = bins + 1;
    int32_t idx[256];
    for (size_t i0 = 0; i0 < n; i0 += 256) {
        size_t m = n - i0 < 256 ? n - i0 : 256;
        for (size_t j = 0; j < m; ++j) {
            FI_T v = x[i0 + j];
            int inside = v >= flo && v <= fhi;
            FI_T t = inside
                ? (wide ? (v - flo) * scale : (FI_T)((halve ? 0.5 * (double)v - 0.5 * lo : (double)v - lo) * dscale))
                : (FI_T)bins;
            int32_t k = (int32_t)t;
            k = k < 0 ? 0 : k;   /* never an index outside the table, whatever the rounding */
            idx[j] = (inside && k >= bins ? bins - 1 : (k > bins ? bins : k)) + (int32_t)(j % FI_HIST_COPIES) * stride;
        }
        for (size_t j = 0; j < m; ++j) h[idx[j]]++;
    }
}

/* The statistics and histogram passes over one contiguous piece, for tensor_stats.c (the probe). */
static void FI_N(stats_piece)(fi_stats *s, const void *x, size_t n, int saturation)
{ FI_N(stats_add)(s, (const FI_T *)x, n, saturation); }

static void FI_N(hist_piece)(const void *x, size_t n, double lo, double hi, int bins, int64_t *h)
{ FI_N(hist_add)((const FI_T *)x, n, lo, hi, bins, h); }

static size_t FI_N(chunk_rows)(size_t width) { return width >= FI_CHUNK_ELEMS ? 1 : FI_CHUNK_ELEMS / width; }

static size_t FI_N(chunk_count)(size_t batch, size_t width)
{
    const size_t rows = FI_N(chunk_rows)(width);
    return (batch + rows - 1) / rows;
}

/* Statistics of a batch x width array, in row chunks; part holds chunk_count(batch, width) partials. */
static void FI_N(array_stats)(const FI_T *x, size_t batch, size_t width, int saturation, fi_stats *part, fi_stats *out)
{
    const size_t rows = FI_N(chunk_rows)(width);
    const long long nchunks = (long long)FI_N(chunk_count)(batch, width);
    fi_stats_clear(part, (size_t)nchunks);
    int threads = fi_layer_threads(batch * width);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
#endif
    for (long long c = 0; c < nchunks; ++c) {
        size_t r1 = fi_chunk_end(c, rows, batch);
        for (size_t i = (size_t)c * rows; i < r1; ++i) FI_N(stats_add)(part + c, x + i * width, width, saturation);
    }
    (void)threads;
    fi_stats_merge(part, (size_t)nchunks, out);
}

/* Scratch of histograms(): per histogram and thread, FI_HIST_COPIES x (bins, then the dropped entry). */
static size_t FI_N(hist_stride)(int bins) { return ((size_t)bins + 1) * FI_HIST_COPIES; }

/* Histograms of two batch x width arrays on at most `threads` threads; tmp: zeroed, threads x 2 x
 * hist_stride(bins) counts (sized by the caller with the same thread count: the setting may change meanwhile). */
static void FI_N(histograms)(const FI_T *a, const FI_T *b, size_t batch, size_t width, const double ra[2],
                             const double rb[2], int bins, int64_t *ha, int64_t *hb, int threads, int64_t *tmp)
{
    const size_t rows = FI_N(chunk_rows)(width);
    const long long nchunks = (long long)FI_N(chunk_count)(batch, width);
    const size_t stride = FI_N(hist_stride)(bins);
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) if (threads > 1)
#endif
    {
#ifdef _OPENMP
        int tid = omp_get_thread_num();
#else
        int tid = 0;
#endif
        int64_t *ta = tmp + (size_t)tid * 2 * stride, *tb = ta + stride;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (long long c = 0; c < nchunks; ++c) {
            size_t r0 = (size_t)c * rows, r1 = fi_chunk_end(c, rows, batch);
            FI_N(hist_add)(a + r0 * width, (r1 - r0) * width, ra[0], ra[1], bins, ta);
            FI_N(hist_add)(b + r0 * width, (r1 - r0) * width, rb[0], rb[1], bins, tb);
        }
    }
    for (int t = 0; t < threads; ++t)
        for (int c = 0; c < FI_HIST_COPIES; ++c)
            for (int k = 0; k < bins; ++k) {
                size_t at = (size_t)t * 2 * stride + (size_t)c * ((size_t)bins + 1) + (size_t)k;
                ha[k] += tmp[at];
                hb[k] += tmp[at + stride];
            }
}

/* P rows [r0, r1) = H_in rows [r0, r1) W^T (the BLAS threads itself). */
static void FI_N(gemm_rows)(const fi_layer *L, size_t r0, size_t r1)
{
    char ta = 'T', tb = 'N';
    int m = (int)L->n_out, n = (int)(r1 - r0), k = (int)L->n_in, lda = (int)L->n_in, ldb = (int)L->n_in,
        ldc = (int)L->n_out;
    FI_T one = 1, zero = 0;
    ((FI_GEMM)L->gemm)(&ta, &tb, &m, &n, &k, &one, (FI_T *)L->w, &lda, (FI_T *)L->h_in + r0 * L->n_in, &ldb, &zero,
                       (FI_T *)L->p + r0 * L->n_out, &ldc);
}

/* Bias or batch norm, activation, statistics of rows [r0, r1) into the block's partials. */
static void FI_N(finish_rows)(fi_layer *L, size_t r0, size_t r1, const double *mean, fi_stats *pp, fi_stats *hp)
{
    const size_t N = L->n_out;
    const FI_T *bias = (const FI_T *)L->bias;
    for (size_t i = r0; i < r1; ++i) {
        FI_T *prow = (FI_T *)L->p + i * N, *hrow = (FI_T *)L->h_out + i * N;
        if (mean) {
            for (size_t j = 0; j < N; ++j)
                prow[j] = (FI_T)(((double)prow[j] + (bias ? (double)bias[j] : 0.0) - mean[j]) * L->bn_invstd[j]);
        } else if (bias) {
            for (size_t j = 0; j < N; ++j) prow[j] += bias[j];
        }
        FI_N(act_row)(prow, hrow, N, L->act, (FI_T)L->alpha);
        if (pp) {
            FI_N(stats_add)(pp, prow, N, FI_SAT_NONE);
            FI_N(stats_add)(hp, hrow, N, L->saturation);
        }
    }
}

/* Column sums of (P + bias - shift) and their squares over rows [r0, r1), shift = row 0 (+ bias). */
static void FI_N(column_sums)(const fi_layer *L, size_t r0, size_t r1, double *s, double *ss)
{
    const size_t N = L->n_out;
    const FI_T *P = (const FI_T *)L->p;
    for (size_t j = 0; j < N; ++j) s[j] = ss[j] = 0.0;
    for (size_t i = r0; i < r1; ++i)
        for (size_t j = 0; j < N; ++j) {
            double d = (double)P[i * N + j] - (double)P[j];   /* the bias cancels in the difference */
            s[j] += d;
            ss[j] += d * d;
        }
}

static void FI_N(forward)(fi_layer *L)
{
    const size_t B = L->batch, N = L->n_out;
    const long long nblocks = (long long)((B + FI_GEMM_ROWS - 1) / FI_GEMM_ROWS);
    const int want = L->stats, hist = want && L->p_hist && L->h_hist, threads = fi_layer_threads(B * N);
    /* all scratch first: when any of it is missing, the call writes nothing */
    fi_stats *pp = want ? fi_stats_alloc((size_t)nblocks) : NULL, *hp = want ? fi_stats_alloc((size_t)nblocks) : NULL;
    double *mean = NULL, *colsum = NULL;
    int64_t *hist_tmp = NULL;
    if (L->batchnorm) {
        mean = (double *)malloc(N * sizeof(double));
        colsum = (double *)malloc(2 * N * (size_t)nblocks * sizeof(double));
    }
    if (hist) hist_tmp = (int64_t *)calloc((size_t)threads * 2 * FI_N(hist_stride)(L->bins), sizeof(int64_t));
    L->status = (want && (!pp || !hp)) || (L->batchnorm && (!mean || !colsum)) || (hist && !hist_tmp) ? FI_LAYER_NOMEM
                                                                                                      : FI_LAYER_OK;
    if (L->status != FI_LAYER_OK) goto done;
    FI_N(gemm_rows)(L, 0, B);
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) if (threads > 1)
#endif
    {
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (long long c = 0; c < nblocks; ++c) {
            size_t r0 = (size_t)c * FI_GEMM_ROWS, r1 = fi_chunk_end(c, FI_GEMM_ROWS, B);
            if (colsum) FI_N(column_sums)(L, r0, r1, colsum + 2 * N * (size_t)c, colsum + 2 * N * (size_t)c + N);
            else FI_N(finish_rows)(L, r0, r1, NULL, want ? pp + c : NULL, want ? hp + c : NULL);
        }
        if (colsum) {
#ifdef _OPENMP
#pragma omp single
#endif
            {   /* per-feature mean and 1 / sqrt(var + eps) over the batch, blocks merged in order */
                const FI_T *P = (const FI_T *)L->p, *bias = (const FI_T *)L->bias;
                for (size_t j = 0; j < N; ++j) {
                    double s = 0.0, ss = 0.0;
                    for (long long c = 0; c < nblocks; ++c) {
                        s += colsum[2 * N * (size_t)c + j];
                        ss += colsum[2 * N * (size_t)c + N + j];
                    }
                    double m = s / B, var = ss / B - m * m;
                    mean[j] = (double)P[j] + (bias ? (double)bias[j] : 0.0) + m;
                    L->bn_invstd[j] = 1.0 / sqrt((var > 0 ? var : 0.0) + L->bn_eps);
                }
            }
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
            for (long long c = 0; c < nblocks; ++c) {
                size_t r0 = (size_t)c * FI_GEMM_ROWS, r1 = fi_chunk_end(c, FI_GEMM_ROWS, B);
                FI_N(finish_rows)(L, r0, r1, mean, want ? pp + c : NULL, want ? hp + c : NULL);
            }
        }
    }
    (void)threads;
    if (!want) {
        fi_stats_clear(&L->p_stats, 1);
        fi_stats_clear(&L->h_stats, 1);
        goto done;
    }
    fi_stats_merge(pp, (size_t)nblocks, &L->p_stats);
    fi_stats_merge(hp, (size_t)nblocks, &L->h_stats);
    fi_hist_range(L->p_range, &L->p_stats);
    fi_hist_range(L->h_range, &L->h_stats);
    if (hist)
        FI_N(histograms)((const FI_T *)L->p, (const FI_T *)L->h_out, B, N, L->p_range, L->h_range, L->bins, L->p_hist,
                         L->h_hist, threads, hist_tmp);
done:
    free(pp);
    free(hp);
    free(mean);
    free(colsum);
    free(hist_tmp);
}

static void FI_N(backward)(fi_layer_back *Bk)
{
    const size_t B = Bk->batch, N = Bk->n_out, K = Bk->n_in;
    FI_T *G = (FI_T *)Bk->g;
    const FI_T *P = (const FI_T *)Bk->p, *H = (const FI_T *)Bk->h_out;
    /* the partials of the three array_stats calls (G twice, dL/dW), allocated before anything is written */
    size_t nparts = FI_N(chunk_count)(B, N), nparts_w = FI_N(chunk_count)(N, K);
    const int want = Bk->stats;
    fi_stats *part = want ? fi_stats_alloc(nparts > nparts_w ? nparts : nparts_w) : NULL;
    Bk->status = part || !want ? FI_LAYER_OK : FI_LAYER_NOMEM;
    if (want && !part) return;
    if (want) FI_N(array_stats)(G, B, N, FI_SAT_NONE, part, &Bk->gh_stats);
    else {
        fi_stats_clear(&Bk->gh_stats, 1);
        fi_stats_clear(&Bk->gp_stats, 1);
    }
    const FI_T alpha = (FI_T)Bk->alpha;
    int threads = fi_layer_threads(B * N);
    /* element-wise: no partials to merge, so plain rows split over the threads give the same result for any count */
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
#endif
    for (long long i = 0; i < (long long)B; ++i) FI_N(dact_row)(P + i * N, H + i * N, G + i * N, N, Bk->act, alpha);
    if (Bk->batchnorm) {
        /* dL/dP = invstd (g - mean(g) - p_hat mean(g p_hat)), per feature over the batch */
        const long long nblocks = (long long)((N + FI_BN_BLOCK - 1) / FI_BN_BLOCK);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
#endif
        for (long long blk = 0; blk < nblocks; ++blk) {
            size_t j0 = (size_t)blk * FI_BN_BLOCK, j1 = j0 + FI_BN_BLOCK < N ? j0 + FI_BN_BLOCK : N;
            double m1[FI_BN_BLOCK] = {0}, m2[FI_BN_BLOCK] = {0};
            for (size_t i = 0; i < B; ++i)
                for (size_t j = j0; j < j1; ++j) {
                    m1[j - j0] += (double)G[i * N + j];
                    m2[j - j0] += (double)G[i * N + j] * (double)P[i * N + j];
                }
            for (size_t j = j0; j < j1; ++j) {
                m1[j - j0] /= B;
                m2[j - j0] /= B;
            }
            for (size_t i = 0; i < B; ++i)
                for (size_t j = j0; j < j1; ++j)
                    G[i * N + j] = (FI_T)(Bk->bn_invstd[j] *
                                          ((double)G[i * N + j] - m1[j - j0] - (double)P[i * N + j] * m2[j - j0]));
        }
    }
    (void)threads;
    if (want) FI_N(array_stats)(G, B, N, FI_SAT_NONE, part, &Bk->gp_stats);
    FI_T one = 1, zero = 0;
    {   /* dL/dW (N x K, row-major) = G^T H_in */
        char ta = 'N', tb = 'T';
        int m = (int)K, n = (int)N, k = (int)B, lda = (int)K, ldb = (int)N, ldc = (int)K;
        ((FI_GEMM)Bk->gemm)(&ta, &tb, &m, &n, &k, &one, (FI_T *)Bk->h_in, &lda, G, &ldb, &zero, (FI_T *)Bk->g_w, &ldc);
    }
    fi_stats gw;
    if (want) FI_N(array_stats)((const FI_T *)Bk->g_w, N, K, FI_SAT_NONE, part, &gw);
    free(part);
    if (!want) Bk->gw_norm = NAN;
    else { /* sum of squares = count (var + mean^2) */ double mean_gw = gw.count ? gw.shift + gw.sum / gw.count : 0.0;
        double m2 = gw.sumsq - (gw.count ? gw.sum * gw.sum / gw.count : 0.0);
        Bk->gw_norm = gw.nonfinite ? NAN : sqrt(m2 + gw.count * mean_gw * mean_gw);
    }
    if (Bk->g_in) {   /* dL/dH_in (B x K) = G W */
        char ta = 'N', tb = 'N';
        int m = (int)K, n = (int)B, k = (int)N, lda = (int)K, ldb = (int)N, ldc = (int)K;
        ((FI_GEMM)Bk->gemm)(&ta, &tb, &m, &n, &k, &one, (FI_T *)Bk->w, &lda, G, &ldb, &zero, (FI_T *)Bk->g_in, &ldc);
    }
}

static void FI_N(activation_apply)(int act, double alpha, const void *x, void *y, size_t n)
{ FI_N(act_row)((const FI_T *)x, (FI_T *)y, n, act, (FI_T)alpha); }
