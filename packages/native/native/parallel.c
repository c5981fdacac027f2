/*
 * Splitting the addon's own loops across its threads (OpenMP, threads sleeping between loops).
 * Built without OpenMP (a compiler without it: scripts/build.mjs retries so), every loop runs on
 * the caller's thread.
 */
#ifdef _OPENMP
#include <omp.h>
#endif

#include "vmath.h"

int ct_threads = 1;

#define CT_PARALLEL_MIN_WORK (1 << 22)

int ct_parallel_chunks(size_t count, size_t cost) {
#ifndef _OPENMP
  (void)count;
  (void)cost;
  return 1;
#endif
  if (ct_threads < 2 || count < 2 || count * cost < CT_PARALLEL_MIN_WORK) return 1;
  return (size_t)ct_threads < count ? ct_threads : (int)count;
}

void ct_parallel(size_t count, size_t cost, ct_range_body body, void *context) {
  const int chunks = ct_parallel_chunks(count, cost);
  if (chunks == 1) {
    body(0, count, 0, context);
    return;
  }
#ifdef _OPENMP
#pragma omp parallel num_threads(chunks)
  {
    const size_t t = (size_t)omp_get_thread_num(), used = (size_t)omp_get_num_threads();
    body(count * t / used, count * (t + 1) / used, (int)t, context);
  }
#endif
}
