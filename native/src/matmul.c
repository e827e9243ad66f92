/*
 * Matrix products through OpenBLAS, the epilogue of tfjs's fused kernels (bias, activation) and
 * the bias gradient (a sum over all leading axes).
 */
#include <math.h>
#include <string.h>

#include "kernels.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
/* One build for every x86-64 CPU: the loader picks the widest vector unit at load time. */
#define RB_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define RB_VECTOR_CLONES
#endif

void rb_gemm(int trans_a, int trans_b, int m, int n, int k, const float *a, const float *b, float *c) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    memset(c, 0, (size_t)m * (size_t)n * sizeof(float));
    return;
  }
  /* Densely packed: A is m×k (k×m when transposed), B is k×n (n×k when transposed). */
  const int lda = trans_a ? m : k;
  const int ldb = trans_b ? k : n;
  cblas_sgemm(RB_ROW_MAJOR, trans_a ? RB_TRANS : RB_NO_TRANS, trans_b ? RB_TRANS : RB_NO_TRANS, m, n, k, 1.0f, a, lda,
              b, ldb, 0.0f, c, n);
}

static float activate(float x, rb_activation activation, float leaky_alpha, float prelu_alpha) {
  switch (activation) {
    case RB_RELU:
      return x < 0.0f ? 0.0f : x;
    case RB_RELU6:
      return x < 0.0f ? 0.0f : (x > 6.0f ? 6.0f : x);
    case RB_ELU:
      /* tfjs's cpu backend computes in float64 and rounds once. */
      return x >= 0.0f ? x : (float)(exp((double)x) - 1.0);
    case RB_LEAKYRELU:
      return x < 0.0f ? leaky_alpha * x : x;
    case RB_PRELU:
      return x < 0.0f ? prelu_alpha * x : x;
    case RB_SIGMOID:
      return (float)(1.0 / (1.0 + exp(-(double)x)));
    case RB_LINEAR:
    default:
      return x;
  }
}

void rb_epilogue(float *out, int64_t outer, int64_t rows, int64_t cols, rb_broadcast bias, rb_activation activation,
                 float leaky_alpha, rb_broadcast prelu) {
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t r = 0; r < rows; r++) {
      float *row = out + (o * rows + r) * cols;
      if (bias.values != NULL) {
        const float *b = bias.values + o * bias.outer_stride + r * bias.row_stride;
        if (bias.col_stride == 1) {
          for (int64_t c = 0; c < cols; c++) row[c] += b[c];
        } else {
          for (int64_t c = 0; c < cols; c++) row[c] += b[c * bias.col_stride];
        }
      }
      if (activation == RB_LINEAR) continue;
      if (activation == RB_RELU) {
        for (int64_t c = 0; c < cols; c++) row[c] = row[c] < 0.0f ? 0.0f : row[c];
        continue;
      }
      const float *p = prelu.values == NULL ? NULL : prelu.values + o * prelu.outer_stride + r * prelu.row_stride;
      for (int64_t c = 0; c < cols; c++) {
        row[c] = activate(row[c], activation, leaky_alpha, p == NULL ? 0.0f : p[c * prelu.col_stride]);
      }
    }
  }
}

/* Sums in float64 in blocks of columns that stay in L1: exact enough for tens of thousands of
 * rows (conv bias gradients sum over batch × height × width). */
RB_VECTOR_CLONES
void rb_sum_rows(const float *x, float *out, int64_t rows, int64_t cols) {
  enum { BLOCK = 512 };
  double acc[BLOCK];
  for (int64_t c0 = 0; c0 < cols; c0 += BLOCK) {
    const int64_t width = cols - c0 < BLOCK ? cols - c0 : BLOCK;
    for (int64_t c = 0; c < width; c++) acc[c] = 0.0;
    for (int64_t r = 0; r < rows; r++) {
      const float *row = x + r * cols + c0;
      for (int64_t c = 0; c < width; c++) acc[c] += (double)row[c];
    }
    for (int64_t c = 0; c < width; c++) out[c0 + c] = (float)acc[c];
  }
}
