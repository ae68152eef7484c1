/* layers.c - the GEMM-free float layers (activation layers through act.c,
 * max-pooling, flatten, reshape, the VAE reparameterisation sample) and the
 * per-type dispatch of nn_layer_forward / nn_layer_backward. */
#include "nn_internal.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Max over each k x k window with stride s ('valid'); the first maximum of a
 * window (row-major) takes the gradient, as in PyTorch.  Comparisons are
 * written as selections (a > m ? a : m) so that they compile to max and
 * conditional moves: the winners are random, and branches would mispredict. */
/* The maximum of one 2x2 window (rows r0, r1, columns 2 ow and 2 ow + 1). */
static inline float pool2_max(const float *restrict r0, const float *restrict r1, int ow) {
  float m = r0[2 * ow];
  m = r0[2 * ow + 1] > m ? r0[2 * ow + 1] : m;
  m = r1[2 * ow] > m ? r1[2 * ow] : m;
  return r1[2 * ow + 1] > m ? r1[2 * ow + 1] : m;
}

/* 16 windows at once: a constant trip count and restrict pointers, which
 * gcc -O2 vectorizes (the stride-2 loads become shuffles); out of line, see
 * NN_NOINLINE. */
static NN_NOINLINE void pool2_max16(const float *restrict r0, const float *restrict r1,
                                    float *restrict o) {
  for (int u = 0; u < 16; u++) o[u] = pool2_max(r0, r1, u);
}

static void maxpool_forward(const nn_layer *L, float *out, const float *in, int n) {
  const int k = L->kernel, s = L->stride, H = L->in_h, W = L->in_w, Ho = L->out_h, Wo = L->out_w;
  const size_t planes = (size_t)L->in_c * n;
  if (k == 1 && s == 1) {
    memcpy(out, in, sizeof *out * planes * H * W);
    return;
  }
  for (size_t p = 0; p < planes; p++) {
    const float *im = in + p * H * W;
    float *o = out + p * Ho * Wo;
    if (k == 2 && s == 2) {
      for (int oh = 0; oh < Ho; oh++) {
        const float *r0 = im + (size_t)(2 * oh) * W, *r1 = r0 + W;
        float *orow = o + (size_t)oh * Wo;
        int ow = 0; /* blocks of 16 (vectorized by gcc -O2), then the tail */
        for (; ow + 16 <= Wo; ow += 16) pool2_max16(r0 + 2 * ow, r1 + 2 * ow, orow + ow);
        for (; ow < Wo; ow++) orow[ow] = pool2_max(r0, r1, ow);
      }
      continue;
    }
    for (int oh = 0; oh < Ho; oh++)
      for (int ow = 0; ow < Wo; ow++) {
        const float *w0 = im + (size_t)(oh * s) * W + ow * s;
        float m = w0[0];
        for (int i = 0; i < k; i++)
          for (int j = 0; j < k; j++) m = w0[(size_t)i * W + j] > m ? w0[(size_t)i * W + j] : m;
        o[(size_t)oh * Wo + ow] = m;
      }
  }
}

/* One 2x2 window of the backward pass: its gradient goes to the first
 * maximum in the order a, b, c, e (row-major), +0 to the other three.  The
 * winner is found with comparisons and bit operations only: the winners are
 * random, and branches here mispredicted half the time (5x slower). */
static inline void pool2_bwd_window(const float *restrict r0, const float *restrict r1,
                                    const float *restrict d, float *restrict d0, float *restrict d1,
                                    int ow) {
  const float a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], e = r1[2 * ow + 1];
  const float m1 = b > a ? b : a, m2 = c > m1 ? c : m1;
  const uint32_t s3 = e > m2, s2 = (c > m1) & ~s3 & 1u, s1 = (b > a) & ~(s2 | s3) & 1u;
  const uint32_t s0 = ~(s1 | s2 | s3) & 1u;
  uint32_t gb, o0, o1, o2, o3;
  memcpy(&gb, &d[ow], sizeof gb);
  o0 = gb & (0u - s0); /* the gradient where the flag is set, +0 elsewhere */
  o1 = gb & (0u - s1);
  o2 = gb & (0u - s2);
  o3 = gb & (0u - s3);
  memcpy(&d0[2 * ow], &o0, sizeof o0);
  memcpy(&d0[2 * ow + 1], &o1, sizeof o1);
  memcpy(&d1[2 * ow], &o2, sizeof o2);
  memcpy(&d1[2 * ow + 1], &o3, sizeof o3);
}

