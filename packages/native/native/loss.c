/*
 * Cross-entropy of each row of a row-major [rows, v] matrix of logits against one target index
 * per row in two passes over a row, and its gradient in one (the forward's loss gives back the
 * row's log-sum-exp: lse = loss + x_{r,t_r}; the composed tf ops — logSoftmax,
 * a one-hot product and a sum — take about ten passes over [rows, v] forward and as many back,
 * each allocating a tensor of that size: for GPT-2's 50,257-word vocabulary the largest tensors of
 * a training step):
 *   loss_r = log Σ_j e^{x_rj} − x_{r,t_r}
 *   dx_rj  = dy_r · (softmax(x_r)_j − [j = t_r])
 */
#include <math.h>
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels.h"
#include "vmath.h"

/* The data and element count of an Int32Array argument; 0 when it is not one. */
static int int32_array(napi_env env, napi_value value, int32_t **data, size_t *length) {
  napi_typedarray_type type;
  void *raw = NULL;
  if (napi_get_typedarray_info(env, value, &type, length, &raw, NULL, NULL) != napi_ok) return 0;
  if (type != napi_int32_array) return 0;
  *data = (int32_t *)raw;
  return 1;
}

/* Max of a row and Σ e^{x − max} (the max first, so no term overflows). */
CT_VECTOR_PATHS
static void row_logsumexp_parts(const float *row, int64_t v, float *max, float *sum) {
  float m = -INFINITY;
#pragma omp simd reduction(max : m)
  for (int64_t j = 0; j < v; j++) m = row[j] > m ? row[j] : m;
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int64_t j = 0; j < v; j++) s += ct_exp(row[j] - m);
  *max = m;
  *sum = s;
}

/* The arrays of one call (forward: x, targets, loss; backward also dy and dx). */
struct ce_arrays {
  const float *x, *loss, *dy;
  const int32_t *targets;
  float *out;
  int64_t v;
};

static void ce_rows(size_t begin, size_t end, int thread, void *context) {
  (void)thread;
  const struct ce_arrays *a = context;
  for (size_t r = begin; r < end; r++) {
    const float *row = a->x + (int64_t)r * a->v;
    float m, s;
    row_logsumexp_parts(row, a->v, &m, &s);
    a->out[r] = logf(s) + m - row[a->targets[r]];
  }
}

CT_VECTOR_PATHS
static void ce_grad_rows(size_t begin, size_t end, int thread, void *context) {
  (void)thread;
  const struct ce_arrays *a = context;
  const int64_t v = a->v;
  for (size_t r = begin; r < end; r++) {
    const float *row = a->x + (int64_t)r * v;
    float *out = a->out + (int64_t)r * v;
    const float lse = a->loss[r] + row[a->targets[r]];
    const float scale = a->dy[r];
    for (int64_t j = 0; j < v; j++) out[j] = ct_exp(row[j] - lse) * scale;
    out[a->targets[r]] -= scale;
  }
}

/*
 * Reads (x: Float32Array, targets: Int32Array, <Float32Arrays>, rows, v); checks sizes and that
 * every target is a column index.
 */
static int arguments(napi_env env, napi_callback_info info, size_t floats, float **x, int32_t **targets, float **rest,
                     size_t *lengths, int64_t *rows, int64_t *v) {
  napi_value argv[7];
  size_t argc = floats + 4;
  size_t x_len = 0, t_len = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < floats + 4) return 0;
  if (!ct_float_array(env, argv[0], x, &x_len) || !int32_array(env, argv[1], targets, &t_len)) return 0;
  if (napi_get_value_int64(env, argv[floats + 2], rows) != napi_ok || napi_get_value_int64(env, argv[floats + 3], v) != napi_ok ||
      *rows < 0 || *v <= 0 || (int64_t)x_len < *rows * *v || (int64_t)t_len < *rows)
    return 0;
  for (size_t i = 0; i < floats; i++) {
    if (!ct_float_array(env, argv[2 + i], &rest[i], &lengths[i])) return 0;
  }
  for (int64_t r = 0; r < *rows; r++)
    if ((*targets)[r] < 0 || (*targets)[r] >= *v) return 0;
  return 1;
}

/* crossEntropy(x, targets, loss, rows, v): loss [rows] */
napi_value ct_cross_entropy(napi_env env, napi_callback_info info) {
  float *x = NULL, *rest[1];
  size_t lengths[1];
  int32_t *targets = NULL;
  int64_t rows = 0, v = 0;
  if (!arguments(env, info, 1, &x, &targets, rest, lengths, &rows, &v) || (int64_t)lengths[0] < rows) {
    napi_throw_error(env, NULL,
                     "ct_native.crossEntropy(x, targets, loss, rows, v): Float32Array [rows, v], Int32Array [rows] of indices < v, Float32Array [rows] expected");
    return NULL;
  }
  struct ce_arrays arrays = {x, NULL, NULL, targets, rest[0], v};
  ct_parallel((size_t)rows, (size_t)v * 3, ce_rows, &arrays);
  return NULL;
}

/* crossEntropyGrad(x, targets, loss, dy, dx, rows, v): dx [rows, v] from the forward's loss and dy [rows] */
napi_value ct_cross_entropy_grad(napi_env env, napi_callback_info info) {
  float *x = NULL, *rest[3];
  size_t lengths[3];
  int32_t *targets = NULL;
  int64_t rows = 0, v = 0;
  if (!arguments(env, info, 3, &x, &targets, rest, lengths, &rows, &v) || (int64_t)lengths[0] < rows || (int64_t)lengths[1] < rows ||
      (int64_t)lengths[2] < rows * v) {
    napi_throw_error(env, NULL,
                     "ct_native.crossEntropyGrad(x, targets, loss, dy, dx, rows, v): Float32Array [rows, v], Int32Array [rows] of indices < v, Float32Arrays [rows], [rows] and [rows, v] expected");
    return NULL;
  }
  struct ce_arrays arrays = {x, rest[0], rest[1], targets, rest[2], v};
  ct_parallel((size_t)rows, (size_t)v * 2, ce_grad_rows, &arrays);
  return NULL;
}
