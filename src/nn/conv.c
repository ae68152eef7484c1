/* conv.c - Conv2D and Conv2DTranspose (Keras semantics) as im2col/col2im plus
 * one cblas_sgemm over the whole minibatch.  Activations are (C,N,H,W), so
 * the GEMM of a convolution writes its output in place:
 *   conv:   out[Co, N*Ho*Wo] = W[Co, Ci*k*k] x col[Ci*k*k, N*Ho*Wo]
 *   tconv:  col[Co*k*k, N*Hi*Wi] = W^T x in[Ci, N*Hi*Wi], then col2im.
 * The transposed convolution is the adjoint of a convolution whose input is
 * the tconv's output, so both share one im2col/col2im pair. */
#include "nn_internal.h"

#include <string.h>

#include <cblas.h> /* uses: cblas_sgemm */

/* Output positions o in [0, n_out) whose input index o*s + off lies in
 * [0, size): the range [*lo, *hi). */
static void valid_range(int off, int s, int size, int n_out, int *lo, int *hi) {
  int a = off < 0 ? (-off + s - 1) / s : 0;
  int b = size - 1 - off < 0 ? 0 : (size - 1 - off) / s + 1;
  if (b > n_out) b = n_out;
  if (a > b) a = b;
  *lo = a;
  *hi = b;
}

/* col[(c,kh,kw)][(i,oh,ow)] = img[c][i][oh*s+kh-ph][ow*s+kw-pw] (0 outside).
 * img is (C,N,H,W), col is (C*k*k, N*Ho*Wo). */
void nn_im2col(float *col, const float *img, int C, int n, int H, int W, int k, int s, int ph,
               int pw, int Ho, int Wo) {
  size_t plane = (size_t)Ho * Wo, cols = (size_t)n * plane;
  for (int c = 0; c < C; c++)
    for (int kh = 0; kh < k; kh++) {
      int hlo, hhi;
      valid_range(kh - ph, s, H, Ho, &hlo, &hhi);
      for (int kw = 0; kw < k; kw++) {
        int wlo, whi;
        valid_range(kw - pw, s, W, Wo, &wlo, &whi);
        float *row = col + ((size_t)(c * k + kh) * k + kw) * cols;
        for (int i = 0; i < n; i++) {
          const float *im = img + ((size_t)c * n + i) * H * W;
          float *r = row + (size_t)i * plane;
          for (int oh = 0; oh < Ho; oh++) {
            float *rr = r + (size_t)oh * Wo;
            if (oh < hlo || oh >= hhi || wlo >= whi) {
              memset(rr, 0, sizeof *rr * (size_t)Wo);
              continue;
            }
            const float *src = im + (size_t)(oh * s + kh - ph) * W + (kw - pw);
            for (int ow = 0; ow < wlo; ow++) rr[ow] = 0.0f;
            if (s == 1) {
              memcpy(rr + wlo, src + wlo, sizeof *rr * (size_t)(whi - wlo));
            } else {
              for (int ow = wlo; ow < whi; ow++) rr[ow] = src[(size_t)ow * s];
            }
            for (int ow = whi; ow < Wo; ow++) rr[ow] = 0.0f;
          }
        }
      }
    }
}

/* The adjoint of nn_im2col: img += scatter(col).  img must be initialised. */
void nn_col2im(float *img, const float *col, int C, int n, int H, int W, int k, int s, int ph,
               int pw, int Ho, int Wo) {
  size_t plane = (size_t)Ho * Wo, cols = (size_t)n * plane;
  for (int c = 0; c < C; c++)
    for (int kh = 0; kh < k; kh++) {
      int hlo, hhi;
      valid_range(kh - ph, s, H, Ho, &hlo, &hhi);
      for (int kw = 0; kw < k; kw++) {
        int wlo, whi;
        valid_range(kw - pw, s, W, Wo, &wlo, &whi);
        if (wlo >= whi) continue;
        const float *row = col + ((size_t)(c * k + kh) * k + kw) * cols;
        for (int i = 0; i < n; i++) {
          float *im = img + ((size_t)c * n + i) * H * W;
          const float *r = row + (size_t)i * plane;
          for (int oh = hlo; oh < hhi; oh++) {
            const float *rr = r + (size_t)oh * Wo;
            float *dst = im + (size_t)(oh * s + kh - ph) * W + (kw - pw);
            if (s == 1) {
              for (int ow = wlo; ow < whi; ow++) dst[ow] += rr[ow];
            } else {
              for (int ow = wlo; ow < whi; ow++) dst[(size_t)ow * s] += rr[ow];
            }
          }
        }
      }
    }
}

