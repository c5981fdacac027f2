/*
 * What the addon's loops share: a vectorisable exp, the per-CPU code paths, and how a loop is
 * split across the addon's threads (parallel.c).
 */
#ifndef CT_NATIVE_VMATH_H
#define CT_NATIVE_VMATH_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * CT_VECTOR_PATHS on a hot loop compiles it for AVX-512, AVX2 and the x86-64 baseline and picks
 * one when the addon loads, so a binary built on one machine runs on any x86-64 CPU at that CPU's
 * width. Elsewhere (another architecture or compiler) the loop is built once, for the target.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CT_VECTOR_PATHS __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CT_VECTOR_PATHS
#endif

/*
 * e^x for float, in straight-line code that compilers vectorise (libm's expf is a call per
 * element): x = n·ln2 + r with n rounded to nearest and |r| ≤ ln2/2, e^r by Cephes' degree-6
 * polynomial, 2^n from the exponent bits. Relative error below 2e-7 for x in [−87, 88.7]; below
 * −87 it returns 0 (e^x is subnormal there), above 88.7 it returns e^88.7 (callers that can
 * overflow subtract their row maximum first). NaN in gives NaN out.
 */
static inline float ct_exp(float x) {
  const float clamped = x < -87.0f ? -87.0f : (x > 88.7f ? 88.7f : x);
  x = x != x ? x : clamped;
  /* Adding then subtracting 1.5·2^23 rounds to the nearest integer (the compiler keeps both steps). */
  const float round_magic = 12582912.0f;
  const float n = (x * 1.44269504088896341f + round_magic) - round_magic;
  float r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  /* 2^(n−1) then ×2: n reaches 128, whose own exponent field would be infinity. n ≤ −126 gives 0. */
  const int32_t biased = (int32_t)n + 126;
  const int32_t bits = (biased > 0 ? biased : 0) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return p * scale * 2.0f;
}

/* tanh(u) = 1 − 2/(e^{2u} + 1): e^{2u} at its clamp gives 1, at 0 gives −1. */
static inline float ct_tanh(float u) { return 1.0f - 2.0f / (ct_exp(2.0f * u) + 1.0f); }

/*
 * The threads the addon's own loops use: set by open() to the BLAS thread count (BLAS and these
 * loops run one at a time, on the caller's thread, so the cores have one owner at a time).
 */
extern int ct_threads;

/*
 * Calls body(begin, end, thread, context) on contiguous chunks covering [0, count), one chunk per
 * thread, and returns when all are done; `cost` is the work of one item in element operations:
 * loops under about 4M of them stay on the caller's thread (waking a sleeping thread costs tens of
 * µs, more than it saves there). `thread` (0 ..< the chunk count, returned) indexes per-thread
 * scratch.
 */
typedef void (*ct_range_body)(size_t begin, size_t end, int thread, void *context);
/* A cost that always splits: ct_parallel_chunks(ct_threads, it) is the loops' thread count. */
#define CT_PARALLEL_MIN_WORK_ALL ((size_t)1 << 40)
int ct_parallel_chunks(size_t count, size_t cost);
void ct_parallel(size_t count, size_t cost, ct_range_body body, void *context);

#endif
