/*
 * LayerNorm over the last axis of a row-major [rows, d] matrix, and its gradient, one pass per
 * row (the composed tf ops take about eight passes forward and twelve backward):
 *   y  = x̂·w + b,  x̂ = (x − mean) / √(var + eps)
 *   g  = dy·w;  dx = (g − mean(g) − x̂·mean(g·x̂)) / √(var + eps);  dw = Σ_rows dy·x̂;  db = Σ_rows dy
 */
#include <math.h>
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"

/* Reads Float32Array arguments 0..count-1 and the numbers after them (rows, d, eps). */
static int arguments(napi_env env, napi_callback_info info, size_t count, float **arrays, size_t *lengths,
                     int64_t *rows, int64_t *d, double *eps) {
  napi_value argv[9];
  size_t argc = count + 3;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < count + 3) return 0;
  for (size_t i = 0; i < count; i++) {
    if (!ct_float_array(env, argv[i], &arrays[i], &lengths[i])) return 0;
  }
  if (napi_get_value_int64(env, argv[count], rows) != napi_ok || napi_get_value_int64(env, argv[count + 1], d) != napi_ok ||
      napi_get_value_double(env, argv[count + 2], eps) != napi_ok || *rows < 0 || *d <= 0)
    return 0;
  return 1;
}

/* Mean and 1/σ of one row. */
static void moments(const float *row, int64_t d, float eps, float *mean, float *rstd) {
  float sum = 0.0f;
  for (int64_t j = 0; j < d; j++) sum += row[j];
  const float m = sum / (float)d;
  float sq = 0.0f;
  for (int64_t j = 0; j < d; j++) {
    const float c = row[j] - m;
    sq += c * c;
  }
  *mean = m;
  *rstd = 1.0f / sqrtf(sq / (float)d + eps);
}

/* layerNorm(x, w, b, y, rows, d, eps) */
napi_value ct_layer_norm(napi_env env, napi_callback_info info) {
  float *a[4];
  size_t n[4];
  int64_t rows = 0, d = 0;
  double eps = 0;
  if (!arguments(env, info, 4, a, n, &rows, &d, &eps) || (int64_t)n[0] < rows * d || (int64_t)n[3] < rows * d ||
      (int64_t)n[1] < d || (int64_t)n[2] < d) {
    napi_throw_error(env, NULL, "ct_native.layerNorm(x, w, b, y, rows, d, eps): Float32Arrays of [rows, d], [d], [d], [rows, d] expected");
    return NULL;
  }
  const float *x = a[0], *w = a[1], *b = a[2];
  float *y = a[3];
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * d;
    float *yr = y + r * d;
    float mean, rstd;
    moments(xr, d, (float)eps, &mean, &rstd);
    for (int64_t j = 0; j < d; j++) yr[j] = (xr[j] - mean) * rstd * w[j] + b[j];
  }
  return NULL;
}

/* layerNormGrad(x, w, dy, dx, dw, db, rows, d, eps); an empty dx skips the input gradient. */
napi_value ct_layer_norm_grad(napi_env env, napi_callback_info info) {
  float *a[6];
  size_t n[6];
  int64_t rows = 0, d = 0;
  double eps = 0;
  if (!arguments(env, info, 6, a, n, &rows, &d, &eps) || (int64_t)n[0] < rows * d || (int64_t)n[2] < rows * d ||
      (n[3] != 0 && (int64_t)n[3] < rows * d) || (int64_t)n[1] < d || (int64_t)n[4] < d || (int64_t)n[5] < d) {
    napi_throw_error(env, NULL,
                     "ct_native.layerNormGrad(x, w, dy, dx, dw, db, rows, d, eps): Float32Arrays of [rows, d], [d], [rows, d], [rows, d], [d], [d] expected");
    return NULL;
  }
  const float *x = a[0], *w = a[1], *dy = a[2];
  float *dx = n[3] == 0 ? NULL : a[3], *dw = a[4], *db = a[5];
  memset(dw, 0, sizeof(float) * (size_t)d);
  memset(db, 0, sizeof(float) * (size_t)d);
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * d, *dyr = dy + r * d;
    float *dxr = dx + r * d;
    float mean, rstd;
    moments(xr, d, (float)eps, &mean, &rstd);
    float g_sum = 0.0f, gx_sum = 0.0f;
    for (int64_t j = 0; j < d; j++) {
      const float xhat = (xr[j] - mean) * rstd;
      const float g = dyr[j] * w[j];
      g_sum += g;
      gx_sum += g * xhat;
      dw[j] += dyr[j] * xhat;
      db[j] += dyr[j];
    }
    if (dx == NULL) continue;
    const float g_mean = g_sum / (float)d, gx_mean = gx_sum / (float)d;
    for (int64_t j = 0; j < d; j++) {
      const float xhat = (xr[j] - mean) * rstd;
      dxr[j] = (dyr[j] * w[j] - g_mean - xhat * gx_mean) * rstd;
    }
  }
  return NULL;
}
