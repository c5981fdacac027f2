/*
 * Sums of a row-major [rows, cols] float matrix over its rows (one sum per column) or over its
 * columns (one per row), in the order tfjs's wasm Sum adds (entry by entry along the reduced
 * axis), so results are the same. The stock kernel first transposes when the reduced axes are
 * not the innermost ones (every bias gradient, for example) and then sums with a scalar loop.
 * Outputs are split across the addon's threads (each output's sum stays in one thread, in order).
 */
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"
#include "vmath.h"

struct sum_arrays {
  const float *x;
  float *out;
  int64_t rows, cols;
};

/* Columns [begin, end): each summed over every row, in row order. */
CT_VECTOR_PATHS
static void sum_columns(size_t begin, size_t end, int thread, void *context) {
  (void)thread;
  const struct sum_arrays *a = context;
  memset(a->out + begin, 0, sizeof(float) * (end - begin));
  for (int64_t r = 0; r < a->rows; r++) {
    const float *row = a->x + r * a->cols;
    for (size_t c = begin; c < end; c++) a->out[c] += row[c];
  }
}

/* Rows [begin, end): each summed along its columns, in column order. */
static void sum_rows(size_t begin, size_t end, int thread, void *context) {
  (void)thread;
  const struct sum_arrays *a = context;
  for (size_t r = begin; r < end; r++) {
    const float *row = a->x + (int64_t)r * a->cols;
    float sum = 0.0f;
    for (int64_t c = 0; c < a->cols; c++) sum += row[c];
    a->out[r] = sum;
  }
}

/* sumAxis(x: Float32Array, out: Float32Array, rows, cols, overRows: boolean) */
napi_value ct_sum(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5) {
    napi_throw_error(env, NULL, "ct_native.sum(x, out, rows, cols, overRows): five arguments expected");
    return NULL;
  }
  float *x, *out;
  size_t nx = 0, no = 0;
  if (!ct_float_array(env, argv[0], &x, &nx) || !ct_float_array(env, argv[1], &out, &no)) {
    napi_throw_error(env, NULL, "ct_native.sum: x and out must be Float32Arrays");
    return NULL;
  }
  int64_t rows = 0, cols = 0;
  bool over_rows = false;
  if (napi_get_value_int64(env, argv[2], &rows) != napi_ok || napi_get_value_int64(env, argv[3], &cols) != napi_ok ||
      napi_get_value_bool(env, argv[4], &over_rows) != napi_ok || rows < 0 || cols < 0) {
    napi_throw_error(env, NULL, "ct_native.sum: rows and cols must be non-negative integers, overRows a boolean");
    return NULL;
  }
  if ((int64_t)nx < rows * cols || (int64_t)no < (over_rows ? cols : rows)) {
    napi_throw_error(env, NULL, "ct_native.sum: an array is shorter than rows × cols says");
    return NULL;
  }
  struct sum_arrays arrays = {x, out, rows, cols};
  if (over_rows) ct_parallel((size_t)cols, (size_t)rows, sum_columns, &arrays);
  else ct_parallel((size_t)rows, (size_t)cols, sum_rows, &arrays);
  return NULL;
}
