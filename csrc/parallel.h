/* A small fork-join pool for the elementwise passes that are bound by memory bandwidth
 * (the optimizer updates): one core cannot saturate it, two come close.
 *
 * nnc_parallel_for(n, grain, fn, ctx) runs fn(ctx, lo, hi) over a split of [0, n) into
 * one contiguous range per thread, the calling thread taking the first; it returns when
 * every range is done. Ranges start on multiples of 16 elements (64-byte lines for
 * float32), so no two threads write one cache line. It runs fn(ctx, 0, n) in the
 * caller alone when n < 2 * grain, when the machine has one usable core, when another
 * thread is using the pool (or fn itself calls nnc_parallel_for), or when NNCORE_THREADS=1.
 *
 * The pool's threads are started on first use. Idle ones sleep on a condition variable
 * (after a spin of a few microseconds), so they cost nothing between training steps and
 * never compete with BLAS's own threads for the cores. Each extension module that links
 * this file has its own pool. A child made by fork() starts with no pool and makes its
 * own when it needs one.
 */
#ifndef NNCORE_PARALLEL_H
#define NNCORE_PARALLEL_H

#include <stddef.h>

typedef void (*nnc_range_fn)(void *ctx, ptrdiff_t lo, ptrdiff_t hi);

void nnc_parallel_for(ptrdiff_t n, ptrdiff_t grain, nnc_range_fn fn, void *ctx);

/* How many threads a job may use (1 when the pool is off); starts nothing. */
int nnc_parallel_threads(void);

#endif /* NNCORE_PARALLEL_H */
