/*
 * ct_native: single-precision matrix products of TensorFlow.js tensors by a real BLAS (this
 * file, and the module init), a fused optimizer step (adam.c), axis sums (reduce.c), gelu_new
 * with its gradient (activation.c), LayerNorm with its gradients (norm.c), cross-entropy with its
 * gradient (loss.c), attention's masked softmax with its gradient (softmax.c), transposes
 * (transpose.c) and sums (elementwise.c); those files split their
 * loops across threads (parallel.c) and share a vectorisable exp (vmath.h).
 *
 * The BLAS library is opened at run time (dlopen), not linked: the addon builds without BLAS
 * headers or a -dev package, and a machine without the library loads the addon and learns why it
 * cannot be used instead of failing to load it. Operands are Float32Arrays plus element offsets,
 * so one call can work directly on the wasm backend's heap (a view over its memory, shared or
 * not) without copying.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "vmath.h"

/* CBLAS enums (values fixed by the CBLAS standard). */
enum { CBLAS_ROW_MAJOR = 101 };
enum { CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112 };

typedef void (*sgemm_fn)(int order, int trans_a, int trans_b, int m, int n, int k, float alpha,
                         const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
typedef void (*set_threads_fn)(int);
typedef char *(*get_config_fn)(void);
typedef int (*get_threads_fn)(void);

static void *library = NULL;
static sgemm_fn sgemm = NULL;
static set_threads_fn set_threads = NULL;
static get_threads_fn get_threads = NULL;
static get_config_fn get_config = NULL;
static char library_name[512] = "";

#define CHECK(env, call)                                                                          \
  do {                                                                                            \
    if ((call) != napi_ok) {                                                                      \
      napi_throw_error((env), NULL, "ct_native: N-API call failed: " #call);                       \
      return NULL;                                                                                \
    }                                                                                             \
  } while (0)

static napi_value throw_error(napi_env env, const char *message) {
  napi_throw_error(env, NULL, message);
  return NULL;
}

static napi_value make_string(napi_env env, const char *text) {
  napi_value value;
  if (napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &value) != napi_ok) return NULL;
  return value;
}

/*
 * open(candidates: string[], threads: number) -> { library, config, threads, loopThreads }
 * Tries each library name in turn; the first that has cblas_sgemm is kept for the process.
 * OpenBLAS reads its environment when it loads, so callers set OPENBLAS_* before the first open.
 */
static napi_value blas_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_error(env, "ct_native.open(candidates, threads): two arguments expected");
  int32_t threads = 0;
  CHECK(env, napi_get_value_int32(env, argv[1], &threads));

  if (library == NULL) {
    uint32_t count = 0;
    CHECK(env, napi_get_array_length(env, argv[0], &count));
    char errors[2048] = "";
    for (uint32_t i = 0; i < count && library == NULL; i++) {
      napi_value item;
      char name[512];
      size_t length = 0;
      CHECK(env, napi_get_element(env, argv[0], i, &item));
      CHECK(env, napi_get_value_string_utf8(env, item, name, sizeof name, &length));
      void *handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (handle == NULL) {
        const char *why = dlerror();
        size_t used = strlen(errors);
        snprintf(errors + used, sizeof errors - used, "%s%s", used > 0 ? "; " : "", why ? why : name);
        continue;
      }
      sgemm_fn found = (sgemm_fn)dlsym(handle, "cblas_sgemm");
      if (found == NULL) {
        size_t used = strlen(errors);
        snprintf(errors + used, sizeof errors - used, "%s%s: no cblas_sgemm", used > 0 ? "; " : "", name);
        dlclose(handle);
        continue;
      }
      library = handle;
      sgemm = found;
      set_threads = (set_threads_fn)dlsym(handle, "openblas_set_num_threads");
      get_threads = (get_threads_fn)dlsym(handle, "openblas_get_num_threads");
      get_config = (get_config_fn)dlsym(handle, "openblas_get_config");
      snprintf(library_name, sizeof library_name, "%s", name);
    }
    if (library == NULL) return throw_error(env, errors[0] ? errors : "no BLAS library candidates given");
  }
  if (set_threads != NULL && threads > 0) set_threads(threads);
  if (threads > 0) ct_threads = threads;

  napi_value result;
  CHECK(env, napi_create_object(env, &result));
  CHECK(env, napi_set_named_property(env, result, "library", make_string(env, library_name)));
  CHECK(env, napi_set_named_property(env, result, "config", make_string(env, get_config ? get_config() : "")));
  napi_value thread_count, loop_threads;
  CHECK(env, napi_create_int32(env, get_threads ? get_threads() : 1, &thread_count));
  CHECK(env, napi_set_named_property(env, result, "threads", thread_count));
  /* The addon's own loops: as many threads when built with OpenMP, else the caller's alone. */
  CHECK(env, napi_create_int32(env, ct_parallel_chunks((size_t)ct_threads, CT_PARALLEL_MIN_WORK_ALL), &loop_threads));
  CHECK(env, napi_set_named_property(env, result, "loopThreads", loop_threads));
  return result;
}

