/*
 * LayerNorm over the last axis of a row-major [rows, d] matrix, and its gradient, one pass per
 * row, rows split across the addon's threads (the composed tf ops take about eight passes forward
 * and twelve backward):
 *   y  = x̂·w + b,  x̂ = (x − mean) / √(var + eps)
 *   g  = dy·w;  dx = (g − mean(g) − x̂·mean(g·x̂)) / √(var + eps);  dw = Σ_rows dy·x̂;  db = Σ_rows dy
 * and RMSNorm (the Llama family), the same without centring and without a bias:
 *   y  = x̂·w,  x̂ = x / √(mean(x²) + eps);  dx = (g − x̂·mean(g·x̂)) / √(mean(x²) + eps);  dw = Σ_rows dy·x̂
 * (the composed RMSNorm was about 60 of 554 s of three Llama-3.2-1B circuit-tuning steps, issue 13).
 */
#include <math.h>
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "vmath.h"

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

/* Mean and 1/σ of one row; uncentred (RMSNorm), a mean of 0 and 1/√(mean(x²) + eps). */
static inline void moments(const float *row, int64_t d, float eps, int centred, float *mean, float *rstd) {
  float sum = 0.0f;
  if (centred) {
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < d; j++) sum += row[j];
  }
  const float m = sum / (float)d;
  float sq = 0.0f;
#pragma omp simd reduction(+ : sq)
  for (int64_t j = 0; j < d; j++) {
    const float c = row[j] - m;
    sq += c * c;
  }
  *mean = m;
  *rstd = 1.0f / sqrtf(sq / (float)d + eps);
}

/* The arrays of one call; dw_partial/db_partial hold one [d] row per thread (gradient only). */
struct norm_arrays {
  const float *x, *w, *b, *dy;
  float *y, *dx, *dw_partial, *db_partial;
  int64_t d;
  float eps;
  int centred; /* LayerNorm; 0: RMSNorm (b, db unused) */
};

CT_VECTOR_PATHS
static void norm_rows(size_t begin, size_t end, int thread, void *context) {
  (void)thread;
  const struct norm_arrays *a = context;
  const int64_t d = a->d;
  for (size_t r = begin; r < end; r++) {
    const float *xr = a->x + (int64_t)r * d;
    float *yr = a->y + (int64_t)r * d;
    float mean, rstd;
    moments(xr, d, a->eps, a->centred, &mean, &rstd);
    if (a->centred) {
      for (int64_t j = 0; j < d; j++) yr[j] = (xr[j] - mean) * rstd * a->w[j] + a->b[j];
    } else {
      for (int64_t j = 0; j < d; j++) yr[j] = xr[j] * rstd * a->w[j];
    }
  }
}

CT_VECTOR_PATHS
static void norm_grad_rows(size_t begin, size_t end, int thread, void *context) {
  const struct norm_arrays *a = context;
  const int64_t d = a->d;
  const float *w = a->w;
  float *dw = a->dw_partial + (int64_t)thread * d, *db = a->db_partial + (int64_t)thread * d;
  const int centred = a->centred;
  memset(dw, 0, sizeof(float) * (size_t)d);
  memset(db, 0, sizeof(float) * (size_t)d);
  for (size_t r = begin; r < end; r++) {
    const float *xr = a->x + (int64_t)r * d, *dyr = a->dy + (int64_t)r * d;
    float mean, rstd;
    moments(xr, d, a->eps, centred, &mean, &rstd);
    float g_sum = 0.0f, gx_sum = 0.0f;
#pragma omp simd reduction(+ : g_sum, gx_sum)
    for (int64_t j = 0; j < d; j++) {
      const float xhat = (xr[j] - mean) * rstd;
      const float g = dyr[j] * w[j];
      g_sum += g;
      gx_sum += g * xhat;
      dw[j] += dyr[j] * xhat;
      db[j] += dyr[j];
    }
    if (a->dx == NULL) continue;
    float *dxr = a->dx + (int64_t)r * d;
    const float g_mean = centred ? g_sum / (float)d : 0.0f, gx_mean = gx_sum / (float)d;
    for (int64_t j = 0; j < d; j++) {
      const float xhat = (xr[j] - mean) * rstd;
      dxr[j] = (dyr[j] * w[j] - g_mean - xhat * gx_mean) * rstd;
    }
  }
}

