/* ref.c - the naive twins of every layer in double precision, written from
 * the definitions (direct convolution and transposed-convolution sums, no
 * im2col, no GEMM), and a whole-model loss and gradient through them.  The
 * tests check these against central finite differences in double and then
 * the optimised float kernels against these (docs/nn.md "Testing"). */
#include "nn_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double act_f(nn_act a, double alpha, double x) {
  if (a == NN_ACT_LEAKY_RELU) return x > 0 ? x : alpha * x;
  if (a == NN_ACT_SIGMOID) return 1.0 / (1.0 + exp(-x));
  return x;
}
/* derivative expressed through the output y */
static double act_d(nn_act a, double alpha, double y) {
  if (a == NN_ACT_LEAKY_RELU) return y > 0 ? 1.0 : alpha;
  if (a == NN_ACT_SIGMOID) return y * (1.0 - y);
  return 1.0;
}

/* index into a (C,N,H,W) tensor */
static size_t ix(int c, int i, int h, int w, int n, int H, int W) {
  return (((size_t)c * n + i) * H + h) * W + w;
}

static void conv_fwd(const nn_layer *L, const double *P, double *out, const double *in, int n) {
  const int k = L->kernel, s = L->stride, Ci = L->in_c, H = L->in_h, W = L->in_w;
  const double *w = P + L->w_off, *b = P + L->b_off;
  for (int co = 0; co < L->out_c; co++)
    for (int i = 0; i < n; i++)
      for (int oh = 0; oh < L->out_h; oh++)
        for (int ow = 0; ow < L->out_w; ow++) {
          double acc = b[co];
          for (int ci = 0; ci < Ci; ci++)
            for (int kh = 0; kh < k; kh++)
              for (int kw = 0; kw < k; kw++) {
                int h = oh * s + kh - L->pad_h, x = ow * s + kw - L->pad_w;
                if (h < 0 || h >= H || x < 0 || x >= W) continue;
                acc += w[((size_t)(co * Ci + ci) * k + kh) * k + kw] * in[ix(ci, i, h, x, n, H, W)];
              }
          out[ix(co, i, oh, ow, n, L->out_h, L->out_w)] = act_f(L->act, L->alpha, acc);
        }
}

static void conv_bwd(const nn_layer *L, const double *P, double *G, double *din, const double *dout,
                     const double *in, const double *out, int n) {
  const int k = L->kernel, s = L->stride, Ci = L->in_c, H = L->in_h, W = L->in_w;
  const double *w = P + L->w_off;
  double *dw = G + L->w_off, *db = G + L->b_off;
  if (din) memset(din, 0, sizeof *din * (size_t)Ci * n * H * W);
  for (int co = 0; co < L->out_c; co++)
    for (int i = 0; i < n; i++)
      for (int oh = 0; oh < L->out_h; oh++)
        for (int ow = 0; ow < L->out_w; ow++) {
          size_t o = ix(co, i, oh, ow, n, L->out_h, L->out_w);
          double d = dout[o] * act_d(L->act, L->alpha, out[o]);
          db[co] += d;
          for (int ci = 0; ci < Ci; ci++)
            for (int kh = 0; kh < k; kh++)
              for (int kw = 0; kw < k; kw++) {
                int h = oh * s + kh - L->pad_h, x = ow * s + kw - L->pad_w;
                if (h < 0 || h >= H || x < 0 || x >= W) continue;
                size_t wi = ((size_t)(co * Ci + ci) * k + kh) * k + kw;
                size_t q = ix(ci, i, h, x, n, H, W);
                dw[wi] += d * in[q];
                if (din) din[q] += d * w[wi];
              }
        }
}

/* Transposed convolution by its definition: every input pixel scatters
 * in * W[ci][co] onto the output at (ih*s + kh - ph, iw*s + kw - pw). */
static void tconv_fwd(const nn_layer *L, const double *P, double *out, const double *in, int n) {
  const int k = L->kernel, s = L->stride, Co = L->out_c, Ho = L->out_h, Wo = L->out_w;
  const double *w = P + L->w_off, *b = P + L->b_off;
  for (int co = 0; co < Co; co++)
    for (int i = 0; i < n; i++)
      for (int p = 0; p < Ho * Wo; p++) out[((size_t)co * n + i) * Ho * Wo + p] = b[co];
  for (int ci = 0; ci < L->in_c; ci++)
    for (int i = 0; i < n; i++)
      for (int ih = 0; ih < L->in_h; ih++)
        for (int iw = 0; iw < L->in_w; iw++) {
          double v = in[ix(ci, i, ih, iw, n, L->in_h, L->in_w)];
          for (int co = 0; co < Co; co++)
            for (int kh = 0; kh < k; kh++)
              for (int kw = 0; kw < k; kw++) {
                int oh = ih * s + kh - L->pad_h, ow = iw * s + kw - L->pad_w;
                if (oh < 0 || oh >= Ho || ow < 0 || ow >= Wo) continue;
                out[ix(co, i, oh, ow, n, Ho, Wo)] +=
                    v * w[((size_t)(ci * Co + co) * k + kh) * k + kw];
              }
        }
  size_t count = (size_t)Co * n * Ho * Wo;
  for (size_t q = 0; q < count; q++) out[q] = act_f(L->act, L->alpha, out[q]);
}

