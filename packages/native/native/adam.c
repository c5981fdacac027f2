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

/*
 * adamStep(arrays: Float32Array[] [param, grad, m, v, t, outParam, outM, outV, outT, mask?],
 *          scalars: Float64Array [learningRate, beta1, beta2, epsilon, weightDecay, decoupled])
 * Every array has the parameter's length. Outputs may not alias inputs other than their own.
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
  size_t n = 0;
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    size_t length = 0;
    if (napi_get_element(env, argv[0], i, &item) != napi_ok || !ct_float_array(env, item, &a[i], &length)) {
      napi_throw_error(env, NULL, "ct_native.adamStep: every array must be a Float32Array");
      return NULL;
    }
    if (i == 0) n = length;
    if (length != n) {
      napi_throw_error(env, NULL, "ct_native.adamStep: arrays differ in length");
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
  const float lr = (float)s[0], beta1 = (float)s[1], beta2 = (float)s[2], eps = (float)s[3], wd = (float)s[4];
  const int decoupled = s[5] != 0;
  const float *p = a[0], *g = a[1], *m = a[2], *v = a[3], *t = a[4], *mask = a[9];
  float *p_out = a[5], *m_out = a[6], *v_out = a[7], *t_out = a[8];

  /* Bias corrections depend only on the entry's step count, which is nearly always shared. */
  float cached_t = -1.0f, c1 = 1.0f, c2 = 1.0f;
  for (size_t i = 0; i < n; i++) {
    const float free = mask ? mask[i] : 1.0f;
    float gi = g[i];
    if (wd > 0 && !decoupled) gi = gi + p[i] * wd;
    float new_m = m[i] * beta1 + gi * (1.0f - beta1);
    float new_v = v[i] * beta2 + (gi * gi) * (1.0f - beta2);
    if (mask) {
      new_m = m[i] + mask[i] * (new_m - m[i]);
      new_v = v[i] + mask[i] * (new_v - v[i]);
    }
    const float new_t = t[i] + free;
    const float safe_t = new_t > 1.0f ? new_t : 1.0f;
    if (safe_t != cached_t) {
      cached_t = safe_t;
      c1 = 1.0f - powf(beta1, safe_t);
      c2 = 1.0f - powf(beta2, safe_t);
    }
    float step = (new_m / c1) / (sqrtf(new_v / c2) + eps);
    if (wd > 0 && decoupled) step = step + p[i] * wd;
    if (mask) step = step * mask[i];
    p_out[i] = p[i] - step * lr;
    m_out[i] = new_m;
    v_out[i] = new_v;
    t_out[i] = new_t;
  }
  return NULL;
}