/* Element operations per row, for the decision to split across threads. */
#define NORM_COST(d) ((size_t)(d) * 8)

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
  struct norm_arrays arrays = {a[0], a[1], a[2], NULL, a[3], NULL, NULL, NULL, d, (float)eps, 1};
  ct_parallel((size_t)rows, NORM_COST(d), norm_rows, &arrays);
  return NULL;
}

/* rmsNorm(x, w, y, rows, d, eps) */
napi_value ct_rms_norm(napi_env env, napi_callback_info info) {
  float *a[3];
  size_t n[3];
  int64_t rows = 0, d = 0;
  double eps = 0;
  if (!arguments(env, info, 3, a, n, &rows, &d, &eps) || (int64_t)n[0] < rows * d || (int64_t)n[2] < rows * d || (int64_t)n[1] < d) {
    napi_throw_error(env, NULL, "ct_native.rmsNorm(x, w, y, rows, d, eps): Float32Arrays of [rows, d], [d], [rows, d] expected");
    return NULL;
  }
  struct norm_arrays arrays = {a[0], a[1], NULL, NULL, a[2], NULL, NULL, NULL, d, (float)eps, 0};
  ct_parallel((size_t)rows, NORM_COST(d), norm_rows, &arrays);
  return NULL;
}

/*
 * The gradients of LayerNorm (centred) or RMSNorm over [rows, d]: each thread sums dw (and db) over
 * its rows into its own [d] row of partial sums, which are then added in thread order. An empty
 * dx (NULL) skips the input gradient; db is NULL for RMSNorm.
 */
static napi_value norm_grad(napi_env env, const float *x, const float *w, const float *dy, float *dx, float *dw, float *db, int64_t rows,
                            int64_t d, float eps, int centred, const char *name) {
  const int chunks = ct_parallel_chunks((size_t)rows, NORM_COST(d));
  float *partial = malloc(sizeof(float) * (size_t)d * 2 * (size_t)chunks);
  if (partial == NULL) {
    napi_throw_error(env, NULL, name);
    return NULL;
  }
  struct norm_arrays arrays = {x, w, NULL, dy, NULL, dx, partial, partial + (size_t)d * (size_t)chunks, d, eps, centred};
  ct_parallel((size_t)rows, NORM_COST(d), norm_grad_rows, &arrays);
  memcpy(dw, arrays.dw_partial, sizeof(float) * (size_t)d);
  if (db != NULL) memcpy(db, arrays.db_partial, sizeof(float) * (size_t)d);
  for (int t = 1; t < chunks; t++) {
    for (int64_t j = 0; j < d; j++) {
      dw[j] += arrays.dw_partial[(int64_t)t * d + j];
      if (db != NULL) db[j] += arrays.db_partial[(int64_t)t * d + j];
    }
  }
  free(partial);
  return NULL;
}

/* layerNormGrad(x, w, dy, dx, dw, db, rows, d, eps): all three gradients in one pass; an empty dx skips the input gradient. */
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
  return norm_grad(env, a[0], a[1], a[2], n[3] == 0 ? NULL : a[3], a[4], a[5], rows, d, (float)eps, 1,
                   "ct_native.layerNormGrad: out of memory for the partial sums");
}

/* rmsNormGrad(x, w, dy, dx, dw, rows, d, eps): dx (skipped when empty) and dw in one pass. */
napi_value ct_rms_norm_grad(napi_env env, napi_callback_info info) {
  float *a[5];
  size_t n[5];
  int64_t rows = 0, d = 0;
  double eps = 0;
  if (!arguments(env, info, 5, a, n, &rows, &d, &eps) || (int64_t)n[0] < rows * d || (int64_t)n[2] < rows * d ||
      (n[3] != 0 && (int64_t)n[3] < rows * d) || (int64_t)n[1] < d || (int64_t)n[4] < d) {
    napi_throw_error(env, NULL, "ct_native.rmsNormGrad(x, w, dy, dx, dw, rows, d, eps): Float32Arrays of [rows, d], [d], [rows, d], [rows, d], [d] expected");
    return NULL;
  }
  return norm_grad(env, a[0], a[1], a[2], n[3] == 0 ? NULL : a[3], a[4], NULL, rows, d, (float)eps, 0,
                   "ct_native.rmsNormGrad: out of memory for the partial sums");
}
