/*
 * The N-API face of ringbook's native kernels. Every kernel works in place on memory JavaScript
 * already owns, without copies: tensors are (ArrayBuffer, byte offset) pairs, where the
 * ArrayBuffer is the tfjs wasm backend's heap (its WebAssembly.Memory's buffer). Every range is
 * checked against the buffer's length before any pointer is formed, so a wrong offset from
 * JavaScript throws instead of touching memory it does not own.
 *
 * BLAS runs on the calling thread only: ringbook's workers are the parallelism, one per core.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kernels.h"

#define MAX_ARGS 8

typedef struct {
  napi_env env;
  napi_value args[MAX_ARGS];
  size_t count;
  int failed;
} call_t;

static int fail(call_t *call, const char *message) {
  if (!call->failed) napi_throw_error(call->env, "ERR_RINGBOOK_NATIVE", message);
  call->failed = 1;
  return 0;
}

static int begin(call_t *call, napi_env env, napi_callback_info info, size_t expected) {
  call->env = env;
  call->count = MAX_ARGS;
  call->failed = 0;
  if (napi_get_cb_info(env, info, &call->count, call->args, NULL, NULL) != napi_ok) return fail(call, "bad call");
  if (call->count < expected) return fail(call, "too few arguments");
  return 1;
}

static double number_arg(call_t *call, size_t i) {
  double value = 0;
  if (call->failed) return 0;
  if (napi_get_value_double(call->env, call->args[i], &value) != napi_ok || !isfinite(value)) {
    char message[64];
    snprintf(message, sizeof message, "argument %zu must be a finite number", i);
    fail(call, message);
    return 0;
  }
  return value;
}

/** A non-negative integer argument no larger than `max`. */
static int64_t count_arg(call_t *call, size_t i, int64_t max) {
  const double value = number_arg(call, i);
  if (call->failed) return 0;
  if (value < 0 || value > (double)max || value != floor(value)) {
    char message[96];
    snprintf(message, sizeof message, "argument %zu must be an integer in [0, %lld], got %g", i, (long long)max, value);
    fail(call, message);
    return 0;
  }
  return (int64_t)value;
}

/** A heap: an ArrayBuffer (the wasm memory's buffer). */
typedef struct {
  uint8_t *base;
  size_t length;
} heap_t;

