/*
 * 2-D NHWC convolutions as matrix products (im2col + sgemm), and the max-pooling gradient.
 *
 * The patch matrix ("col") has one row per output pixel (n, oh, ow) and one column per filter tap
 * and input channel (kh, kw, c): exactly the filter's [fh, fw, in_c, out_c] layout seen as a
 * [fh·fw·in_c, out_c] matrix, so
 *   forward:          y[rows, out_c]   = col[rows, K] · w[K, out_c]
 *   input gradient:   dcol[rows, K]    = dy[rows, out_c] · wᵀ, then scattered back (col2im)
 *   filter gradient:  dw[K, out_c]    += colᵀ · dy[rows, out_c]
 * Images are processed in chunks whose patch matrix fits a few megabytes (it stays in cache
 * between being written and being read by sgemm); a 1×1 filter with stride 1 and no padding
 * needs no patch matrix at all.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define RB_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define RB_VECTOR_CLONES
#endif

/** Upper bound of one chunk's patch matrix, in floats (4 MiB). */
#define RB_COL_CHUNK_FLOATS (1 << 20)

static int64_t patch_columns(const rb_conv_geometry *g) { return (int64_t)g->filter_h * g->filter_w * g->in_c; }

static int64_t rows_per_image(const rb_conv_geometry *g) { return (int64_t)g->out_h * g->out_w; }

/** Whether the patch matrix of an image is the image itself. */
static int is_pointwise(const rb_conv_geometry *g) {
  return g->filter_h == 1 && g->filter_w == 1 && g->stride_h == 1 && g->stride_w == 1 && g->pad_top == 0 &&
         g->pad_left == 0 && g->out_h == g->in_h && g->out_w == g->in_w;
}

static int images_per_chunk(const rb_conv_geometry *g) {
  const int64_t per_image = rows_per_image(g) * patch_columns(g);
  int64_t images = per_image > 0 ? RB_COL_CHUNK_FLOATS / per_image : g->batch;
  if (images < 1) images = 1;
  if (images > g->batch) images = g->batch;
  return (int)images;
}

/** The patch matrix of images [n0, n0 + count) into `col`. */
static void im2col(const float *x, float *col, const rb_conv_geometry *g, int n0, int count) {
  const int64_t k = patch_columns(g);
  const int c = g->in_c;
  for (int n = n0; n < n0 + count; n++) {
    const float *image = x + (int64_t)n * g->in_h * g->in_w * c;
    for (int oh = 0; oh < g->out_h; oh++) {
      for (int ow = 0; ow < g->out_w; ow++) {
        float *row = col + (((int64_t)(n - n0) * g->out_h + oh) * g->out_w + ow) * k;
        for (int kh = 0; kh < g->filter_h; kh++) {
          const int ih = oh * g->stride_h - g->pad_top + kh * g->dilation_h;
          float *dst = row + (int64_t)kh * g->filter_w * c;
          if (ih < 0 || ih >= g->in_h) {
            memset(dst, 0, (size_t)g->filter_w * (size_t)c * sizeof(float));
            continue;
          }
          const float *src_row = image + (int64_t)ih * g->in_w * c;
          const int iw0 = ow * g->stride_w - g->pad_left;
          if (g->dilation_w == 1 && iw0 >= 0 && iw0 + g->filter_w <= g->in_w) {
            /* The whole filter row is inside the image: one contiguous copy. */
            memcpy(dst, src_row + (int64_t)iw0 * c, (size_t)g->filter_w * (size_t)c * sizeof(float));
            continue;
          }
          for (int kw = 0; kw < g->filter_w; kw++) {
            const int iw = iw0 + kw * g->dilation_w;
            float *tap = dst + (int64_t)kw * c;
            if (iw < 0 || iw >= g->in_w) {
              memset(tap, 0, (size_t)c * sizeof(float));
            } else {
              memcpy(tap, src_row + (int64_t)iw * c, (size_t)c * sizeof(float));
            }
          }
        }
      }
    }
  }
}

/** Adds the patch-matrix gradient of images [n0, n0 + count) back into the image gradient. */
static void col2im_add(const float *col, float *dx, const rb_conv_geometry *g, int n0, int count) {
  const int64_t k = patch_columns(g);
  const int c = g->in_c;
  for (int n = n0; n < n0 + count; n++) {
    float *image = dx + (int64_t)n * g->in_h * g->in_w * c;
    for (int oh = 0; oh < g->out_h; oh++) {
      for (int ow = 0; ow < g->out_w; ow++) {
        const float *row = col + (((int64_t)(n - n0) * g->out_h + oh) * g->out_w + ow) * k;
        for (int kh = 0; kh < g->filter_h; kh++) {
          const int ih = oh * g->stride_h - g->pad_top + kh * g->dilation_h;
          if (ih < 0 || ih >= g->in_h) continue;
          float *dst_row = image + (int64_t)ih * g->in_w * c;
          const float *src = row + (int64_t)kh * g->filter_w * c;
          for (int kw = 0; kw < g->filter_w; kw++) {
            const int iw = ow * g->stride_w - g->pad_left + kw * g->dilation_w;
            if (iw < 0 || iw >= g->in_w) continue;
            float *dst = dst_row + (int64_t)iw * c;
            const float *tap = src + (int64_t)kw * c;
            for (int ch = 0; ch < c; ch++) dst[ch] += tap[ch];
          }
        }
      }
    }
  }
}