static void tconv_bwd(const nn_layer *L, const double *P, double *G, double *din,
                      const double *dout, const double *in, const double *out, int n) {
  const int k = L->kernel, s = L->stride, Co = L->out_c, Ho = L->out_h, Wo = L->out_w;
  const double *w = P + L->w_off;
  double *dw = G + L->w_off, *db = G + L->b_off;
  for (int co = 0; co < Co; co++)
    for (int i = 0; i < n; i++)
      for (int p = 0; p < Ho * Wo; p++) {
        size_t q = ((size_t)co * n + i) * Ho * Wo + p;
        db[co] += dout[q] * act_d(L->act, L->alpha, out[q]);
      }
  for (int ci = 0; ci < L->in_c; ci++)
    for (int i = 0; i < n; i++)
      for (int ih = 0; ih < L->in_h; ih++)
        for (int iw = 0; iw < L->in_w; iw++) {
          size_t qi = ix(ci, i, ih, iw, n, L->in_h, L->in_w);
          double acc = 0.0;
          for (int co = 0; co < Co; co++)
            for (int kh = 0; kh < k; kh++)
              for (int kw = 0; kw < k; kw++) {
                int oh = ih * s + kh - L->pad_h, ow = iw * s + kw - L->pad_w;
                if (oh < 0 || oh >= Ho || ow < 0 || ow >= Wo) continue;
                size_t qo = ix(co, i, oh, ow, n, Ho, Wo);
                double d = dout[qo] * act_d(L->act, L->alpha, out[qo]);
                size_t wi = ((size_t)(ci * Co + co) * k + kh) * k + kw;
                dw[wi] += d * in[qi];
                acc += d * w[wi];
              }
          if (din) din[qi] = acc;
        }
}

static void dense_fwd(const nn_layer *L, const double *P, double *out, const double *in, int n) {
  const int F = L->in_c, O = L->out_c;
  for (int i = 0; i < n; i++)
    for (int o = 0; o < O; o++) {
      double acc = P[L->b_off + o];
      for (int f = 0; f < F; f++) acc += P[L->w_off + (size_t)o * F + f] * in[(size_t)i * F + f];
      out[(size_t)i * O + o] = act_f(L->act, L->alpha, acc);
    }
}

static void dense_bwd(const nn_layer *L, const double *P, double *G, double *din,
                      const double *dout, const double *in, const double *out, int n) {
  const int F = L->in_c, O = L->out_c;
  if (din) memset(din, 0, sizeof *din * (size_t)n * F);
  for (int i = 0; i < n; i++)
    for (int o = 0; o < O; o++) {
      size_t q = (size_t)i * O + o;
      double d = dout[q] * act_d(L->act, L->alpha, out[q]);
      G[L->b_off + o] += d;
      for (int f = 0; f < F; f++) {
        G[L->w_off + (size_t)o * F + f] += d * in[(size_t)i * F + f];
        if (din) din[(size_t)i * F + f] += d * P[L->w_off + (size_t)o * F + f];
      }
    }
}

static void pool_fwd_bwd(const nn_layer *L, double *out, double *din, const double *dout,
                         const double *in, int n) {
  const int k = L->kernel, s = L->stride, H = L->in_h, W = L->in_w;
  if (din) memset(din, 0, sizeof *din * (size_t)L->in_c * n * H * W);
  for (int c = 0; c < L->in_c; c++)
    for (int i = 0; i < n; i++)
      for (int oh = 0; oh < L->out_h; oh++)
        for (int ow = 0; ow < L->out_w; ow++) {
          size_t best = ix(c, i, oh * s, ow * s, n, H, W);
          for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++) {
              size_t q = ix(c, i, oh * s + a, ow * s + b, n, H, W);
              if (in[q] > in[best]) best = q;
            }
          size_t o = ix(c, i, oh, ow, n, L->out_h, L->out_w);
          if (out) out[o] = in[best];
          if (din) din[best] += dout[o];
        }
}

