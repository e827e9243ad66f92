/*
 * Elementwise passes training runs on every layer: the bias added unfused while tfjs records
 * gradients, and ReLU's gradient in one pass (tfjs composes it from step, cast and multiply).
 */
#include <math.h>

#include "kernels.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define RB_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define RB_VECTOR_CLONES
#endif

RB_VECTOR_CLONES
void rb_add_rows(const float *restrict x, const float *restrict row, float *restrict out, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; r++) {
    const float *in = x + r * cols;
    float *o = out + r * cols;
    for (int64_t c = 0; c < cols; c++) o[c] = in[c] + row[c];
  }
}

RB_VECTOR_CLONES
void rb_relu_grad(const float *restrict dy, const float *restrict x, float *restrict out, int64_t count) {
  for (int64_t i = 0; i < count; i++) {
    /* tfjs: mul(dy, step(x)), step being 1 above 0, NaN for NaN, 0 otherwise: the same products. */
    const float step = x[i] > 0.0f ? 1.0f : (x[i] != x[i] ? x[i] : 0.0f);
    out[i] = dy[i] * step;
  }
}