int rb_conv2d(const float *x, const float *w, float *y, const rb_conv_geometry *g) {
  const int64_t rows_image = rows_per_image(g);
  const int64_t k = patch_columns(g);
  if (g->batch == 0 || rows_image == 0 || g->out_c == 0) return 0;
  if (is_pointwise(g)) {
    rb_gemm(0, 0, (int)(g->batch * rows_image), g->out_c, (int)k, x, w, y);
    return 0;
  }
  const int chunk = images_per_chunk(g);
  float *col = malloc((size_t)chunk * (size_t)rows_image * (size_t)k * sizeof(float));
  if (col == NULL) return -1;
  for (int n0 = 0; n0 < g->batch; n0 += chunk) {
    const int count = g->batch - n0 < chunk ? g->batch - n0 : chunk;
    im2col(x, col, g, n0, count);
    rb_gemm(0, 0, (int)(count * rows_image), g->out_c, (int)k, col, w, y + (int64_t)n0 * rows_image * g->out_c);
  }
  free(col);
  return 0;
}

int rb_conv2d_backprop_input(const float *dy, const float *w, float *dx, const rb_conv_geometry *g) {
  const int64_t rows_image = rows_per_image(g);
  const int64_t k = patch_columns(g);
  const size_t dx_floats = (size_t)g->batch * (size_t)g->in_h * (size_t)g->in_w * (size_t)g->in_c;
  if (is_pointwise(g)) {
    rb_gemm(0, 1, (int)(g->batch * rows_image), g->in_c, g->out_c, dy, w, dx);
    return 0;
  }
  memset(dx, 0, dx_floats * sizeof(float));
  if (g->batch == 0 || rows_image == 0 || k == 0) return 0;
  const int chunk = images_per_chunk(g);
  float *col = malloc((size_t)chunk * (size_t)rows_image * (size_t)k * sizeof(float));
  if (col == NULL) return -1;
  for (int n0 = 0; n0 < g->batch; n0 += chunk) {
    const int count = g->batch - n0 < chunk ? g->batch - n0 : chunk;
    rb_gemm(0, 1, (int)(count * rows_image), (int)k, g->out_c, dy + (int64_t)n0 * rows_image * g->out_c, w, col);
    col2im_add(col, dx, g, n0, count);
  }
  free(col);
  return 0;
}

int rb_conv2d_backprop_filter(const float *x, const float *dy, float *dw, const rb_conv_geometry *g) {
  const int64_t rows_image = rows_per_image(g);
  const int64_t k = patch_columns(g);
  if (k == 0 || g->out_c == 0) return 0;
  if (g->batch == 0 || rows_image == 0) {
    memset(dw, 0, (size_t)k * (size_t)g->out_c * sizeof(float));
    return 0;
  }
  if (is_pointwise(g)) {
    rb_gemm(1, 0, (int)k, g->out_c, (int)(g->batch * rows_image), x, dy, dw);
    return 0;
  }
  const int chunk = images_per_chunk(g);
  float *col = malloc((size_t)chunk * (size_t)rows_image * (size_t)k * sizeof(float));
  if (col == NULL) return -1;
  for (int n0 = 0; n0 < g->batch; n0 += chunk) {
    const int count = g->batch - n0 < chunk ? g->batch - n0 : chunk;
    im2col(x, col, g, n0, count);
    /* The first chunk overwrites dw, later ones add to it. */
    cblas_sgemm(RB_ROW_MAJOR, RB_TRANS, RB_NO_TRANS, (int)k, g->out_c, (int)(count * rows_image), 1.0f, col, (int)k,
                dy + (int64_t)n0 * rows_image * g->out_c, g->out_c, n0 == 0 ? 0.0f : 1.0f, dw, g->out_c);
  }
  free(col);
  return 0;
}

/** Windows that tile the image without overlap: each input pixel is in at most one window. */
static int pool_windows_tile(const rb_conv_geometry *g) {
  return g->dilation_h == 1 && g->dilation_w == 1 && g->pad_top == 0 && g->pad_left == 0 && g->stride_h == g->filter_h &&
         g->stride_w == g->filter_w && (int64_t)g->out_h * g->stride_h <= g->in_h && (int64_t)g->out_w * g->stride_w <= g->in_w;
}

