/* The addon's functions, one file each (blas.c holds the module's init). */
#ifndef CT_NATIVE_KERNELS_H
#define CT_NATIVE_KERNELS_H
#include <node_api.h>

napi_value ct_adam_step(napi_env env, napi_callback_info info);
napi_value ct_sum(napi_env env, napi_callback_info info);
napi_value ct_gelu_tanh(napi_env env, napi_callback_info info);
napi_value ct_gelu_tanh_grad(napi_env env, napi_callback_info info);
napi_value ct_layer_norm(napi_env env, napi_callback_info info);
napi_value ct_layer_norm_grad(napi_env env, napi_callback_info info);

#endif
