/*
 * Transpose (an axis permutation) of a row-major array of 4-byte elements (float32, int32), split
 * across the addon's threads. Axes that stay adjacent and in order are merged first, so the
 * attention heads' [batch, seq, heads, dHead] → [batch, heads, seq, dHead] becomes copies of
 * dHead-long runs. When the last axis moves and the one before it was the input's last (a matrix
 * transpose, possibly batched: HF's [out, in] weights to [in, out]), the copy goes by 32 × 32
 * tiles, so both arrays are read and written a cache line at a time; reading each output row with
 * the input's stride touched a new cache line per element (21 s for Llama-3.2-1B's 1.24 B weights,
 * issue 13). The stock wasm kernel computes every element's source index on one thread.
 */
#include <node_api.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"
#include "vmath.h"

#define MAX_RANK 8

struct transpose_job {
  const uint32_t *x;
  uint32_t *out;
  int rank;                    /* after merging; ≥ 1 */
  int64_t out_shape[MAX_RANK]; /* the output's (merged) shape */
  int64_t source_stride[MAX_RANK]; /* per output axis: the step in x of one step along it */
};

/* Output rows [begin, end): a row is the last output axis. */
static void transpose_rows(size_t begin, size_t end, int thread, void *context) {
  (void)thread;
  const struct transpose_job *j = context;
  const int last = j->rank - 1;
  const int64_t length = j->out_shape[last], step = j->source_stride[last];
  for (size_t row = begin; row < end; row++) {
    /* The row's multi-index over the leading output axes gives its first source element. */
    int64_t rest = (int64_t)row, source = 0;
    for (int axis = last - 1; axis >= 0; axis--) {
      source += (rest % j->out_shape[axis]) * j->source_stride[axis];
      rest /= j->out_shape[axis];
    }
    uint32_t *target = j->out + (int64_t)row * length;
    const uint32_t *from = j->x + source;
    if (step == 1) {
      memcpy(target, from, sizeof(uint32_t) * (size_t)length);
    } else {
      for (int64_t i = 0; i < length; i++) target[i] = from[i * step];
    }
  }
}

#define TILE 32

/* Tiles of a (batched) matrix transpose: out[b][r][c] = x[b][c * step + r] for r < rows, c < length.
   A task is a panel of TILE output rows of one batch entry, across every column. */
struct tiled_job {
  const struct transpose_job *job;
  int64_t rows, panels_per_batch;
};

static void transpose_panels(size_t begin, size_t end, int thread, void *context) {
  (void)thread;
  const struct tiled_job *t = context;
  const struct transpose_job *j = t->job;
  const int last = j->rank - 1;
  const int64_t length = j->out_shape[last], step = j->source_stride[last];
  for (size_t panel = begin; panel < end; panel++) {
    const int64_t batch = (int64_t)panel / t->panels_per_batch;
    const int64_t r0 = ((int64_t)panel % t->panels_per_batch) * TILE;
    const int64_t r1 = r0 + TILE < t->rows ? r0 + TILE : t->rows;
    /* The batch entry's first source element, from its index over the axes before the matrix. */
    int64_t rest = batch, source = 0;
    for (int axis = last - 2; axis >= 0; axis--) {
      source += (rest % j->out_shape[axis]) * j->source_stride[axis];
      rest /= j->out_shape[axis];
    }
    const uint32_t *from = j->x + source;
    uint32_t *target = j->out + batch * t->rows * length;
    for (int64_t c0 = 0; c0 < length; c0 += TILE) {
      const int64_t c1 = c0 + TILE < length ? c0 + TILE : length;
      for (int64_t c = c0; c < c1; c++) {
        const uint32_t *column = from + c * step;
        for (int64_t r = r0; r < r1; r++) target[r * length + c] = column[r];
      }
    }
  }
}

static int word_array(napi_env env, napi_value value, void **data, size_t *length) {
  napi_typedarray_type type;
  if (napi_get_typedarray_info(env, value, &type, length, data, NULL, NULL) != napi_ok) return 0;
  return type == napi_float32_array || type == napi_int32_array || type == napi_uint32_array;
}