void nn_ref_layer_forward(const nn_layer *L, const double *params, double *out, const double *in,
                          const double *eps, int n) {
  const size_t count = (size_t)n * nn_layer_out_size(L);
  switch (L->type) {
    case NN_LAYER_CONV2D:
      conv_fwd(L, params, out, in, n);
      break;
    case NN_LAYER_CONV2D_T:
      tconv_fwd(L, params, out, in, n);
      break;
    case NN_LAYER_DENSE:
      dense_fwd(L, params, out, in, n);
      break;
    case NN_LAYER_MAXPOOL:
      pool_fwd_bwd(L, out, NULL, NULL, in, n);
      break;
    case NN_LAYER_LEAKY_RELU:
    case NN_LAYER_SIGMOID:
      for (size_t q = 0; q < count; q++) out[q] = act_f(L->act, L->alpha, in[q]);
      break;
    case NN_LAYER_FLATTEN: {
      const int C = L->in_c, HW = L->in_h * L->in_w;
      for (int c = 0; c < C; c++)
        for (int i = 0; i < n; i++)
          for (int p = 0; p < HW; p++)
            out[((size_t)i * C + c) * HW + p] = in[((size_t)c * n + i) * HW + p];
      break;
    }
    case NN_LAYER_RESHAPE: {
      const int C = L->out_c, HW = L->out_h * L->out_w;
      for (int c = 0; c < C; c++)
        for (int i = 0; i < n; i++)
          for (int p = 0; p < HW; p++)
            out[((size_t)c * n + i) * HW + p] = in[((size_t)i * C + c) * HW + p];
      break;
    }
    case NN_LAYER_SAMPLE: {
      const int lat = L->out_c;
      for (int i = 0; i < n; i++)
        for (int j = 0; j < lat; j++) {
          double mu = in[(size_t)i * 2 * lat + j], lv = in[(size_t)i * 2 * lat + lat + j];
          out[(size_t)i * lat + j] = mu + exp(0.5 * lv) * eps[(size_t)i * lat + j];
        }
      break;
    }
  }
}

void nn_ref_layer_backward(const nn_layer *L, const double *params, double *grads, double *din,
                           const double *dout, const double *in, const double *out,
                           const double *eps, int n) {
  const size_t count = (size_t)n * nn_layer_out_size(L);
  switch (L->type) {
    case NN_LAYER_CONV2D:
      conv_bwd(L, params, grads, din, dout, in, out, n);
      break;
    case NN_LAYER_CONV2D_T:
      tconv_bwd(L, params, grads, din, dout, in, out, n);
      break;
    case NN_LAYER_DENSE:
      dense_bwd(L, params, grads, din, dout, in, out, n);
      break;
    case NN_LAYER_MAXPOOL:
      if (din) pool_fwd_bwd(L, NULL, din, dout, in, n);
      break;
    case NN_LAYER_LEAKY_RELU:
    case NN_LAYER_SIGMOID:
      if (din)
        for (size_t q = 0; q < count; q++) din[q] = dout[q] * act_d(L->act, L->alpha, out[q]);
      break;
    case NN_LAYER_FLATTEN: {
      if (!din) break;
      const int C = L->in_c, HW = L->in_h * L->in_w;
      for (int c = 0; c < C; c++)
        for (int i = 0; i < n; i++)
          for (int p = 0; p < HW; p++)
            din[((size_t)c * n + i) * HW + p] = dout[((size_t)i * C + c) * HW + p];
      break;
    }
    case NN_LAYER_RESHAPE: {
      if (!din) break;
      const int C = L->out_c, HW = L->out_h * L->out_w;
      for (int c = 0; c < C; c++)
        for (int i = 0; i < n; i++)
          for (int p = 0; p < HW; p++)
            din[((size_t)i * C + c) * HW + p] = dout[((size_t)c * n + i) * HW + p];
      break;
    }
    case NN_LAYER_SAMPLE: {
      if (!din) break;
      const int lat = L->out_c;
      for (int i = 0; i < n; i++)
        for (int j = 0; j < lat; j++) {
          double lv = in[(size_t)i * 2 * lat + lat + j], dz = dout[(size_t)i * lat + j];
          din[(size_t)i * 2 * lat + j] = dz;
          din[(size_t)i * 2 * lat + lat + j] = dz * eps[(size_t)i * lat + j] * 0.5 * exp(0.5 * lv);
        }
      break;
    }
  }
}