/* One GEMM, timed when profiling. */
static void gemm(nn_layer_prof *prof, int bwd, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb,
                 int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta,
                 float *C, int ldc) {
  double t0 = prof ? dd_time_now() : 0.0;
  cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
  if (prof) {
    double dt = dd_time_now() - t0, fl = 2.0 * M * N * K;
    if (bwd) {
      prof->t_bwd_gemm += dt;
      prof->flop_bwd += fl;
    } else {
      prof->t_fwd_gemm += dt;
      prof->flop_fwd += fl;
    }
  }
}

/* x[co][j] += b[co] then the activation, for a (Co, cols) block. */
static void bias_act_rows(float *x, const float *b, int rows, size_t cols, nn_act act,
                          float alpha) {
  for (int r = 0; r < rows; r++) {
    float *xr = x + (size_t)r * cols;
    float br = b[r];
    for (size_t j = 0; j < cols; j++) xr[j] += br;
  }
  nn_act_apply(act, alpha, x, (size_t)rows * cols);
}

/* db[co] += sum_j d[co][j].  Eight double partial sums in a fixed order:
 * deterministic, accurate over N*H*W terms, and not latency-bound. */
static void bias_grad_rows(float *db, const float *d, int rows, size_t cols) {
  for (int r = 0; r < rows; r++) {
    const float *dr = d + (size_t)r * cols;
    double p[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t j = 0;
    for (; j + 8 <= cols; j += 8)
      for (int u = 0; u < 8; u++) p[u] += dr[j + u];
    for (; j < cols; j++) p[0] += dr[j];
    db[r] += (float)(((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7])));
  }
}

size_t nn_conv_work_floats(const nn_layer *L, int n) {
  if (L->type == NN_LAYER_CONV2D)
    return (size_t)L->in_c * L->kernel * L->kernel * L->out_h * L->out_w * (size_t)n;
  return (size_t)L->out_c * L->kernel * L->kernel * L->in_h * L->in_w * (size_t)n;
}

void nn_conv2d_forward(const nn_layer *L, const float *params, float *out /*(Co,N,Ho,Wo)*/,
                       const float *in /*(Ci,N,H,W)*/, float *work, int n, nn_layer_prof *prof) {
  const int k = L->kernel, K = L->in_c * k * k, Co = L->out_c;
  const size_t cols = (size_t)n * L->out_h * L->out_w;
  const float *col = in;
  /* A 1x1/stride-1 convolution reads its input as the column matrix. */
  if (!(k == 1 && L->stride == 1 && L->pad_h == 0 && L->pad_w == 0)) {
    nn_im2col(work, in, L->in_c, n, L->in_h, L->in_w, k, L->stride, L->pad_h, L->pad_w,
              L->out_h, L->out_w);
    col = work;
  }
  gemm(prof, 0, CblasNoTrans, CblasNoTrans, Co, (int)cols, K, params + L->w_off, K, col,
       (int)cols, 0.0f, out, (int)cols);
  bias_act_rows(out, params + L->b_off, Co, cols, L->act, L->alpha);
}

void nn_conv2d_backward(const nn_layer *L, const float *params, float *grads, float *din,
                        float *dout, const float *in, const float *out, float *work, int n,
                        nn_layer_prof *prof) {
  const int k = L->kernel, K = L->in_c * k * k, Co = L->out_c;
  const size_t cols = (size_t)n * L->out_h * L->out_w;
  nn_act_backward(L->act, L->alpha, dout, dout, out, (size_t)Co * cols);
  bias_grad_rows(grads + L->b_off, dout, Co, cols);
  const int direct = k == 1 && L->stride == 1 && L->pad_h == 0 && L->pad_w == 0;
  const float *col = in;
  if (!direct) {
    nn_im2col(work, in, L->in_c, n, L->in_h, L->in_w, k, L->stride, L->pad_h, L->pad_w,
              L->out_h, L->out_w);
    col = work;
  }
  /* dW[Co,K] += dout[Co,cols] x col^T */
  gemm(prof, 1, CblasNoTrans, CblasTrans, Co, K, (int)cols, dout, (int)cols, col, (int)cols, 1.0f,
       grads + L->w_off, K);
  if (!din) return;
  size_t din_n = (size_t)L->in_c * n * L->in_h * L->in_w;
  if (direct) {
    gemm(prof, 1, CblasTrans, CblasNoTrans, K, (int)cols, Co, params + L->w_off, K, dout,
         (int)cols, 0.0f, din, (int)cols);
    return;
  }
  /* dcol[K,cols] = W^T x dout, overwriting col (no longer needed) */
  gemm(prof, 1, CblasTrans, CblasNoTrans, K, (int)cols, Co, params + L->w_off, K, dout, (int)cols,
       0.0f, work, (int)cols);
  memset(din, 0, sizeof *din * din_n);
  nn_col2im(din, work, L->in_c, n, L->in_h, L->in_w, k, L->stride, L->pad_h, L->pad_w, L->out_h,
            L->out_w);
}