/* transpose(x, out, shape: Float64Array, perm: Float64Array): out = x permuted (out axis i is x axis perm[i]). */
napi_value ct_transpose(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  void *x = NULL, *out = NULL, *shape_raw = NULL, *perm_raw = NULL;
  size_t x_len = 0, out_len = 0, rank = 0, perm_len = 0;
  napi_typedarray_type shape_type, perm_type;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4 || !word_array(env, argv[0], &x, &x_len) ||
      !word_array(env, argv[1], &out, &out_len) ||
      napi_get_typedarray_info(env, argv[2], &shape_type, &rank, &shape_raw, NULL, NULL) != napi_ok ||
      napi_get_typedarray_info(env, argv[3], &perm_type, &perm_len, &perm_raw, NULL, NULL) != napi_ok ||
      shape_type != napi_float64_array || perm_type != napi_float64_array || rank != perm_len || rank == 0 || rank > MAX_RANK) {
    napi_throw_error(env, NULL, "ct_native.transpose(x, out, shape, perm): 4-byte typed arrays and Float64Arrays of one rank (1 to 8) expected");
    return NULL;
  }
  const double *shape_in = shape_raw, *perm_in = perm_raw;
  int64_t shape[MAX_RANK], perm[MAX_RANK], stride[MAX_RANK];
  int seen[MAX_RANK] = {0};
  int64_t size = 1;
  for (size_t i = 0; i < rank; i++) {
    shape[i] = (int64_t)shape_in[i];
    perm[i] = (int64_t)perm_in[i];
    if (shape_in[i] < 0 || (double)shape[i] != shape_in[i] || perm[i] < 0 || perm[i] >= (int64_t)rank || (double)perm[i] != perm_in[i] ||
        seen[perm[i]]++) {
      napi_throw_error(env, NULL, "ct_native.transpose: shape must be non-negative integers and perm a permutation of its axes");
      return NULL;
    }
    size *= shape[i];
  }
  if ((int64_t)x_len < size || (int64_t)out_len < size) {
    napi_throw_error(env, NULL, "ct_native.transpose: x or out is shorter than the shape says");
    return NULL;
  }
  if (size == 0) return NULL;
  for (int64_t i = (int64_t)rank - 1, s = 1; i >= 0; s *= shape[i], i--) stride[i] = s;
  /* Output axes in order, skipping size-1 axes and merging an axis into the previous one when the
     previous one's step in x spans exactly this one (then the two are one axis of both arrays). */
  struct transpose_job job = {x, out, 0, {0}, {0}};
  for (size_t i = 0; i < rank; i++) {
    const int64_t axis = perm[i];
    if (shape[axis] == 1) continue;
    if (job.rank > 0 && job.source_stride[job.rank - 1] == stride[axis] * shape[axis]) {
      job.out_shape[job.rank - 1] *= shape[axis];
      job.source_stride[job.rank - 1] = stride[axis];
    } else {
      job.out_shape[job.rank] = shape[axis];
      job.source_stride[job.rank] = stride[axis];
      job.rank++;
    }
  }
  if (job.rank == 0) {
    job.out_shape[0] = 1;
    job.source_stride[0] = 1;
    job.rank = 1;
  }
  const int64_t length = job.out_shape[job.rank - 1];
  if (job.rank >= 2 && job.source_stride[job.rank - 2] == 1 && job.source_stride[job.rank - 1] != 1) {
    const int64_t rows = job.out_shape[job.rank - 2];
    struct tiled_job tiled = {&job, rows, (rows + TILE - 1) / TILE};
    const int64_t batches = size / (rows * length);
    ct_parallel((size_t)(batches * tiled.panels_per_batch), (size_t)(TILE * length), transpose_panels, &tiled);
    return NULL;
  }
  ct_parallel((size_t)(size / length), (size_t)length, transpose_rows, &job);
  return NULL;
}