dd_status nn_ref_model_loss(const nn_model *m, const double *params, const double *x,
                            const double *labels, const double *eps, int n, int b_global,
                            double *loss, double *grads, double *per_sample) {
  const nn_arch *a = &m->arch;
  const int nl = m->n_layers;
  const size_t in_count = (size_t)a->in_c * a->in_h * a->in_w * n;
  double **act = calloc((size_t)nl + 1, sizeof *act);
  double *ls = calloc((size_t)n, sizeof *ls);
  double *g0 = NULL, *g1 = NULL;
  size_t maxc = in_count;
  dd_status st = DD_OK;
  if (!act || !ls) {
    st = DD_FAIL(DD_ERR_NOMEM, "reference model buffers");
    goto cleanup;
  }
  for (int l = 0; l < nl; l++) {
    size_t c = nn_layer_out_size(&m->layers[l]) * n;
    if (c > maxc) maxc = c;
  }
  for (int l = 0; l <= nl; l++) {
    size_t c = l == 0 ? in_count : nn_layer_out_size(&m->layers[l - 1]) * n;
    act[l] = calloc(c, sizeof **act);
    if (!act[l]) {
      st = DD_FAIL(DD_ERR_NOMEM, "reference activations");
      goto cleanup;
    }
  }
  g0 = calloc(maxc, sizeof *g0);
  g1 = calloc(maxc, sizeof *g1);
  if (!g0 || !g1) {
    st = DD_FAIL(DD_ERR_NOMEM, "reference gradients");
    goto cleanup;
  }
  /* (n,C,H,W) -> (C,n,H,W) */
  const int P = a->in_h * a->in_w;
  for (int i = 0; i < n; i++)
    for (int c = 0; c < a->in_c; c++)
      for (int p = 0; p < P; p++)
        act[0][((size_t)c * n + i) * P + p] = x[((size_t)i * a->in_c + c) * P + p];
  for (int l = 0; l < nl; l++)
    nn_ref_layer_forward(&m->layers[l], params, act[l + 1], act[l], eps, n);

  const double scale = 1.0 / b_global;
  const double *y = act[nl];
  double total = 0.0;
  if (a->kind == NN_MODEL_CVAE) {
    const int lat = m->layers[m->sample_layer].out_c;
    const double *ml = act[m->sample_layer]; /* the sample layer's input */
    const double norm = a->rec == NN_REC_MEAN ? 1.0 / ((double)P * a->in_c) : 1.0;
    for (int i = 0; i < n; i++) {
      double rec = 0.0, kl = 0.0;
      for (int c = 0; c < a->in_c; c++)
        for (int p = 0; p < P; p++) {
          size_t q = ((size_t)c * n + i) * P + p;
          rec += (y[q] - act[0][q]) * (y[q] - act[0][q]);
        }
      for (int j = 0; j < lat; j++) {
        double mu = ml[(size_t)i * 2 * lat + j], lv = ml[(size_t)i * 2 * lat + lat + j];
        kl += a->kl == NN_KL_PAPER ? exp(lv) + mu * mu - 0.5 * lv - 1.0
                                   : 0.5 * (exp(lv) + mu * mu - lv - 1.0);
      }
      ls[i] = rec * norm + a->beta * kl;
    }
    if (grads)
      for (size_t q = 0; q < in_count; q++) g0[q] = scale * 2.0 * norm * (y[q] - act[0][q]);
  } else {
    for (int i = 0; i < n; i++) {
      ls[i] = nn_bce_logit(y[i], labels[i]);
      if (grads) g0[i] = scale * (1.0 / (1.0 + exp(-y[i])) - labels[i]);
    }
  }
  for (int i = 0; i < n; i++) total += ls[i];
  *loss = total * scale;
  if (per_sample) memcpy(per_sample, ls, sizeof *ls * (size_t)n);
  if (grads) {
    memset(grads, 0, sizeof *grads * m->n_params);
    double *gc = g0, *gn = g1;
    for (int l = nl - 1; l >= 0; l--) {
      const nn_layer *L = &m->layers[l];
      nn_ref_layer_backward(L, params, grads, l > 0 ? gn : NULL, gc, act[l], act[l + 1], eps, n);
      if (L->type == NN_LAYER_SAMPLE) {
        const int lat = L->out_c;
        for (int i = 0; i < n; i++)
          for (int j = 0; j < lat; j++) {
            size_t q = (size_t)i * 2 * lat + j;
            double mu = act[l][q], lv = act[l][q + lat];
            gn[q] += scale * a->beta * (a->kl == NN_KL_PAPER ? 2.0 * mu : mu);
            gn[q + lat] +=
                scale * a->beta * (a->kl == NN_KL_PAPER ? exp(lv) - 0.5 : 0.5 * (exp(lv) - 1.0));
          }
      }
      double *t = gc;
      gc = gn;
      gn = t;
    }
  }
cleanup:
  if (act)
    for (int l = 0; l <= nl; l++) free(act[l]);
  free(act);
  free(ls);
  free(g0);
  free(g1);
  return st;
}
