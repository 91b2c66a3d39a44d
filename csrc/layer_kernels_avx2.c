/* The layer kernels again, compiled with -mavx2 -mfma (see setup.py) and chosen at run time on CPUs that have
 * them: the same source, wider vectors. */
#if defined(FASTINIT_HAVE_AVX2) && (defined(__x86_64__) || defined(_M_X64) || defined(__i386__))
#define FI_LAYER_ISA avx2
#include "layer_kernels.c"
#else
#include "layer_internal.h"
const fi_layer_kernels *fi_layer_kernels_avx2(void) { return 0; }
#endif