static NN_NOINLINE void pool2_bwd16(const float *restrict r0, const float *restrict r1,
                                    const float *restrict d, float *restrict d0,
                                    float *restrict d1) {
  for (int u = 0; u < 16; u++) pool2_bwd_window(r0, r1, d, d0, d1, u);
}

static void maxpool_backward(const nn_layer *L, float *din, const float *dout, const float *in,
                             int n) {
  const int k = L->kernel, s = L->stride, H = L->in_h, W = L->in_w, Ho = L->out_h, Wo = L->out_w;
  const size_t planes = (size_t)L->in_c * n;
  if (k == 1 && s == 1) {
    memcpy(din, dout, sizeof *din * planes * H * W);
    return;
  }
  if (k == 2 && s == 2) {
    /* disjoint windows: write each window's four gradients once, and zero
     * the odd last row/column that no window covers; no separate memset.
     * Blocks of 16 windows with a constant trip count, which gcc -O2
     * vectorizes (the stride-2 loads become shuffles), then a scalar tail. */
    for (size_t p = 0; p < planes; p++) {
      const float *im = in + p * H * W, *d = dout + p * Ho * Wo;
      float *di = din + p * H * W;
      for (int oh = 0; oh < Ho; oh++) {
        const float *r0 = im + (size_t)(2 * oh) * W, *r1 = r0 + W, *dr = d + (size_t)oh * Wo;
        float *d0 = di + (size_t)(2 * oh) * W, *d1 = d0 + W;
        int ow = 0;
        for (; ow + 16 <= Wo; ow += 16)
          pool2_bwd16(r0 + 2 * ow, r1 + 2 * ow, dr + ow, d0 + 2 * ow, d1 + 2 * ow);
        for (; ow < Wo; ow++) pool2_bwd_window(r0, r1, dr, d0, d1, ow);
        if (W > 2 * Wo) d0[W - 1] = d1[W - 1] = 0.0f;
      }
      if (H > 2 * Ho) memset(di + (size_t)(H - 1) * W, 0, sizeof *di * W);
    }
    return;
  }
  memset(din, 0, sizeof *din * planes * H * W);
  for (size_t p = 0; p < planes; p++) {
    const float *im = in + p * H * W;
    float *di = din + p * H * W;
    const float *d = dout + p * Ho * Wo;
    for (int oh = 0; oh < Ho; oh++)
      for (int ow = 0; ow < Wo; ow++) {
        size_t base = (size_t)(oh * s) * W + ow * s, best = base;
        for (int i = 0; i < k; i++)
          for (int j = 0; j < k; j++) {
            size_t q = base + (size_t)i * W + j;
            best = im[q] > im[best] ? q : best;
          }
        di[best] += d[(size_t)oh * Wo + ow];
      }
  }
}

/* (C,N,P) <-> (N, C*P): feature index c*P + p, PyTorch's NCHW flatten. */
static void flatten_cnp(float *flat, const float *sp, int C, int n, size_t P) {
  for (int c = 0; c < C; c++)
    for (int i = 0; i < n; i++)
      memcpy(flat + ((size_t)i * C + c) * P, sp + ((size_t)c * n + i) * P, sizeof *flat * P);
}
static void unflatten_cnp(float *sp, const float *flat, int C, int n, size_t P) {
  for (int c = 0; c < C; c++)
    for (int i = 0; i < n; i++)
      memcpy(sp + ((size_t)c * n + i) * P, flat + ((size_t)i * C + c) * P, sizeof *sp * P);
}

/* z = mu + exp(logvar/2) * eps; in (N, 2L) = [mu | logvar], out (N, L). */
static void sample_forward(const nn_layer *L, float *out, const float *in, const float *eps,
                           int n) {
  const int lat = L->out_c;
  for (int i = 0; i < n; i++) {
    const float *mu = in + (size_t)i * 2 * lat, *lv = mu + lat;
    const float *e = eps + (size_t)i * lat;
    float *z = out + (size_t)i * lat;
    for (int j = 0; j < lat; j++) z[j] = mu[j] + expf(0.5f * lv[j]) * e[j];
  }
}

