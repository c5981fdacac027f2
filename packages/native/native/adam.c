/*
 * One fused Adam/AdamW step over a parameter, in a single pass, with the same per-entry
 * semantics as packages/training/src/optim/adam.ts (per-entry step counts; a 0/1 mask whose 0
 * entries keep their value, moments and count exactly). The tf-ops version makes about twenty
 * passes over every parameter-sized array, each allocating a temporary.
 */
#include <math.h>
#include <node_api.h>
#include <stddef.h>

#include "kernels.h"
#include "vmath.h"

/* The arrays and settings of one step. */
struct adam_arrays {
  const float *p, *g, *m, *v, *t, *mask;
  float *p_out, *m_out, *v_out, *t_out;
  float lr, beta1, beta2, eps, wd;
  int decoupled;
  int shared_count; /* t and t_out hold one count for every entry (no mask) */
};

/*
 * Entries [from, to) with the bias corrections c1 = 1 − β1^t and c2 = 1 − β2^t of their new count.
 * `masked`, `l2` (decay added to the gradient), `decoupled_decay` and `per_entry_counts` (else the
 * caller advances the one shared count) are constants at every call,
 * so each combination compiles to its own branch-free loop; `omp simd` because an output may be
 * its own input (an in-place step reads and writes each entry at the same index).
 */
static inline __attribute__((always_inline)) void adam_span(const struct adam_arrays *a, size_t from, size_t to, float c1, float c2,
                                                            const int masked, const int l2, const int decoupled_decay,
                                                            const int per_entry_counts) {
  const float *p = a->p, *g = a->g, *m = a->m, *v = a->v, *t = a->t, *mask = a->mask;
  float *p_out = a->p_out, *m_out = a->m_out, *v_out = a->v_out, *t_out = a->t_out;
  const float lr = a->lr, beta1 = a->beta1, beta2 = a->beta2, eps = a->eps, wd = a->wd;
#pragma omp simd
  for (size_t i = from; i < to; i++) {
    const float free = masked ? mask[i] : 1.0f;
    float gi = g[i];
    if (l2) gi = gi + p[i] * wd;
    float new_m = m[i] * beta1 + gi * (1.0f - beta1);
    float new_v = v[i] * beta2 + (gi * gi) * (1.0f - beta2);
    if (masked) {
      new_m = m[i] + free * (new_m - m[i]);
      new_v = v[i] + free * (new_v - v[i]);
    }
    float step = (new_m / c1) / (sqrtf(new_v / c2) + eps);
    if (decoupled_decay) step = step + p[i] * wd;
    if (masked) step = step * free;
    p_out[i] = p[i] - step * lr;
    m_out[i] = new_m;
    v_out[i] = new_v;
    if (per_entry_counts) t_out[i] = t[i] + free;
  }
}

static inline __attribute__((always_inline)) void adam_entries(const struct adam_arrays *a, size_t from, size_t to, float c1, float c2) {
  const int l2 = a->wd > 0 && !a->decoupled, decoupled_decay = a->wd > 0 && a->decoupled;
  if (a->shared_count) {
    if (l2) adam_span(a, from, to, c1, c2, 0, 1, 0, 0);
    else if (decoupled_decay) adam_span(a, from, to, c1, c2, 0, 0, 1, 0);
    else adam_span(a, from, to, c1, c2, 0, 0, 0, 0);
  } else if (a->mask != NULL) {
    if (l2) adam_span(a, from, to, c1, c2, 1, 1, 0, 1);
    else if (decoupled_decay) adam_span(a, from, to, c1, c2, 1, 0, 1, 1);
    else adam_span(a, from, to, c1, c2, 1, 0, 0, 1);
  } else {
    if (l2) adam_span(a, from, to, c1, c2, 0, 1, 0, 1);
    else if (decoupled_decay) adam_span(a, from, to, c1, c2, 0, 0, 1, 1);
    else adam_span(a, from, to, c1, c2, 0, 0, 0, 1);
  }
}

/* Entries per block: a block whose entries share their new count runs as one vectorised span. */
#define ADAM_BLOCK 512

