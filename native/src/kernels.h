/*
 * ringbook's native CPU kernels: float32 arithmetic on plain pointers, no N-API here (addon.c
 * checks every pointer range against the memory it points into before calling these).
 *
 * Shapes follow tfjs: row-major, NHWC images, filters [filterHeight, filterWidth, inChannels,
 * outChannels]. Matrix products go through OpenBLAS's cblas_sgemm on the calling thread.
 */
#ifndef RINGBOOK_KERNELS_H
#define RINGBOOK_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* OpenBLAS, declared here rather than through a cblas.h (Debian's may be netlib's or OpenBLAS's,
 * and only OpenBLAS's declares the openblas_* functions). 32-bit integers: the LP64 build. */
enum { RB_ROW_MAJOR = 101, RB_NO_TRANS = 111, RB_TRANS = 112 };
void cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc);
void openblas_set_num_threads(int threads);
int openblas_get_num_threads(void);
char *openblas_get_config(void);
char *openblas_get_corename(void);

/* ---- matmul.c ---- */

/** C = op(A) · op(B) for one matrix: op(A) is m×k, op(B) k×n, C m×n, all densely packed. */
void rb_gemm(int trans_a, int trans_b, int m, int n, int k, const float *a, const float *b, float *c);

/** Activations of tfjs's fused kernels (backend_util.FusableActivation order is not relied on). */
typedef enum {
  RB_LINEAR = 0,
  RB_RELU = 1,
  RB_RELU6 = 2,
  RB_ELU = 3,
  RB_LEAKYRELU = 4,
  RB_PRELU = 5,
  RB_SIGMOID = 6,
} rb_activation;

/**
 * A broadcast operand of an epilogue over an output seen as [outer, rows, cols]: element
 * (o, r, c) is `values[o*outer_stride + r*row_stride + c*col_stride]` (a stride is 0 along a
 * broadcast dimension).
 */
typedef struct {
  const float *values; /* NULL: absent */
  int64_t outer_stride, row_stride, col_stride;
} rb_broadcast;

/** out = activation(out + bias), in place, over [outer, rows, cols]. */
void rb_epilogue(float *out, int64_t outer, int64_t rows, int64_t cols, rb_broadcast bias, rb_activation activation,
                 float leaky_alpha, rb_broadcast prelu);


/** out[c] = Σ_r x[r, c] for x of [rows, cols] (the bias gradient: a sum over all leading axes). */
void rb_sum_rows(const float *x, float *out, int64_t rows, int64_t cols);

/* ---- elementwise.c ---- */

/** out[r, c] = x[r, c] + row[c] for x of [rows, cols] (a bias added in training, unfused). */
void rb_add_rows(const float *x, const float *row, float *out, int64_t rows, int64_t cols);
/** out = dy · step(x): ReLU's gradient, with tfjs's step (NaN stays NaN). */
void rb_relu_grad(const float *dy, const float *x, float *out, int64_t count);

/* ---- conv.c ---- */

/** The geometry of a 2-D NHWC convolution (or pooling window) with its padding resolved. */
typedef struct {
  int batch, in_h, in_w, in_c;
  int out_h, out_w, out_c;
  int filter_h, filter_w;
  int stride_h, stride_w;
  int dilation_h, dilation_w;
  int pad_top, pad_left;
} rb_conv_geometry;

/** y = conv2d(x, w); returns 0, or -1 when scratch memory could not be allocated. */
int rb_conv2d(const float *x, const float *w, float *y, const rb_conv_geometry *g);
/** dx = the gradient of conv2d with respect to x; 0 or -1 (no memory). */
int rb_conv2d_backprop_input(const float *dy, const float *w, float *dx, const rb_conv_geometry *g);
/** dw = the gradient of conv2d with respect to w; 0 or -1 (no memory). */
int rb_conv2d_backprop_filter(const float *x, const float *dy, float *dw, const rb_conv_geometry *g);

/** dx of max pooling: each window's dy goes to its first maximum (row-major), as tfjs's cpu
 * backend; 0 or -1 (no memory). */
int rb_max_pool_grad(const float *dy, const float *x, float *dx, const rb_conv_geometry *g);

/* ---- optimizers.c ---- */

/** The optimizers of tfjs 4.22, each reproduced operation by operation in float32. */
typedef enum {
  RB_SGD = 0,
  RB_MOMENTUM = 1,
  RB_ADAM = 2,
  RB_ADAMAX = 3,
  RB_RMSPROP = 4,
  RB_ADAGRAD = 5,
  RB_ADADELTA = 6,
} rb_optimizer;

/** Number of float32 scalars each optimizer's step reads (see optimizers.c for their order). */
int rb_optimizer_scalar_count(rb_optimizer kind);
/** Number of state slots (arrays the size of the parameters) each optimizer keeps. */
int rb_optimizer_slot_count(rb_optimizer kind);

/**
 * One step over `count` parameters: new values from `value` and `grad` into `out` (another
 * array), the slots (each `count` long, NULL past the optimizer's slot count) updated in place.
 * `scalars` as documented per kind in optimizers.c.
 */
void rb_optimizer_step(rb_optimizer kind, const float *value, float *out, const float *grad, float *slot0, float *slot1,
                       float *slot2, int64_t count, const float *scalars);

#endif
