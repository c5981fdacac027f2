/* The addon's functions, one file each (blas.c holds the module's init). */
#ifndef CT_NATIVE_KERNELS_H
#define CT_NATIVE_KERNELS_H
#include <node_api.h>
#include <stddef.h>

/* The data and element count of a Float32Array argument; 0 when it is not one. */
static inline int ct_float_array(napi_env env, napi_value value, float **data, size_t *length) {
  napi_typedarray_type type;
  void *raw = NULL;
  if (napi_get_typedarray_info(env, value, &type, length, &raw, NULL, NULL) != napi_ok) return 0;
  if (type != napi_float32_array) return 0;
  *data = (float *)raw;
  return 1;
}

napi_value ct_adam_step(napi_env env, napi_callback_info info);
napi_value ct_sgd_step(napi_env env, napi_callback_info info);
napi_value ct_sum(napi_env env, napi_callback_info info);
napi_value ct_gelu_tanh(napi_env env, napi_callback_info info);
napi_value ct_gelu_tanh_grad(napi_env env, napi_callback_info info);
napi_value ct_layer_norm(napi_env env, napi_callback_info info);
napi_value ct_layer_norm_grad(napi_env env, napi_callback_info info);
napi_value ct_rms_norm(napi_env env, napi_callback_info info);
napi_value ct_rms_norm_grad(napi_env env, napi_callback_info info);
napi_value ct_cross_entropy(napi_env env, napi_callback_info info);
napi_value ct_cross_entropy_grad(napi_env env, napi_callback_info info);
napi_value ct_transpose(napi_env env, napi_callback_info info);
napi_value ct_add(napi_env env, napi_callback_info info);
napi_value ct_masked_softmax(napi_env env, napi_callback_info info);
napi_value ct_softmax_grad(napi_env env, napi_callback_info info);

#endif