void nn_tconv2d_forward(const nn_layer *L, const float *params, float *out /*(Co,N,Ho,Wo)*/,
                        const float *in /*(Ci,N,Hi,Wi)*/, float *work, int n,
                        nn_layer_prof *prof) {
  const int k = L->kernel, Kc = L->out_c * k * k, Ci = L->in_c;
  const size_t cols = (size_t)n * L->in_h * L->in_w;
  /* col[Co*k*k, cols] = W^T x in, W stored (Ci, Co*k*k) */
  gemm(prof, 0, CblasTrans, CblasNoTrans, Kc, (int)cols, Ci, params + L->w_off, Kc, in, (int)cols,
       0.0f, work, (int)cols);
  size_t out_cols = (size_t)n * L->out_h * L->out_w;
  memset(out, 0, sizeof *out * (size_t)L->out_c * out_cols);
  nn_col2im(out, work, L->out_c, n, L->out_h, L->out_w, k, L->stride, L->pad_h, L->pad_w, L->in_h,
            L->in_w);
  bias_act_rows(out, params + L->b_off, L->out_c, out_cols, L->act, L->alpha);
}

void nn_tconv2d_backward(const nn_layer *L, const float *params, float *grads, float *din,
                         float *dout, const float *in, const float *out, float *work, int n,
                         nn_layer_prof *prof) {
  const int k = L->kernel, Kc = L->out_c * k * k, Ci = L->in_c;
  const size_t cols = (size_t)n * L->in_h * L->in_w;
  const size_t out_cols = (size_t)n * L->out_h * L->out_w;
  nn_act_backward(L->act, L->alpha, dout, dout, out, (size_t)L->out_c * out_cols);
  bias_grad_rows(grads + L->b_off, dout, L->out_c, out_cols);
  nn_im2col(work, dout, L->out_c, n, L->out_h, L->out_w, k, L->stride, L->pad_h, L->pad_w,
            L->in_h, L->in_w);
  /* dW[Ci, Kc] += in[Ci, cols] x dcol^T */
  gemm(prof, 1, CblasNoTrans, CblasTrans, Ci, Kc, (int)cols, in, (int)cols, work, (int)cols, 1.0f,
       grads + L->w_off, Kc);
  if (!din) return;
  /* din[Ci, cols] = W[Ci, Kc] x dcol */
  gemm(prof, 1, CblasNoTrans, CblasNoTrans, Ci, (int)cols, Kc, params + L->w_off, Kc, work,
       (int)cols, 0.0f, din, (int)cols);
}

void nn_dense_forward(const nn_layer *L, const float *params, float *out /*(N,O)*/,
                      const float *in /*(N,F)*/, int n, nn_layer_prof *prof) {
  const int F = L->in_c, O = L->out_c;
  gemm(prof, 0, CblasNoTrans, CblasTrans, n, O, F, in, F, params + L->w_off, F, 0.0f, out, O);
  const float *b = params + L->b_off;
  for (int i = 0; i < n; i++) {
    float *r = out + (size_t)i * O;
    for (int o = 0; o < O; o++) r[o] += b[o];
  }
  nn_act_apply(L->act, L->alpha, out, (size_t)n * O);
}

void nn_dense_backward(const nn_layer *L, const float *params, float *grads, float *din,
                       float *dout, const float *in, const float *out, int n,
                       nn_layer_prof *prof) {
  const int F = L->in_c, O = L->out_c;
  nn_act_backward(L->act, L->alpha, dout, dout, out, (size_t)n * O);
  float *db = grads + L->b_off;
  for (int o = 0; o < O; o++) {
    double s = 0.0;
    for (int i = 0; i < n; i++) s += dout[(size_t)i * O + o];
    db[o] += (float)s;
  }
  /* dW[O,F] += dout^T x in */
  gemm(prof, 1, CblasTrans, CblasNoTrans, O, F, n, dout, O, in, F, 1.0f, grads + L->w_off, F);
  if (din)
    gemm(prof, 1, CblasNoTrans, CblasNoTrans, n, F, O, dout, O, params + L->w_off, F, 0.0f, din,
         F);
}
