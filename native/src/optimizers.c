/*
 * tfjs 4.22's optimizers as one pass over all parameters. Each reproduces tfjs's sequence of
 * float32 operations (same operands, same order, each result rounded to float32, no fused
 * multiply-add: this file is compiled with -ffp-contract=off), so a step gives the same bits as
 * tfjs's dozen kernels per variable. New values go to `out` (a fresh tensor: tfjs never sees a
 * tensor's memory change, and wasm's XNNPACK caches weights by tensor id). The scalars are prepared by the caller exactly as tfjs
 * prepares its scalar tensors (see lib/training/fused-optimizer-math.ts, which also holds the
 * JavaScript version of each loop).
 */
#include <math.h>

#include "kernels.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define RB_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define RB_VECTOR_CLONES
#endif

int rb_optimizer_scalar_count(rb_optimizer kind) {
  switch (kind) {
    case RB_SGD: return 1;
    case RB_MOMENTUM: return 3;
    case RB_ADAM: return 8;
    case RB_ADAMAX: return 5;
    case RB_RMSPROP: return 6;
    case RB_ADAGRAD: return 2;
    case RB_ADADELTA: return 4;
  }
  return -1;
}

int rb_optimizer_slot_count(rb_optimizer kind) {
  switch (kind) {
    case RB_SGD: return 0;
    case RB_MOMENTUM: return 1;
    case RB_ADAM: return 2;
    case RB_ADAMAX: return 2;
    case RB_RMSPROP: return 3; /* the third (mean gradient) only when centered */
    case RB_ADAGRAD: return 1;
    case RB_ADADELTA: return 2;
  }
  return -1;
}

/* scalars: [-learningRate] */
RB_VECTOR_CLONES
static void sgd(const float *restrict value, float *restrict out, const float *restrict grad, int64_t count, const float *s) {
  const float neg_lr = s[0];
  for (int64_t i = 0; i < count; i++) out[i] = neg_lr * grad[i] + value[i];
}

/* scalars: [-learningRate, momentum, useNesterov]; slot0: accumulation */
RB_VECTOR_CLONES
static void momentum(const float *restrict value, float *restrict out, const float *restrict grad, float *restrict acc, int64_t count,
                     const float *s) {
  const float neg_lr = s[0], m = s[1];
  if (s[2] != 0.0f) {
    for (int64_t i = 0; i < count; i++) {
      const float next = m * acc[i] + grad[i];
      acc[i] = next;
      out[i] = neg_lr * (grad[i] + next * m) + value[i];
    }
  } else {
    for (int64_t i = 0; i < count; i++) {
      const float next = m * acc[i] + grad[i];
      acc[i] = next;
      out[i] = neg_lr * next + value[i];
    }
  }
}

/* scalars: [beta1, 1-beta1, beta2, 1-beta2, 1-accBeta1, 1-accBeta2, epsilon, -learningRate];
 * slot0: first moment, slot1: second moment */
RB_VECTOR_CLONES
static void adam(const float *restrict value, float *restrict out, const float *restrict grad, float *restrict m, float *restrict v,
                 int64_t count, const float *s) {
  const float b1 = s[0], omb1 = s[1], b2 = s[2], omb2 = s[3], omab1 = s[4], omab2 = s[5], eps = s[6], neg_lr = s[7];
  for (int64_t i = 0; i < count; i++) {
    const float g = grad[i];
    const float m1 = m[i] * b1 + g * omb1;
    const float v1 = v[i] * b2 + (g * g) * omb2;
    m[i] = m1;
    v[i] = v1;
    const float corrected_m = m1 / omab1;
    const float corrected_v = v1 / omab2;
    out[i] = (corrected_m / (sqrtf(corrected_v) + eps)) * neg_lr + value[i];
  }
}

/* scalars: [beta1, 1-beta1, beta2, (-lr / (iteration·decay + 1)) / (1-accBeta1), epsilon];
 * slot0: first moment, slot1: weighted infinity norm */