/* A batch of products C[i] = op(A[i])·op(B[i]) (row-major, C packed). */
struct gemm_job {
  const float *a, *b;
  float *c;
  int64_t a_stride, b_stride, c_stride, m, n, k;
  int trans_a, trans_b;
};

/* Entries [begin, end) of the batch. */
static void gemm_entries(size_t begin, size_t end, int thread, void *context) {
  (void)thread;
  const struct gemm_job *j = context;
  const int lda = j->trans_a ? (int)j->m : (int)j->k;
  const int ldb = j->trans_b ? (int)j->k : (int)j->n;
  for (int64_t i = (int64_t)begin; i < (int64_t)end; i++) {
    sgemm(CBLAS_ROW_MAJOR, j->trans_a ? CBLAS_TRANS : CBLAS_NO_TRANS, j->trans_b ? CBLAS_TRANS : CBLAS_NO_TRANS, (int)j->m,
          (int)j->n, (int)j->k, 1.0f, j->a + i * j->a_stride, lda, j->b + i * j->b_stride, ldb, 0.0f, j->c + i * j->c_stride,
          (int)j->n);
  }
}

/*
 * gemm(a, b, c, dims: Float64Array [batch, m, n, k, transA, transB,
 *      aOffset, aStride, bOffset, bStride, cOffset, cStride])
 * For each of `batch` products: C[i] = op(A[i]) · op(B[i]), row-major, where A[i] starts at
 * aOffset + i·aStride elements of `a` (stride 0 broadcasts), and so on. op(A) is m×k, op(B) k×n.
 * Every range is checked against its array before any work starts.
 */