static heap_t heap_arg(call_t *call, size_t i) {
  heap_t heap = {NULL, 0};
  void *data = NULL;
  bool is_buffer = false;
  if (call->failed) return heap;
  if (napi_is_arraybuffer(call->env, call->args[i], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_arraybuffer_info(call->env, call->args[i], &data, &heap.length) != napi_ok) {
    fail(call, "the heap must be an ArrayBuffer");
    return heap;
  }
  heap.base = data;
  if (heap.base == NULL && heap.length > 0) fail(call, "the heap ArrayBuffer is detached");
  return heap;
}

/** `count` floats at byte `offset` of `heap`, or NULL (and an exception) when out of range. */
static float *floats_at(call_t *call, heap_t heap, double offset, int64_t count, const char *what) {
  if (call->failed) return NULL;
  const double bytes = (double)count * 4.0;
  if (offset < 0 || offset != floor(offset) || (int64_t)offset % 4 != 0 || offset + bytes > (double)heap.length) {
    char message[160];
    snprintf(message, sizeof message, "%s: %lld floats at byte %.0f do not fit a heap of %zu bytes (or are unaligned)",
             what, (long long)count, offset, heap.length);
    fail(call, message);
    return NULL;
  }
  return (float *)(heap.base + (size_t)offset);
}

/** A Float32Array / Float64Array / Int32Array argument's elements. */
static void *typed_arg(call_t *call, size_t i, napi_typedarray_type type, size_t *length, const char *what) {
  napi_typedarray_type actual;
  void *data = NULL;
  bool is_typed = false;
  *length = 0;
  if (call->failed) return NULL;
  if (napi_is_typedarray(call->env, call->args[i], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(call->env, call->args[i], &actual, length, &data, NULL, NULL) != napi_ok ||
      actual != type) {
    char message[96];
    snprintf(message, sizeof message, "%s (argument %zu) has the wrong type", what, i);
    fail(call, message);
    return NULL;
  }
  return data;
}

static napi_value undefined_value(napi_env env) {
  napi_value result;
  napi_get_undefined(env, &result);
  return result;
}

/* info() → { config, core, threads } */
static napi_value info(napi_env env, napi_callback_info cb) {
  (void)cb;
  napi_value result, config, core, threads;
  napi_create_object(env, &result);
  napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &config);
  napi_create_string_utf8(env, openblas_get_corename(), NAPI_AUTO_LENGTH, &core);
  napi_create_int32(env, openblas_get_num_threads(), &threads);
  napi_set_named_property(env, result, "config", config);
  napi_set_named_property(env, result, "core", core);
  napi_set_named_property(env, result, "threads", threads);
  return result;
}

/* matmul(heap, m, n, k, transA, transB, offsets: Float64Array [a0, b0, c0, a1, b1, c1, ...] bytes) */
static napi_value matmul(napi_env env, napi_callback_info cb) {
  call_t call;
  if (!begin(&call, env, cb, 7)) return NULL;
  const heap_t heap = heap_arg(&call, 0);
  const int64_t m = count_arg(&call, 1, INT32_MAX), n = count_arg(&call, 2, INT32_MAX), k = count_arg(&call, 3, INT32_MAX);
  const int64_t trans_a = count_arg(&call, 4, 1), trans_b = count_arg(&call, 5, 1);
  size_t length;
  const double *offsets = typed_arg(&call, 6, napi_float64_array, &length, "offsets");
  if (call.failed) return NULL;
  if (length % 3 != 0) return fail(&call, "offsets must hold (a, b, c) byte offsets per matrix"), NULL;
  for (size_t i = 0; i < length; i += 3) {
    const float *a = floats_at(&call, heap, offsets[i], m * k, "matmul a");
    const float *b = floats_at(&call, heap, offsets[i + 1], k * n, "matmul b");
    float *c = floats_at(&call, heap, offsets[i + 2], m * n, "matmul output");
    if (call.failed) return NULL;
    rb_gemm((int)trans_a, (int)trans_b, (int)m, (int)n, (int)k, a, b, c);
  }
  return undefined_value(env);
}

/** A broadcast operand from desc[at..at+4] = [byte offset or -1, outer, row, col strides, count]. */
static rb_broadcast broadcast_from(call_t *call, heap_t heap, const double *desc, int64_t outer, int64_t rows,
                                   int64_t cols, const char *what) {
  rb_broadcast operand = {NULL, 0, 0, 0};
  if (desc[0] < 0) return operand;
  operand.outer_stride = (int64_t)desc[1];
  operand.row_stride = (int64_t)desc[2];
  operand.col_stride = (int64_t)desc[3];
  const int64_t count = (int64_t)desc[4];
  if (operand.outer_stride < 0 || operand.row_stride < 0 || operand.col_stride < 0 || count < 1) {
    fail(call, "bad broadcast strides");
    return operand;
  }
  const int64_t last = (outer - 1) * operand.outer_stride + (rows - 1) * operand.row_stride + (cols - 1) * operand.col_stride;
  if (last >= count) {
    fail(call, "a broadcast operand's strides reach past its values");
    return operand;
  }
  operand.values = floats_at(call, heap, desc[0], count, what);
  return operand;
}

/* epilogue(heap, desc: Float64Array[16]) with desc = [out byte, outer, rows, cols, activation,
 * leaky alpha, bias (5: byte or -1, 3 strides, count), prelu weights (5, likewise)] */
static napi_value epilogue(napi_env env, napi_callback_info cb) {
  call_t call;
  if (!begin(&call, env, cb, 2)) return NULL;
  const heap_t heap = heap_arg(&call, 0);
  size_t length;
  const double *desc = typed_arg(&call, 1, napi_float64_array, &length, "epilogue descriptor");
  if (call.failed) return NULL;
  if (length != 16) return fail(&call, "the epilogue descriptor has 16 numbers"), NULL;
  const int64_t outer = (int64_t)desc[1], rows = (int64_t)desc[2], cols = (int64_t)desc[3];
  const int activation = (int)desc[4];
  if (outer < 0 || rows < 0 || cols < 0 || activation < RB_LINEAR || activation > RB_SIGMOID) {
    return fail(&call, "bad epilogue shape or activation"), NULL;
  }
  if (outer == 0 || rows == 0 || cols == 0) return undefined_value(env);
  float *out = floats_at(&call, heap, desc[0], outer * rows * cols, "epilogue output");
  const rb_broadcast bias = broadcast_from(&call, heap, desc + 6, outer, rows, cols, "bias");
  const rb_broadcast prelu = broadcast_from(&call, heap, desc + 11, outer, rows, cols, "prelu weights");
  if (call.failed) return NULL;
  if (activation == RB_PRELU && prelu.values == NULL) return fail(&call, "prelu needs its weights"), NULL;
  rb_epilogue(out, outer, rows, cols, bias, (rb_activation)activation, (float)desc[5], prelu);
  return undefined_value(env);
}

/* sumRows(heap, x byte, out byte, rows, cols) */
static napi_value sum_rows(napi_env env, napi_callback_info cb) {
  call_t call;
  if (!begin(&call, env, cb, 5)) return NULL;
  const heap_t heap = heap_arg(&call, 0);
  const int64_t rows = count_arg(&call, 3, INT32_MAX), cols = count_arg(&call, 4, INT32_MAX);
  const float *x = floats_at(&call, heap, number_arg(&call, 1), rows * cols, "sum input");
  float *out = floats_at(&call, heap, number_arg(&call, 2), cols, "sum output");
  if (call.failed) return NULL;
  rb_sum_rows(x, out, rows, cols);
  return undefined_value(env);
}

/* addRows(heap, x byte, row byte, out byte, rows, cols) */
static napi_value add_rows(napi_env env, napi_callback_info cb) {
  call_t call;
  if (!begin(&call, env, cb, 6)) return NULL;
  const heap_t heap = heap_arg(&call, 0);
  const int64_t rows = count_arg(&call, 4, INT32_MAX), cols = count_arg(&call, 5, INT32_MAX);
  const float *x = floats_at(&call, heap, number_arg(&call, 1), rows * cols, "addRows input");
  const float *row = floats_at(&call, heap, number_arg(&call, 2), cols, "addRows row");
  float *out = floats_at(&call, heap, number_arg(&call, 3), rows * cols, "addRows output");
  if (call.failed) return NULL;
  rb_add_rows(x, row, out, rows, cols);
  return undefined_value(env);
}

/* reluGrad(heap, dy byte, x byte, out byte, count) */
static napi_value relu_grad(napi_env env, napi_callback_info cb) {
  call_t call;
  if (!begin(&call, env, cb, 5)) return NULL;
  const heap_t heap = heap_arg(&call, 0);
  const int64_t count = count_arg(&call, 4, INT32_MAX);
  const float *dy = floats_at(&call, heap, number_arg(&call, 1), count, "reluGrad dy");
  const float *x = floats_at(&call, heap, number_arg(&call, 2), count, "reluGrad x");
  float *out = floats_at(&call, heap, number_arg(&call, 3), count, "reluGrad output");
  if (call.failed) return NULL;
  rb_relu_grad(dy, x, out, count);
  return undefined_value(env);
}

/** The geometry from an Int32Array of 15 numbers (the rb_conv_geometry fields in order). */
static int geometry_arg(call_t *call, size_t i, rb_conv_geometry *g) {
  size_t length;
  const int32_t *v = typed_arg(call, i, napi_int32_array, &length, "geometry");
  if (call->failed) return 0;
  if (length != 15) return fail(call, "the convolution geometry has 15 numbers");
  *g = (rb_conv_geometry){v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14]};
  for (int j = 0; j < 15; j++) {
    if (v[j] < 0 && j < 13) return fail(call, "the convolution geometry has a negative size");
  }
  if (g->stride_h < 1 || g->stride_w < 1 || g->dilation_h < 1 || g->dilation_w < 1) {
    return fail(call, "strides and dilations must be at least 1");
  }
  return 1;
}

