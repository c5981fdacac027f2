/*
 * One fused SGD step (momentum, L2 weight decay, a 0/1 mask) over a parameter in a single pass,
 * with the operations, their order and their float32 rounding of the tf-ops version in
 * packages/training/src/optim/sgd.ts (PyTorch semantics: v ← μv + g + λp; p ← p − lr·v). That
 * version makes about ten passes over every parameter-sized array, each allocating a temporary:
 * 77 of 554 s of three Llama-3.2-1B circuit-tuning steps (issue 13).
 *
 * The mask is per entry, or compact as circuit-tuning builds it (model's SliceMask): one value per
 * row or per column of a matrix. A row whose mask is 0 is skipped whole: its value and momentum
 * stay exactly as they were.
 */
#include <node_api.h>
#include <stddef.h>
#include <string.h>

#include "kernels.h"
#include "vmath.h"

enum mask_mode { MASK_NONE = 0, MASK_ENTRIES = 1, MASK_ROWS = 2, MASK_COLUMNS = 3 };

struct sgd_arrays {
  const float *p, *g, *v, *mask;
  float *p_out, *v_out;
  float lr, momentum, wd;
  int mode;
  size_t cols; /* the row length of a row or column mask */
};

/* Entries [from, to) of a span whose mask values come from `mask` at `mask_step` per entry (0: one
   value for the span). Each flag is a constant at every call, so each combination is its own loop. */
static inline __attribute__((always_inline)) void sgd_span(const struct sgd_arrays *a, size_t from, size_t to, const float *mask,
                                                           size_t mask_step, const int masked, const int l2, const int with_momentum) {
  const float *p = a->p, *g = a->g, *v = a->v;
  float *p_out = a->p_out, *v_out = a->v_out;
  const float lr = a->lr, momentum = a->momentum, wd = a->wd;
#pragma omp simd
  for (size_t i = from; i < to; i++) {
    const float free = masked ? mask[(i - from) * mask_step] : 1.0f;
    float gi = g[i];
    if (l2) gi = gi + p[i] * wd;
    float step = gi;
    if (with_momentum) {
      float new_v = v[i] * momentum + gi;
      if (masked) new_v = v[i] + free * (new_v - v[i]);
      v_out[i] = new_v;
      step = new_v;
    }
    if (masked) step = step * free;
    p_out[i] = p[i] - step * lr;
  }
}

static inline __attribute__((always_inline)) void sgd_entries(const struct sgd_arrays *a, size_t from, size_t to, const float *mask, size_t mask_step) {
  const int masked = mask != NULL, l2 = a->wd > 0, with_momentum = a->momentum > 0;
  if (masked) {
    if (l2) {
      if (with_momentum) sgd_span(a, from, to, mask, mask_step, 1, 1, 1);
      else sgd_span(a, from, to, mask, mask_step, 1, 1, 0);
    } else {
      if (with_momentum) sgd_span(a, from, to, mask, mask_step, 1, 0, 1);
      else sgd_span(a, from, to, mask, mask_step, 1, 0, 0);
    }
  } else {
    if (l2) {
      if (with_momentum) sgd_span(a, from, to, NULL, 0, 0, 1, 1);
      else sgd_span(a, from, to, NULL, 0, 0, 1, 0);
    } else {
      if (with_momentum) sgd_span(a, from, to, NULL, 0, 0, 0, 1);
      else sgd_span(a, from, to, NULL, 0, 0, 0, 0);
    }
  }
}

/* Entries [begin, end), without a mask or with one per entry. */
CT_VECTOR_PATHS
static void sgd_flat(size_t begin, size_t end, int thread, void *context) {
  (void)thread;
  const struct sgd_arrays *a = context;
  sgd_entries(a, begin, end, a->mode == MASK_ENTRIES ? a->mask + begin : NULL, 1);
}

