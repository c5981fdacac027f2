/*
 * GPT-2's gelu_new (the tanh approximation) and its gradient, one pass each:
 *   y  = 0.5·x·(1 + tanh(u)),  u = √(2/π)·(x + 0.044715·x³)
 *   dx = dy·[0.5·(1 + tanh(u)) + 0.5·x·(1 − tanh²(u))·√(2/π)·(1 + 3·0.044715·x²)]
 * The composed tf ops take about ten passes forward and fifteen backward, each allocating. Both
 * loops are vectorised (ct_exp) and split across the addon's threads.
 */
#include <node_api.h>
#include <stddef.h>

#include "kernels.h"
#include "vmath.h"

#define SQRT_2_OVER_PI 0.7978845608028654f
#define CUBIC 0.044715f

static int float_arrays(napi_env env, napi_callback_info info, size_t want, float **arrays, size_t *length) {
  napi_value argv[3];
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) return 0;
  for (size_t i = 0; i < want; i++) {
    size_t n = 0;
    if (!ct_float_array(env, argv[i], &arrays[i], &n)) return 0;
    if (i == 0) *length = n;
    if (n != *length) return 0;
  }
  return 1;
}

/* The arrays of one call: x and y forward; x, dy and dx backward. */
struct gelu_arrays {
  const float *x, *dy;
  float *out;
};

CT_VECTOR_PATHS
static void gelu_range(size_t begin, size_t end, int thread, void *context) {
  (void)thread;
  const struct gelu_arrays *a = context;
  const float *x = a->x;
  float *y = a->out;
  for (size_t i = begin; i < end; i++) {
    const float xi = x[i];
    const float t = ct_tanh(SQRT_2_OVER_PI * (xi + CUBIC * xi * xi * xi));
    y[i] = 0.5f * xi * (1.0f + t);
  }
}

CT_VECTOR_PATHS
static void gelu_grad_range(size_t begin, size_t end, int thread, void *context) {
  (void)thread;
  const struct gelu_arrays *a = context;
  const float *x = a->x, *dy = a->dy;
  float *dx = a->out;
  for (size_t i = begin; i < end; i++) {
    const float xi = x[i];
    const float t = ct_tanh(SQRT_2_OVER_PI * (xi + CUBIC * xi * xi * xi));
    const float du = SQRT_2_OVER_PI * (1.0f + 3.0f * CUBIC * xi * xi);
    dx[i] = dy[i] * (0.5f * (1.0f + t) + 0.5f * xi * (1.0f - t * t) * du);
  }
}

/* Element operations per entry, for the decision to split a loop across threads. */
#define GELU_COST 30

/* geluTanh(x, y): y = gelu_new(x), elementwise; both Float32Arrays of one length. */
napi_value ct_gelu_tanh(napi_env env, napi_callback_info info) {
  float *a[2];
  size_t n = 0;
  if (!float_arrays(env, info, 2, a, &n)) {
    napi_throw_error(env, NULL, "ct_native.geluTanh(x, y): two Float32Arrays of one length expected");
    return NULL;
  }
  struct gelu_arrays arrays = {a[0], NULL, a[1]};
  ct_parallel(n, GELU_COST, gelu_range, &arrays);
  return NULL;
}

/* geluTanhGrad(x, dy, dx): dx = dy · gelu_new'(x). */
napi_value ct_gelu_tanh_grad(napi_env env, napi_callback_info info) {
  float *a[3];
  size_t n = 0;
  if (!float_arrays(env, info, 3, a, &n)) {
    napi_throw_error(env, NULL, "ct_native.geluTanhGrad(x, dy, dx): three Float32Arrays of one length expected");
    return NULL;
  }
  struct gelu_arrays arrays = {a[0], a[1], a[2]};
  ct_parallel(n, GELU_COST, gelu_grad_range, &arrays);
  return NULL;
}