/* d mu = dz; d logvar = dz * eps * exp(logvar/2) / 2.  (The KL term's own
 * gradient is added by the model, which owns the loss.) */
static void sample_backward(const nn_layer *L, float *din, const float *dout, const float *in,
                            const float *eps, int n) {
  const int lat = L->out_c;
  for (int i = 0; i < n; i++) {
    const float *lv = in + (size_t)i * 2 * lat + lat;
    const float *e = eps + (size_t)i * lat, *dz = dout + (size_t)i * lat;
    float *dmu = din + (size_t)i * 2 * lat, *dlv = dmu + lat;
    for (int j = 0; j < lat; j++) {
      dmu[j] = dz[j];
      dlv[j] = dz[j] * e[j] * 0.5f * expf(0.5f * lv[j]);
    }
  }
}

size_t nn_layer_work_floats(const nn_layer *L, int n) {
  if (L->type == NN_LAYER_CONV2D || L->type == NN_LAYER_CONV2D_T) return nn_conv_work_floats(L, n);
  return 0;
}

void nn_layer_forward(const nn_layer *L, const float *params, float *out, const float *in,
                      const float *aux, float *work, int n, nn_layer_prof *prof) {
  double t0 = prof ? dd_time_now() : 0.0;
  size_t count = (size_t)n * nn_layer_out_size(L);
  switch (L->type) {
    case NN_LAYER_CONV2D:
      nn_conv2d_forward(L, params, out, in, work, n, prof);
      break;
    case NN_LAYER_CONV2D_T:
      nn_tconv2d_forward(L, params, out, in, work, n, prof);
      break;
    case NN_LAYER_DENSE:
      nn_dense_forward(L, params, out, in, n, prof);
      break;
    case NN_LAYER_MAXPOOL:
      maxpool_forward(L, out, in, n);
      break;
    case NN_LAYER_LEAKY_RELU:
    case NN_LAYER_SIGMOID:
      memcpy(out, in, sizeof *out * count);
      nn_act_apply(L->act, L->alpha, out, count);
      break;
    case NN_LAYER_FLATTEN:
      flatten_cnp(out, in, L->in_c, n, (size_t)L->in_h * L->in_w);
      break;
    case NN_LAYER_RESHAPE:
      unflatten_cnp(out, in, L->out_c, n, (size_t)L->out_h * L->out_w);
      break;
    case NN_LAYER_SAMPLE:
      DD_ASSERT(aux != NULL);
      sample_forward(L, out, in, aux, n);
      break;
  }
  if (prof) {
    prof->t_fwd += dd_time_now() - t0;
    prof->calls_fwd++;
  }
}

void nn_layer_backward(const nn_layer *L, const float *params, float *grads, float *din,
                       float *dout, const float *in, const float *out, const float *aux,
                       float *work, int n, nn_layer_prof *prof) {
  double t0 = prof ? dd_time_now() : 0.0;
  size_t count = (size_t)n * nn_layer_out_size(L);
  switch (L->type) {
    case NN_LAYER_CONV2D:
      nn_conv2d_backward(L, params, grads, din, dout, in, out, work, n, prof);
      break;
    case NN_LAYER_CONV2D_T:
      nn_tconv2d_backward(L, params, grads, din, dout, in, out, work, n, prof);
      break;
    case NN_LAYER_DENSE:
      nn_dense_backward(L, params, grads, din, dout, in, out, n, prof);
      break;
    case NN_LAYER_MAXPOOL:
      if (din) maxpool_backward(L, din, dout, in, n);
      break;
    case NN_LAYER_LEAKY_RELU:
    case NN_LAYER_SIGMOID:
      if (din) nn_act_backward(L->act, L->alpha, din, dout, out, count);
      break;
    case NN_LAYER_FLATTEN:
      if (din) unflatten_cnp(din, dout, L->in_c, n, (size_t)L->in_h * L->in_w);
      break;
    case NN_LAYER_RESHAPE:
      if (din) flatten_cnp(din, dout, L->out_c, n, (size_t)L->out_h * L->out_w);
      break;
    case NN_LAYER_SAMPLE:
      DD_ASSERT(aux != NULL);
      if (din) sample_backward(L, din, dout, in, aux, n);
      break;
  }
  if (prof) {
    prof->t_bwd += dd_time_now() - t0;
    prof->calls_bwd++;
  }
}
