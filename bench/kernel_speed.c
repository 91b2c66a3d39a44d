/* Speed of the AVX2 fill kernels without Python: ns per value for 2**24 values on one core into a 64 MiB
 * buffer (non-temporal stores, as fills of large buffers use) and into a 256 KiB buffer that stays in cache
 * (plain stores), minimum over repeats. The figures in the comments of
 * csrc/kernels_avx2.c come from it (build it with the flags setup.py gives kernels_avx2.c):
 *   gcc -O3 -mavx2 -mfma -ffp-contract=off -fno-math-errno -fno-trapping-math -fno-wrapv -Icsrc \
 *       bench/kernel_speed.c -o /tmp/kernel_speed && /tmp/kernel_speed
 * Adding -fwrapv shows the effect of Python's CFLAGS on the Philox loops (see philox_groups). With -fopenmp it
 * also times the 64 MiB fills on two threads, split like fill.c does (chunks of 256 groups, static schedule). */
#define FASTINIT_HAVE_AVX2 1
#include "../csrc/kernels_avx2.c"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* Only the AVX2 kernels are measured; kernels_avx2.c refers to the scalar ones for the float64 truncated normal. */
fi_group_fn fi_generic_kernel(fi_kind kind, fi_dtype dtype) { (void)kind; (void)dtype; return 0; }

int main(void)
{
    fi_params p = {0};
    p.key0 = 123; p.key1 = 456; p.stream = 7;
    p.low = -0.5; p.scale = 1.0; p.upper = 0.49999997;                  /* uniform on [-0.5, 0.5) */
    p.mean = 0.0; p.std = 1.0;
    const double phi_minus_2 = 0.022750131948179195;                  /* Phi(-2): truncated to [-2, 2] */
    p.p_lo = phi_minus_2; p.q_hi = phi_minus_2; p.mass = 1.0 - 2 * phi_minus_2;
    p.clamp_lo = -2.0; p.clamp_hi = 2.0;
    const struct { fi_kind kind; fi_dtype dtype; const char *name; } cases[] = {
        {FI_RAW, FI_F32, "raw words"}, {FI_UNIFORM, FI_F32, "uniform float32"}, {FI_NORMAL, FI_F32, "normal float32"},
        {FI_TRUNCNORM, FI_F32, "truncated normal float32"}, {FI_UNIFORM, FI_F64, "uniform float64"},
        {FI_NORMAL, FI_F64, "normal float64"},
    };
    const size_t n = (size_t)1 << 24, small_bytes = 256 << 10;
    char *buf = aligned_alloc(64, n * 8);
    if (!buf) return 1;
    for (size_t i = 0; i < n * 8; ++i) buf[i] = 0;   /* touch every page before timing */
    printf("%-26s %12s %12s %16s\n", "ns per value, one core", "64 MiB", "in cache", "64 MiB, 2 threads");
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
        fi_group_fn f = fi_avx2_kernel(cases[c].kind, cases[c].dtype);
        const size_t per_group = cases[c].dtype == FI_F64 ? FI_GROUP_F64 : FI_GROUP_F32;
        const size_t esize = cases[c].dtype == FI_F64 ? 8 : 4;
        const size_t big = n / per_group, small = small_bytes / esize / per_group;
        double best_big = 1e9, best_small = 1e9, best_two = 1e9;
        for (int r = 0; r < 9; ++r) {
#ifdef _OPENMP
            const long long chunks = (long long)(big / 256);
            double t2 = now();
#pragma omp parallel for schedule(static) num_threads(2)
            for (long long ch = 0; ch < chunks; ++ch)
                f(buf + (size_t)ch * 256 * per_group * esize, (uint64_t)ch * 256, 256, &p, 1);
            t2 = now() - t2;
            if (t2 < best_two) best_two = t2;
#endif
            double t = now();
            f(buf, 0, big, &p, 1);
            t = now() - t;
            if (t < best_big) best_big = t;
            t = now();
            for (int k = 0; k < 64; ++k) f(buf, (uint64_t)k * small, small, &p, 0);
            t = (now() - t) / 64;
            if (t < best_small) best_small = t;
        }
        printf("%-26s %12.3f %12.3f", cases[c].name, best_big / n * 1e9, best_small / (small * per_group) * 1e9);
        if (best_two < 1e9) printf(" %16.3f", best_two / n * 1e9);   /* wall time per value, both threads */
        printf("\n");
    }
    free(buf);
    return 0;
}