static int64_t image_floats(const rb_conv_geometry *g) { return (int64_t)g->batch * g->in_h * g->in_w * g->in_c; }
static int64_t output_floats(const rb_conv_geometry *g) { return (int64_t)g->batch * g->out_h * g->out_w * g->out_c; }
static int64_t filter_floats(const rb_conv_geometry *g) { return (int64_t)g->filter_h * g->filter_w * g->in_c * g->out_c; }

typedef enum { CONV_FORWARD, CONV_INPUT_GRAD, CONV_FILTER_GRAD, MAX_POOL_GRAD } conv_kind;

/* (heap, first byte, second byte, output byte, geometry) for each convolution kernel */
static napi_value conv_call(napi_env env, napi_callback_info cb, conv_kind kind) {
  call_t call;
  rb_conv_geometry g;
  if (!begin(&call, env, cb, 5)) return NULL;
  const heap_t heap = heap_arg(&call, 0);
  if (!geometry_arg(&call, 4, &g)) return NULL;
  const double first = number_arg(&call, 1), second = number_arg(&call, 2), output = number_arg(&call, 3);
  int status = 0;
  switch (kind) {
    case CONV_FORWARD: {
      const float *x = floats_at(&call, heap, first, image_floats(&g), "conv2d x");
      const float *w = floats_at(&call, heap, second, filter_floats(&g), "conv2d filter");
      float *y = floats_at(&call, heap, output, output_floats(&g), "conv2d output");
      if (call.failed) return NULL;
      status = rb_conv2d(x, w, y, &g);
      break;
    }
    case CONV_INPUT_GRAD: {
      const float *dy = floats_at(&call, heap, first, output_floats(&g), "conv2d dy");
      const float *w = floats_at(&call, heap, second, filter_floats(&g), "conv2d filter");
      float *dx = floats_at(&call, heap, output, image_floats(&g), "conv2d dx");
      if (call.failed) return NULL;
      status = rb_conv2d_backprop_input(dy, w, dx, &g);
      break;
    }
    case CONV_FILTER_GRAD: {
      const float *x = floats_at(&call, heap, first, image_floats(&g), "conv2d x");
      const float *dy = floats_at(&call, heap, second, output_floats(&g), "conv2d dy");
      float *dw = floats_at(&call, heap, output, filter_floats(&g), "conv2d dw");
      if (call.failed) return NULL;
      status = rb_conv2d_backprop_filter(x, dy, dw, &g);
      break;
    }
    case MAX_POOL_GRAD: {
      /* Pooling keeps the channels: out_c must equal in_c. */
      if (g.out_c != g.in_c) return fail(&call, "max pooling keeps the channel count"), NULL;
      const float *dy = floats_at(&call, heap, first, output_floats(&g), "max pool dy");
      const float *x = floats_at(&call, heap, second, image_floats(&g), "max pool x");
      float *dx = floats_at(&call, heap, output, image_floats(&g), "max pool dx");
      if (call.failed) return NULL;
      status = rb_max_pool_grad(dy, x, dx, &g);
      break;
    }
  }
  if (status != 0) return fail(&call, "out of memory for a convolution's or pooling's scratch space"), NULL;
  return undefined_value(env);
}