RB_VECTOR_CLONES
static void adamax(const float *restrict value, float *restrict out, const float *restrict grad, float *restrict m, float *restrict u,
                   int64_t count, const float *s) {
  const float b1 = s[0], omb1 = s[1], b2 = s[2], step = s[3], eps = s[4];
  for (int64_t i = 0; i < count; i++) {
    const float g = grad[i];
    const float m1 = m[i] * b1 + g * omb1;
    const float decayed = u[i] * b2;
    const float magnitude = fabsf(g);
    /* tfjs's maximum: NaN wins. */
    const float u1 = (decayed != decayed || magnitude != magnitude) ? NAN : (decayed > magnitude ? decayed : magnitude);
    m[i] = m1;
    u[i] = u1;
    out[i] = step * (m1 / (u1 + eps)) + value[i];
  }
}

/* scalars: [decay, 1-decay, momentum, learningRate, epsilon, centered];
 * slot0: mean square, slot1: moment, slot2: mean gradient (centered only) */
RB_VECTOR_CLONES
static void rmsprop(const float *restrict value, float *restrict out, const float *restrict grad, float *restrict ms, float *restrict mom,
                    float *restrict mg, int64_t count, const float *s) {
  const float decay = s[0], omd = s[1], momentum_ = s[2], lr = s[3], eps = s[4];
  if (s[5] != 0.0f) {
    for (int64_t i = 0; i < count; i++) {
      const float g = grad[i];
      const float ms1 = ms[i] * decay + (g * g) * omd;
      const float mg1 = mg[i] * decay + g * omd;
      const float contribution = (g * lr) / sqrtf(ms1 - (mg1 * mg1 + eps));
      const float mom1 = mom[i] * momentum_ + contribution;
      ms[i] = ms1;
      mg[i] = mg1;
      mom[i] = mom1;
      out[i] = value[i] - mom1;
    }
  } else {
    for (int64_t i = 0; i < count; i++) {
      const float g = grad[i];
      const float ms1 = ms[i] * decay + (g * g) * omd;
      const float mom1 = mom[i] * momentum_ + (g * lr) / sqrtf(ms1 + eps);
      ms[i] = ms1;
      mom[i] = mom1;
      out[i] = value[i] - mom1;
    }
  }
}

/* scalars: [epsilon, -learningRate]; slot0: accumulated squared gradients */
RB_VECTOR_CLONES
static void adagrad(const float *restrict value, float *restrict out, const float *restrict grad, float *restrict acc, int64_t count,
                    const float *s) {
  const float eps = s[0], neg_lr = s[1];
  for (int64_t i = 0; i < count; i++) {
    const float g = grad[i];
    const float acc1 = acc[i] + g * g;
    acc[i] = acc1;
    out[i] = (g / sqrtf(acc1 + eps)) * neg_lr + value[i];
  }
}

/* scalars: [rho, 1-rho, epsilon, -learningRate]; slot0: accumulated gradients, slot1: accumulated
 * updates. As in tfjs, the update uses the accumulated gradients from before this step. */
RB_VECTOR_CLONES
static void adadelta(const float *restrict value, float *restrict out, const float *restrict grad, float *restrict acc_grad,
                     float *restrict acc_update, int64_t count, const float *s) {
  const float rho = s[0], omr = s[1], eps = s[2], neg_lr = s[3];
  for (int64_t i = 0; i < count; i++) {
    const float g = grad[i];
    const float acc_grad1 = acc_grad[i] * rho + (g * g) * omr;
    const float update = (sqrtf(acc_update[i] + eps) / sqrtf(acc_grad[i] + eps)) * g;
    const float acc_update1 = acc_update[i] * rho + (update * update) * omr;
    acc_grad[i] = acc_grad1;
    acc_update[i] = acc_update1;
    out[i] = update * neg_lr + value[i];
  }
}

void rb_optimizer_step(rb_optimizer kind, const float *value, float *out, const float *grad, float *slot0, float *slot1,
                       float *slot2, int64_t count, const float *scalars) {
  switch (kind) {
    case RB_SGD: sgd(value, out, grad, count, scalars); return;
    case RB_MOMENTUM: momentum(value, out, grad, slot0, count, scalars); return;
    case RB_ADAM: adam(value, out, grad, slot0, slot1, count, scalars); return;
    case RB_ADAMAX: adamax(value, out, grad, slot0, slot1, count, scalars); return;
    case RB_RMSPROP: rmsprop(value, out, grad, slot0, slot1, slot2, count, scalars); return;
    case RB_ADAGRAD: adagrad(value, out, grad, slot0, count, scalars); return;
    case RB_ADADELTA: adadelta(value, out, grad, slot0, slot1, count, scalars); return;
  }
}