CT_VECTOR_PATHS
static void adam_range(size_t begin, size_t end, int thread, void *context) {
  (void)thread;
  const struct adam_arrays *a = context;
  const float *t = a->t, *mask = a->mask;
  /* Bias corrections depend only on the entry's step count, which is nearly always shared. */
  float cached_t = -1.0f, c1 = 1.0f, c2 = 1.0f;
  const float beta1 = a->beta1, beta2 = a->beta2;
#define CT_CORRECTIONS_FOR(new_t)                                                                  \
  do {                                                                                             \
    const float safe_t = (new_t) > 1.0f ? (new_t) : 1.0f;                                          \
    if (safe_t != cached_t) {                                                                      \
      cached_t = safe_t;                                                                           \
      c1 = 1.0f - powf(beta1, safe_t);                                                             \
      c2 = 1.0f - powf(beta2, safe_t);                                                             \
    }                                                                                              \
  } while (0)
  if (a->shared_count) {
    CT_CORRECTIONS_FOR(t[0] + 1.0f);
    adam_entries(a, begin, end, c1, c2);
    return;
  }
  for (size_t block = begin; block < end; block += ADAM_BLOCK) {
    const size_t stop = end - block < ADAM_BLOCK ? end : block + ADAM_BLOCK;
    const float first = t[block] + (mask ? mask[block] : 1.0f);
    int shared = 1;
    if (mask != NULL) {
      for (size_t i = block; i < stop; i++) shared &= (t[i] + mask[i]) == first;
    } else {
      for (size_t i = block; i < stop; i++) shared &= (t[i] + 1.0f) == first;
    }
    if (shared) {
      CT_CORRECTIONS_FOR(first);
      adam_entries(a, block, stop, c1, c2);
      continue;
    }
    for (size_t i = block; i < stop; i++) {
      CT_CORRECTIONS_FOR(t[i] + (mask ? mask[i] : 1.0f));
      adam_entries(a, i, i + 1, c1, c2);
    }
  }
#undef CT_CORRECTIONS_FOR
}

/*
 * adamStep(arrays: Float32Array[] [param, grad, m, v, t, outParam, outM, outV, outT, mask?],
 *          scalars: Float64Array [learningRate, beta1, beta2, epsilon, weightDecay, decoupled])
 * Every array has the parameter's length, except that without a mask t and outT may hold one
 * count shared by every entry. Outputs may not alias inputs other than their own.
 */
napi_value ct_adam_step(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) {
    napi_throw_error(env, NULL, "ct_native.adamStep(arrays, scalars): two arguments expected");
    return NULL;
  }
  uint32_t count = 0;
  if (napi_get_array_length(env, argv[0], &count) != napi_ok || (count != 9 && count != 10)) {
    napi_throw_error(env, NULL, "ct_native.adamStep: arrays must hold 9 Float32Arrays, or 10 with a mask");
    return NULL;
  }
  float *a[10] = {0};
  size_t lengths[10] = {0};
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    size_t length = 0;
    if (napi_get_element(env, argv[0], i, &item) != napi_ok || !ct_float_array(env, item, &a[i], &length)) {
      napi_throw_error(env, NULL, "ct_native.adamStep: every array must be a Float32Array");
      return NULL;
    }
    lengths[i] = length;
  }
  /* t and t_out (4 and 8) may hold one shared count instead of one per entry, when there is no mask. */
  const size_t n = lengths[0];
  const int shared_count = count == 9 && lengths[4] == 1 && lengths[8] == 1 && n != 1;
  for (uint32_t i = 0; i < count; i++) {
    if (lengths[i] != n && !(shared_count && (i == 4 || i == 8))) {
      napi_throw_error(env, NULL, "ct_native.adamStep: arrays differ in length (t and outT may hold one shared count when there is no mask)");
      return NULL;
    }
  }
  napi_typedarray_type type;
  size_t scalar_count = 0;
  void *raw = NULL;
  if (napi_get_typedarray_info(env, argv[1], &type, &scalar_count, &raw, NULL, NULL) != napi_ok ||
      type != napi_float64_array || scalar_count < 6) {
    napi_throw_error(env, NULL, "ct_native.adamStep: scalars must be a Float64Array of 6 entries");
    return NULL;
  }
  const double *s = (const double *)raw;
  struct adam_arrays arrays = {a[0], a[1], a[2], a[3], a[4], a[9], a[5], a[6], a[7], a[8],
                               (float)s[0], (float)s[1], (float)s[2], (float)s[3], (float)s[4], s[5] != 0, shared_count};
  if (n == 0) return NULL;
  ct_parallel(n, 20, adam_range, &arrays);
  if (shared_count) a[8][0] = a[4][0] + 1.0f; /* after every entry has read the old count (in place, they share it) */
  return NULL;
}