static napi_value conv2d(napi_env env, napi_callback_info cb) { return conv_call(env, cb, CONV_FORWARD); }
static napi_value conv2d_backprop_input(napi_env env, napi_callback_info cb) { return conv_call(env, cb, CONV_INPUT_GRAD); }
static napi_value conv2d_backprop_filter(napi_env env, napi_callback_info cb) { return conv_call(env, cb, CONV_FILTER_GRAD); }
static napi_value max_pool_grad(napi_env env, napi_callback_info cb) { return conv_call(env, cb, MAX_POOL_GRAD); }

/* optimizerStep(kind, heap, segments: Float64Array [value byte, new value byte, count]*,
 *               grads: Float32Array, scalars: Float32Array, ...slots: Float32Array) */
static napi_value optimizer_step(napi_env env, napi_callback_info cb) {
  call_t call;
  if (!begin(&call, env, cb, 5)) return NULL;
  const int64_t kind = count_arg(&call, 0, RB_ADADELTA);
  const heap_t heap = heap_arg(&call, 1);
  size_t segment_length, grad_length, scalar_length;
  const double *segments = typed_arg(&call, 2, napi_float64_array, &segment_length, "segments");
  const float *grads = typed_arg(&call, 3, napi_float32_array, &grad_length, "gradients");
  const float *scalars = typed_arg(&call, 4, napi_float32_array, &scalar_length, "scalars");
  if (call.failed) return NULL;
  if ((int)scalar_length != rb_optimizer_scalar_count((rb_optimizer)kind)) return fail(&call, "wrong number of optimizer scalars"), NULL;
  const int slot_count = (int)call.count - 5;
  if (slot_count < rb_optimizer_slot_count((rb_optimizer)kind) - (kind == RB_RMSPROP ? 1 : 0) || slot_count > 3) {
    return fail(&call, "wrong number of optimizer slots"), NULL;
  }
  if (kind == RB_RMSPROP && scalars[5] != 0.0f && slot_count < 3) return fail(&call, "centered rmsprop needs three slots"), NULL;
  float *slots[3] = {NULL, NULL, NULL};
  for (int s = 0; s < slot_count; s++) {
    size_t length;
    slots[s] = typed_arg(&call, 5 + (size_t)s, napi_float32_array, &length, "optimizer slot");
    if (call.failed) return NULL;
    if (length != grad_length) return fail(&call, "every optimizer slot is as long as the gradients"), NULL;
  }
  if (segment_length % 3 != 0) return fail(&call, "segments are (value byte, new value byte, count) triples"), NULL;
  int64_t total = 0;
  for (size_t i = 0; i < segment_length; i += 3) {
    if (segments[i + 2] < 0 || segments[i + 2] != floor(segments[i + 2])) return fail(&call, "a segment's count must be a non-negative integer"), NULL;
    total += (int64_t)segments[i + 2];
  }
  if (total != (int64_t)grad_length) return fail(&call, "the segments do not add up to the gradients' length"), NULL;
  int64_t at = 0;
  for (size_t i = 0; i < segment_length; i += 3) {
    const int64_t count = (int64_t)segments[i + 2];
    const float *value = floats_at(&call, heap, segments[i], count, "optimizer parameters");
    float *out = floats_at(&call, heap, segments[i + 1], count, "optimizer new parameters");
    if (call.failed) return NULL;
    if (count > 0 && (const float *)out < value + count && value < (const float *)out + count) {
      return fail(&call, "the new parameters must not overlap the old ones"), NULL;
    }
    rb_optimizer_step((rb_optimizer)kind, value, out, grads + at, slots[0] ? slots[0] + at : NULL, slots[1] ? slots[1] + at : NULL,
                      slots[2] ? slots[2] + at : NULL, count, scalars);
    at += count;
  }
  return undefined_value(env);
}

