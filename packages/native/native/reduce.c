/*
 * Sums of a row-major [rows, cols] float matrix over its rows (one sum per column) or over its
 * columns (one per row), in the order tfjs's wasm Sum adds (entry by entry along the reduced
 * axis), so results are the same. The stock kernel first transposes when the reduced axes are
 * not the innermost ones (every bias gradient, for example) and then sums with a scalar loop.
 */
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"

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
  if (over_rows) {
    memset(out, 0, sizeof(float) * (size_t)cols);
    for (int64_t r = 0; r < rows; r++) {
      const float *row = x + r * cols;
      for (int64_t c = 0; c < cols; c++) out[c] += row[c];
    }
  } else {
    for (int64_t r = 0; r < rows; r++) {
      const float *row = x + r * cols;
      float sum = 0.0f;
      for (int64_t c = 0; c < cols; c++) sum += row[c];
      out[r] = sum;
    }
  }
  return NULL;
}