static napi_value blas_gemm(napi_env env, napi_callback_info info) {
  if (sgemm == NULL) return throw_error(env, "ct_native.gemm: no BLAS library is open (call open first)");
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) return throw_error(env, "ct_native.gemm(a, b, c, dims): four arguments expected");
  float *a, *b, *c;
  size_t a_len, b_len, c_len;
  if (!ct_float_array(env, argv[0], &a, &a_len) || !ct_float_array(env, argv[1], &b, &b_len) ||
      !ct_float_array(env, argv[2], &c, &c_len)) {
    return throw_error(env, "ct_native.gemm: a, b and c must be Float32Arrays");
  }
  /* dims: a Float64Array read in place (one typed-array lookup instead of twelve property reads). */
  napi_typedarray_type dims_type;
  size_t dims_len = 0;
  void *dims_raw = NULL;
  if (napi_get_typedarray_info(env, argv[3], &dims_type, &dims_len, &dims_raw, NULL, NULL) != napi_ok ||
      dims_type != napi_float64_array || dims_len < 12) {
    return throw_error(env, "ct_native.gemm: dims must be a Float64Array of 12 entries");
  }
  int64_t d[12];
  for (int i = 0; i < 12; i++) {
    const double value = ((const double *)dims_raw)[i];
    if (!(value >= 0 && value <= 9007199254740991.0) || value != (double)(int64_t)value)
      return throw_error(env, "ct_native.gemm: dims must be non-negative integers");
    d[i] = (int64_t)value;
  }
  const int64_t batch = d[0], m = d[1], n = d[2], k = d[3];
  const int trans_a = d[4] != 0, trans_b = d[5] != 0;
  const int64_t a_off = d[6], a_stride = d[7], b_off = d[8], b_stride = d[9], c_off = d[10], c_stride = d[11];
  if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX)
    return throw_error(env, "ct_native.gemm: sizes out of range");
  if (batch == 0 || m == 0 || n == 0) return NULL;
  const int64_t last = batch - 1;
  if (a_off + last * a_stride + m * k > (int64_t)a_len || b_off + last * b_stride + k * n > (int64_t)b_len ||
      c_off + last * c_stride + m * n > (int64_t)c_len) {
    return throw_error(env, "ct_native.gemm: an operand range runs past its array");
  }
  if (k == 0) {
    for (int64_t i = 0; i < batch; i++) memset(c + c_off + i * c_stride, 0, sizeof(float) * (size_t)(m * n));
    return NULL;
  }
  struct gemm_job job = {a + a_off, b + b_off, c + c_off, a_stride, b_stride, c_stride, m, n, k, trans_a, trans_b};
  /*
   * A batch (attention's per-head products) is split across the addon's threads, each product on
   * one thread: OpenBLAS threads each small product alone, or not at all below its size threshold
   * (64 products of 64×64×64: 0.29 ms that way, 0.21 ms split). One product gets BLAS's threads.
   */
  const size_t entry_cost = (size_t)(m * n * k);
  if (batch > 1 && ct_parallel_chunks((size_t)batch, entry_cost) > 1) {
    if (set_threads != NULL) set_threads(1);
    ct_parallel((size_t)batch, entry_cost, gemm_entries, &job);
    if (set_threads != NULL) set_threads(ct_threads);
  } else {
    gemm_entries(0, (size_t)batch, 0, &job);
  }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"open", NULL, blas_open, NULL, NULL, NULL, napi_default, NULL},
      {"gemm", NULL, blas_gemm, NULL, NULL, NULL, napi_default, NULL},
      {"adamStep", NULL, ct_adam_step, NULL, NULL, NULL, napi_default, NULL},
      {"sgdStep", NULL, ct_sgd_step, NULL, NULL, NULL, napi_default, NULL},
      {"sum", NULL, ct_sum, NULL, NULL, NULL, napi_default, NULL},
      {"geluTanh", NULL, ct_gelu_tanh, NULL, NULL, NULL, napi_default, NULL},
      {"geluTanhGrad", NULL, ct_gelu_tanh_grad, NULL, NULL, NULL, napi_default, NULL},
      {"layerNorm", NULL, ct_layer_norm, NULL, NULL, NULL, napi_default, NULL},
      {"layerNormGrad", NULL, ct_layer_norm_grad, NULL, NULL, NULL, napi_default, NULL},
      {"rmsNorm", NULL, ct_rms_norm, NULL, NULL, NULL, napi_default, NULL},
      {"rmsNormGrad", NULL, ct_rms_norm_grad, NULL, NULL, NULL, napi_default, NULL},
      {"crossEntropy", NULL, ct_cross_entropy, NULL, NULL, NULL, napi_default, NULL},
      {"crossEntropyGrad", NULL, ct_cross_entropy_grad, NULL, NULL, NULL, napi_default, NULL},
      {"transpose", NULL, ct_transpose, NULL, NULL, NULL, napi_default, NULL},
      {"add", NULL, ct_add, NULL, NULL, NULL, napi_default, NULL},
      {"maskedSoftmax", NULL, ct_masked_softmax, NULL, NULL, NULL, napi_default, NULL},
      {"softmaxGrad", NULL, ct_softmax_grad, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