/* setThreads(n): the number of BLAS threads (ringbook keeps 1). */
static napi_value set_threads(napi_env env, napi_callback_info cb) {
  call_t call;
  if (!begin(&call, env, cb, 1)) return NULL;
  const int64_t threads = count_arg(&call, 0, 1024);
  if (call.failed) return NULL;
  if (threads < 1) return fail(&call, "at least one thread"), NULL;
  openblas_set_num_threads((int)threads);
  return undefined_value(env);
}

NAPI_MODULE_INIT() {
  /* Workers are the parallelism: BLAS must not spread over the cores another worker uses. */
  openblas_set_num_threads(1);
  const napi_property_descriptor properties[] = {
      {"info", NULL, info, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"matmul", NULL, matmul, NULL, NULL, NULL, napi_enumerable, NULL},
      {"epilogue", NULL, epilogue, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sumRows", NULL, sum_rows, NULL, NULL, NULL, napi_enumerable, NULL},
      {"addRows", NULL, add_rows, NULL, NULL, NULL, napi_enumerable, NULL},
      {"reluGrad", NULL, relu_grad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2d", NULL, conv2d, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2dBackpropInput", NULL, conv2d_backprop_input, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2dBackpropFilter", NULL, conv2d_backprop_filter, NULL, NULL, NULL, napi_enumerable, NULL},
      {"maxPoolGrad", NULL, max_pool_grad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"optimizerStep", NULL, optimizer_step, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}
