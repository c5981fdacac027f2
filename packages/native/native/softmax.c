/*
 * Attention's softmax over the last axis of scaled, masked scores, and the matching step of its
 * gradient, one pass per row each (the composed tf ops take three passes forward — scale, mask,
 * softmax — and five back), rows split across the addon's threads:
 *   p  = softmax(x·scale + mask_row)                 mask [M, T] repeats over x's rows [R, T]
 *   ds = p ⊙ (dp − Σ_j dp_j·p_j) · scale             the gradient w.r.t. the unscaled scores
 */
#include <math.h>
#include <node_api.h>
#include <stdint.h>

#include "kernels.h"
#include "vmath.h"

struct softmax_arrays {
  const float *x, *mask, *p, *dp;
  float *out;
  int64_t mask_rows, width;
  float scale;
};

CT_VECTOR_PATHS
static void softmax_rows(size_t begin, size_t end, int thread, void *context) {
  (void)thread;
  const struct softmax_arrays *a = context;
  const int64_t w = a->width;
  for (size_t r = begin; r < end; r++) {
    const float *x = a->x + (int64_t)r * w, *mask = a->mask + ((int64_t)r % a->mask_rows) * w;
    float *y = a->out + (int64_t)r * w;
    float max = -INFINITY;
#pragma omp simd reduction(max : max)
    for (int64_t j = 0; j < w; j++) {
      y[j] = x[j] * a->scale + mask[j];
      max = y[j] > max ? y[j] : max;
    }
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < w; j++) {
      y[j] = ct_exp(y[j] - max);
      sum += y[j];
    }
    const float inverse = 1.0f / sum;
    for (int64_t j = 0; j < w; j++) y[j] *= inverse;
  }
}

CT_VECTOR_PATHS
static void softmax_grad_rows(size_t begin, size_t end, int thread, void *context) {
  (void)thread;
  const struct softmax_arrays *a = context;
  const int64_t w = a->width;
  for (size_t r = begin; r < end; r++) {
    const float *p = a->p + (int64_t)r * w, *dp = a->dp + (int64_t)r * w;
    float *ds = a->out + (int64_t)r * w;
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < w; j++) dot += dp[j] * p[j];
    for (int64_t j = 0; j < w; j++) ds[j] = p[j] * (dp[j] - dot) * a->scale;
  }
}

/* Reads three Float32Arrays, then width and scale; checks that the arrays hold whole rows. */
static int arguments(napi_env env, napi_callback_info info, float **arrays, size_t *lengths, int64_t *width, double *scale) {
  napi_value argv[5];
  size_t argc = 5;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5) return 0;
  for (int i = 0; i < 3; i++) {
    if (!ct_float_array(env, argv[i], &arrays[i], &lengths[i])) return 0;
  }
  if (napi_get_value_int64(env, argv[3], width) != napi_ok || napi_get_value_double(env, argv[4], scale) != napi_ok || *width <= 0) return 0;
  return lengths[0] % (size_t)*width == 0 && lengths[2] >= lengths[0];
}

/* maskedSoftmax(x, mask, out, width, scale): mask's rows repeat over x's (x's row count a multiple of mask's). */
napi_value ct_masked_softmax(napi_env env, napi_callback_info info) {
  float *a[3];
  size_t n[3];
  int64_t width = 0;
  double scale = 1;
  if (!arguments(env, info, a, n, &width, &scale) || n[1] == 0 || n[1] % (size_t)width != 0 || (n[0] / (size_t)width) % (n[1] / (size_t)width) != 0) {
    napi_throw_error(env, NULL, "ct_native.maskedSoftmax(x, mask, out, width, scale): Float32Arrays of [R, width], [M, width] with M dividing R, and [R, width] expected");
    return NULL;
  }
  struct softmax_arrays job = {a[0], a[1], NULL, NULL, a[2], (int64_t)(n[1] / (size_t)width), width, (float)scale};
  ct_parallel(n[0] / (size_t)width, (size_t)width * 6, softmax_rows, &job);
  return NULL;
}

/* softmaxGrad(p, dp, ds, width, scale): ds = p ⊙ (dp − rowsum(dp ⊙ p)) · scale. */
napi_value ct_softmax_grad(napi_env env, napi_callback_info info) {
  float *a[3];
  size_t n[3];
  int64_t width = 0;
  double scale = 1;
  if (!arguments(env, info, a, n, &width, &scale) || n[1] != n[0]) {
    napi_throw_error(env, NULL, "ct_native.softmaxGrad(p, dp, ds, width, scale): three Float32Arrays of [R, width] expected");
    return NULL;
  }
  struct softmax_arrays job = {NULL, NULL, a[0], a[1], a[2], 1, width, (float)scale};
  ct_parallel(n[0] / (size_t)width, (size_t)width * 4, softmax_grad_rows, &job);
  return NULL;
}
