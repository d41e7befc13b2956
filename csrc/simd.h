/* NNC_SIMD_DISPATCH: compile a hot loop twice, for AVX2 and for the baseline (SSE2 on
 * x86-64), and pick one when the library loads (GCC target_clones, resolved through a
 * glibc ifunc by CPU feature), so the build stays portable (no -march=native).
 *
 * The elementwise loops are bound by memory and by sqrt/divide throughput: the fused Adam
 * over 235,146 float32 runs ~160 us baseline, ~85 us AVX2, and no faster with FMA too.
 * FMA is left out on purpose: it would contract a * b + c into one rounding only in the
 * AVX2 clone, so results would depend on the CPU; without it both clones round every
 * operation as NumPy does. (Not "arch=haswell": GCC tests that by CPU model, which AMD
 * chips with AVX2 fail.) Other compilers and targets get the baseline loop only.
 */
#ifndef NNCORE_SIMD_H
#define NNCORE_SIMD_H

#include <limits.h> /* defines __GLIBC__ on glibc, which target_clones' ifunc needs */

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 8 && \
    defined(__x86_64__) && defined(__GLIBC__)
#  define NNC_SIMD_DISPATCH __attribute__((target_clones("avx2", "default")))
#else
#  define NNC_SIMD_DISPATCH
#endif

/* Subnormal floats (below 1.2e-38 in float32) take a slow microcode path on x86, 3x
 * slower for a whole Adam pass on this kind of machine, and training makes them: the
 * squared gradient of a weight whose inputs are nearly always 0, a momentum decaying
 * towards 0. Between nnc_flush_subnormals() and nnc_restore_fp(), the calling thread
 * flushes subnormal results and inputs to zero (MXCSR FTZ and DAZ, as TensorFlow does
 * in its CPU kernels); the caller's mode is restored afterwards. Only values whose
 * effect is far below any epsilon change. Other targets leave the mode alone. */
#if defined(__SSE2__)
#  include <xmmintrin.h>
static inline unsigned int nnc_flush_subnormals(void)
{
    const unsigned int mode = _mm_getcsr();
    _mm_setcsr(mode | 0x8040u); /* FTZ (bit 15) and DAZ (bit 6) */
    return mode;
}
static inline void nnc_restore_fp(unsigned int mode) { _mm_setcsr(mode); }
#else
static inline unsigned int nnc_flush_subnormals(void) { return 0; }
static inline void nnc_restore_fp(unsigned int mode) { (void)mode; }
#endif

#endif /* NNCORE_SIMD_H */