/** Per channel: the first strict maximum of a window (as tfjs's maxPoolPositions: starting below
 * every number, so a NaN is never chosen), as its position in the window (-1: none). */
RB_VECTOR_CLONES
static void window_argmax(const float *restrict image, const rb_conv_geometry *g, int oh, int ow, float *restrict best,
                          int32_t *restrict best_at) {
  const int c = g->in_c;
  for (int ch = 0; ch < c; ch++) {
    best[ch] = -INFINITY;
    best_at[ch] = -1;
  }
  for (int kh = 0; kh < g->filter_h; kh++) {
    const int ih = oh * g->stride_h - g->pad_top + kh * g->dilation_h;
    if (ih < 0 || ih >= g->in_h) continue;
    for (int kw = 0; kw < g->filter_w; kw++) {
      const int iw = ow * g->stride_w - g->pad_left + kw * g->dilation_w;
      if (iw < 0 || iw >= g->in_w) continue;
      const float *pixel = image + ((int64_t)ih * g->in_w + iw) * c;
      const int32_t position = kh * g->filter_w + kw;
      for (int ch = 0; ch < c; ch++) {
        const int greater = pixel[ch] > best[ch];
        best[ch] = greater ? pixel[ch] : best[ch];
        best_at[ch] = greater ? position : best_at[ch];
      }
    }
  }
}

/** dx of one window: dy where the window's maximum is, 0 (tiling windows) or nothing (overlapping) elsewhere. */
RB_VECTOR_CLONES
static void window_scatter(float *restrict grad, const float *restrict dy_pixel, const int32_t *restrict best_at,
                           const rb_conv_geometry *g, int oh, int ow, int tiles) {
  const int c = g->in_c;
  for (int kh = 0; kh < g->filter_h; kh++) {
    const int ih = oh * g->stride_h - g->pad_top + kh * g->dilation_h;
    if (ih < 0 || ih >= g->in_h) continue;
    for (int kw = 0; kw < g->filter_w; kw++) {
      const int iw = ow * g->stride_w - g->pad_left + kw * g->dilation_w;
      if (iw < 0 || iw >= g->in_w) continue;
      float *target = grad + ((int64_t)ih * g->in_w + iw) * c;
      const int32_t position = kh * g->filter_w + kw;
      if (tiles) {
        for (int ch = 0; ch < c; ch++) target[ch] = best_at[ch] == position ? dy_pixel[ch] : 0.0f;
      } else {
        for (int ch = 0; ch < c; ch++) target[ch] += best_at[ch] == position ? dy_pixel[ch] : 0.0f;
      }
    }
  }
}

int rb_max_pool_grad(const float *dy, const float *x, float *dx, const rb_conv_geometry *g) {
  const int c = g->in_c;
  const int tiles = pool_windows_tile(g);
  const int64_t image_floats = (int64_t)g->in_h * g->in_w * c;
  /* A row of windows' maxima first, then their gradients: reading x and writing dx at the same
   * offsets in one loop stalled on 4K aliasing (false store-to-load dependencies), 10x slower. */
  float *best = malloc((size_t)c * sizeof(float));
  int32_t *best_at = malloc((size_t)g->out_w * (size_t)c * sizeof(int32_t));
  if ((best == NULL || best_at == NULL) && c > 0 && g->out_w > 0) {
    free(best);
    free(best_at);
    return -1;
  }
  for (int n = 0; n < g->batch; n++) {
    const float *image = x + (int64_t)n * image_floats;
    float *grad = dx + (int64_t)n * image_floats;
    if (tiles) {
      /* Every covered pixel is written once below; only the rows and columns no window covers
       * (when the size is not a multiple of the stride) need zeros. */
      const int covered_h = g->out_h * g->stride_h;
      const int covered_w = g->out_w * g->stride_w;
      if (covered_h < g->in_h) memset(grad + (int64_t)covered_h * g->in_w * c, 0, (size_t)(g->in_h - covered_h) * g->in_w * c * sizeof(float));
      if (covered_w < g->in_w) {
        for (int ih = 0; ih < covered_h; ih++) {
          memset(grad + ((int64_t)ih * g->in_w + covered_w) * c, 0, (size_t)(g->in_w - covered_w) * c * sizeof(float));
        }
      }
    } else {
      memset(grad, 0, (size_t)image_floats * sizeof(float));
    }
    for (int oh = 0; oh < g->out_h; oh++) {
      for (int ow = 0; ow < g->out_w; ow++) window_argmax(image, g, oh, ow, best, best_at + (int64_t)ow * c);
      for (int ow = 0; ow < g->out_w; ow++) {
        const float *dy_pixel = dy + (((int64_t)n * g->out_h + oh) * g->out_w + ow) * c;
        window_scatter(grad, dy_pixel, best_at + (int64_t)ow * c, g, oh, ow, tiles);
      }
    }
  }
  free(best);
  free(best_at);
  return 0;
}
