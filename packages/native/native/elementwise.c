/*
 * Sums of two float32 arrays, equal in length or one repeated along the other (a bias row added
 * to every row), vectorised and split across the addon's threads. The stock wasm Add runs on
 * XNNPACK's threads, which spin for a while after each call on the cores BLAS uses next.
 */
#include <node_api.h>
#include <stdint.h>

#include "kernels.h"
#include "vmath.h"

/* out[r·width + j] = a[r·width + j] + b[r·b_step + j], rows of `width`. */
struct add_arrays {
  const float *a, *b;
  float *out;
  int64_t width, b_step;
};

CT_VECTOR_PATHS
static void add_rows(size_t begin, size_t end, int thread, void *context) {
  (void)thread;
  const struct add_arrays *x = context;
  const int64_t w = x->width;
  for (size_t r = begin; r < end; r++) {
    const float *a = x->a + (int64_t)r * w, *b = x->b + (int64_t)r * x->b_step;
    float *out = x->out + (int64_t)r * w;
    for (int64_t j = 0; j < w; j++) out[j] = a[j] + b[j];
  }
}

/* Entries a row when a and b have one length: rows to split across threads. */
#define FLAT_ROW 4096

/* add(a, b, out): out = a + b, with b as long as a or repeated over it (a's length a multiple of b's). */
napi_value ct_add(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  float *a = NULL, *b = NULL, *out = NULL;
  size_t a_len = 0, b_len = 0, out_len = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 || !ct_float_array(env, argv[0], &a, &a_len) ||
      !ct_float_array(env, argv[1], &b, &b_len) || !ct_float_array(env, argv[2], &out, &out_len) || b_len == 0 ||
      a_len % b_len != 0 || out_len < a_len) {
    napi_throw_error(env, NULL, "ct_native.add(a, b, out): Float32Arrays with a's length a multiple of b's and out as long as a expected");
    return NULL;
  }
  if (a_len == b_len) {
    /* Equal lengths: rows of FLAT_ROW (and one shorter last row, done here). */
    const size_t rows = a_len / FLAT_ROW, done = rows * FLAT_ROW;
    struct add_arrays job = {a, b, out, FLAT_ROW, FLAT_ROW};
    ct_parallel(rows, FLAT_ROW, add_rows, &job);
    struct add_arrays tail = {a + done, b + done, out + done, (int64_t)(a_len - done), 0};
    add_rows(0, 1, 0, &tail);
    return NULL;
  }
  struct add_arrays job = {a, b, out, (int64_t)b_len, 0};
  ct_parallel(a_len / b_len, b_len, add_rows, &job);
  return NULL;
}