/* Rows [begin, end) of the parameter seen as [rows, cols], with a mask per row or per column. */
CT_VECTOR_PATHS
static void sgd_rows(size_t begin, size_t end, int thread, void *context) {
  (void)thread;
  const struct sgd_arrays *a = context;
  const size_t cols = a->cols;
  for (size_t row = begin; row < end; row++) {
    const size_t from = row * cols, to = from + cols;
    if (a->mode == MASK_COLUMNS) {
      sgd_entries(a, from, to, a->mask, 1);
    } else if (a->mask[row] != 0.0f) {
      sgd_entries(a, from, to, a->mask + row, 0);
    } else {
      /* A frozen row: nothing moves (in place there is nothing to write). */
      if (a->p_out != a->p) memcpy(a->p_out + from, a->p + from, cols * sizeof(float));
      if (a->v != NULL && a->v_out != a->v) memcpy(a->v_out + from, a->v + from, cols * sizeof(float));
    }
  }
}

/*
 * sgdStep(arrays: Float32Array[] [param, grad, velocity, outParam, outVelocity, mask],
 *         scalars: Float64Array [learningRate, momentum, weightDecay, maskMode, cols])
 * param, grad and outParam have one length n; velocity and outVelocity too, or are empty when the
 * momentum is 0; mask is empty (mode 0), n long (1), n / cols long (2, one per row) or cols long
 * (3, one per column). Outputs may not alias inputs other than their own.
 */
napi_value ct_sgd_step(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) {
    napi_throw_error(env, NULL, "ct_native.sgdStep(arrays, scalars): two arguments expected");
    return NULL;
  }
  uint32_t count = 0;
  if (napi_get_array_length(env, argv[0], &count) != napi_ok || count != 6) {
    napi_throw_error(env, NULL, "ct_native.sgdStep: arrays must hold 6 Float32Arrays");
    return NULL;
  }
  float *a[6] = {0};
  size_t lengths[6] = {0};
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    if (napi_get_element(env, argv[0], i, &item) != napi_ok || !ct_float_array(env, item, &a[i], &lengths[i])) {
      napi_throw_error(env, NULL, "ct_native.sgdStep: every array must be a Float32Array");
      return NULL;
    }
  }
  napi_typedarray_type type;
  size_t scalar_count = 0;
  void *raw = NULL;
  if (napi_get_typedarray_info(env, argv[1], &type, &scalar_count, &raw, NULL, NULL) != napi_ok || type != napi_float64_array ||
      scalar_count < 5) {
    napi_throw_error(env, NULL, "ct_native.sgdStep: scalars must be a Float64Array of 5 entries");
    return NULL;
  }
  const double *s = (const double *)raw;
  const size_t n = lengths[0];
  const int mode = (int)s[3];
  const size_t cols = (size_t)s[4];
  const int with_momentum = s[1] > 0;
  int ok = lengths[1] == n && lengths[3] == n && mode >= MASK_NONE && mode <= MASK_COLUMNS && cols > 0 && n % cols == 0;
  if (with_momentum) ok = ok && lengths[2] == n && lengths[4] == n;
  if (ok) {
    const size_t expected[] = {0, n, n / cols, cols};
    ok = lengths[5] == expected[mode];
  }
  if (!ok) {
    napi_throw_error(env, NULL, "ct_native.sgdStep: param, grad and outParam (and velocity, outVelocity with momentum) need one length, divisible by cols; the mask 0, n, n / cols or cols entries by its mode");
    return NULL;
  }
  if (n == 0) return NULL;
  struct sgd_arrays arrays = {a[0], a[1], with_momentum ? a[2] : NULL, lengths[5] > 0 ? a[5] : NULL, a[3], with_momentum ? a[4] : NULL,
                              (float)s[0], (float)s[1], (float)s[2], mode, cols};
  if (mode == MASK_ROWS || mode == MASK_COLUMNS) ct_parallel(n / cols, 4 * cols, sgd_rows, &arrays);
  else ct_parallel(n, 4, sgd_flat, &arrays);
  return NULL;
}
