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

/* Convolutions run over chunks of whole images, so that the column matrix
 * and the GEMM's output block of a chunk (about NN_CHUNK_FLOATS floats
 * together, a few MB) stay in cache for im2col, the GEMM and the fused
 * epilogues, and the workspace does not grow with the batch.  The chunking
 * depends on the layer only, never on the batch size or the rank count. */
#define NN_CHUNK_FLOATS (1u << 20)

int nn_chunk_images(size_t plane, size_t rows) {
  size_t per = plane * rows;
  size_t nb = per ? NN_CHUNK_FLOATS / per : 1;
  return nb < 1 ? 1 : nb > 1000000 ? 1000000 : (int)nb;
}

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

/* dst[j] += src[j]: blocks of 16 with a constant trip count, which gcc -O2
 * vectorizes, and a scalar tail. */
static void add_row(float *restrict dst, const float *restrict src, size_t len) {
  size_t j = 0;
  for (; j + 16 <= len; j += 16)
    for (int u = 0; u < 16; u++) dst[j + u] += src[j + u];
  for (; j < len; j++) dst[j] += src[j];
}

/* Kernel = stride, no padding, and the windows tile the image exactly: the
 * column matrix is a permutation of the image ("pixel shuffle"). */
static int exact_tiling(int H, int W, int k, int s, int ph, int pw, int Ho, int Wo) {
  return k == s && ph == 0 && pw == 0 && H == Ho * k && W == Wo * k;
}

/* Exact tiling, one image row: the row src (Wo*k floats) feeds col rows
 * dst + kw*cols, kw < k.  Static inline with k a constant at the call sites
 * below, so that the inner loop is unrolled for the usual kernels. */
static inline void shuffle_in(float *dst, const float *src, size_t cols, int Wo, int k) {
  for (int ow = 0; ow < Wo; ow++)
    for (int kw = 0; kw < k; kw++) dst[(size_t)kw * cols + ow] = src[ow * k + kw];
}
static inline void shuffle_out(float *dst, const float *src, size_t cols, int Wo, int k) {
  for (int ow = 0; ow < Wo; ow++)
    for (int kw = 0; kw < k; kw++) dst[ow * k + kw] = src[(size_t)kw * cols + ow];
}

void nn_im2col(float *col, const float *img, int C, int N, int n0, int nb, int H, int W, int k,
               int s, int ph, int pw, int Ho, int Wo) {
  const size_t plane = (size_t)Ho * Wo, cols = (size_t)nb * plane;
  if (exact_tiling(H, W, k, s, ph, pw, Ho, Wo)) {
    /* one pass over the image rows in order; each row feeds k col rows */
    for (int c = 0; c < C; c++)
      for (int i = 0; i < nb; i++)
        for (int oh = 0; oh < Ho; oh++)
          for (int kh = 0; kh < k; kh++) {
            const float *src = img + (((size_t)c * N + n0 + i) * H + (size_t)oh * k + kh) * W;
            float *dst =
                col + ((size_t)(c * k + kh) * k) * cols + (size_t)i * plane + (size_t)oh * Wo;
            switch (k) {
              case 2:
                shuffle_in(dst, src, cols, Wo, 2);
                break;
              case 3:
                shuffle_in(dst, src, cols, Wo, 3);
                break;
              case 5:
                shuffle_in(dst, src, cols, Wo, 5);
                break;
              default:
                shuffle_in(dst, src, cols, Wo, k);
                break;
            }
          }
    return;
  }
  for (int c = 0; c < C; c++)
    for (int kh = 0; kh < k; kh++) {
      int hlo, hhi;
      valid_range(kh - ph, s, H, Ho, &hlo, &hhi);
      for (int kw = 0; kw < k; kw++) {
        int wlo, whi;
        valid_range(kw - pw, s, W, Wo, &wlo, &whi);
        float *row = col + ((size_t)(c * k + kh) * k + kw) * cols;
        for (int i = 0; i < nb; i++) {
          const float *im = img + ((size_t)c * N + n0 + i) * H * W;
          float *r = row + (size_t)i * plane;
          if (s == 1 && W == Wo && hlo < hhi && wlo < whi) {
            /* stride 1 and as wide as the image: the valid rows are one
             * shifted block; copy it at once, then zero what fell outside
             * the image on the left or right edge, and the rows above and
             * below */
            const long shift = (long)(kh - ph) * W + (kw - pw);
            /* from the first valid element to the last one: both map inside
             * the image, and so does everything between them */
            const size_t q0 = (size_t)hlo * Wo + (size_t)wlo;
            const size_t q1 = (size_t)(hhi - 1) * Wo + (size_t)whi;
            memset(r, 0, sizeof *r * q0);
            memcpy(r + q0, im + (long)q0 + shift, sizeof *r * (q1 - q0));
            memset(r + q1, 0, sizeof *r * (plane - q1));
            for (int oh = hlo; oh < hhi; oh++) {
              float *rr = r + (size_t)oh * Wo;
              for (int ow = 0; ow < wlo; ow++) rr[ow] = 0.0f;
              for (int ow = whi; ow < Wo; ow++) rr[ow] = 0.0f;
            }
            continue;
          }
          for (int oh = 0; oh < Ho; oh++) {
            float *rr = r + (size_t)oh * Wo;
            if (oh < hlo || oh >= hhi || wlo >= whi) {
              for (int ow = 0; ow < Wo; ow++) rr[ow] = 0.0f;
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

void nn_col2im(float *img, const float *col, int C, int N, int n0, int nb, int H, int W, int k,
               int s, int ph, int pw, int Ho, int Wo) {
  const size_t plane = (size_t)Ho * Wo, cols = (size_t)nb * plane;
  if (exact_tiling(H, W, k, s, ph, pw, Ho, Wo)) {
    /* every image element receives exactly one column entry: assign */
    for (int c = 0; c < C; c++)
      for (int i = 0; i < nb; i++)
        for (int oh = 0; oh < Ho; oh++)
          for (int kh = 0; kh < k; kh++) {
            float *dst = img + (((size_t)c * N + n0 + i) * H + (size_t)oh * k + kh) * W;
            const float *src =
                col + ((size_t)(c * k + kh) * k) * cols + (size_t)i * plane + (size_t)oh * Wo;
            switch (k) {
              case 2:
                shuffle_out(dst, src, cols, Wo, 2);
                break;
              case 3:
                shuffle_out(dst, src, cols, Wo, 3);
                break;
              case 5:
                shuffle_out(dst, src, cols, Wo, 5);
                break;
              default:
                shuffle_out(dst, src, cols, Wo, k);
                break;
            }
          }
    return;
  }
  for (int c = 0; c < C; c++) /* the images of the chunk start at zero */
    for (int i = 0; i < nb; i++)
      memset(img + ((size_t)c * N + n0 + i) * H * W, 0, sizeof *img * (size_t)H * W);
  for (int c = 0; c < C; c++)
    for (int kh = 0; kh < k; kh++) {
      int hlo, hhi;
      valid_range(kh - ph, s, H, Ho, &hlo, &hhi);
      for (int kw = 0; kw < k; kw++) {
        int wlo, whi;
        valid_range(kw - pw, s, W, Wo, &wlo, &whi);
        if (wlo >= whi) continue;
        const float *row = col + ((size_t)(c * k + kh) * k + kw) * cols;
        for (int i = 0; i < nb; i++) {
          float *im = img + ((size_t)c * N + n0 + i) * H * W;
          const float *r = row + (size_t)i * plane;
          for (int oh = hlo; oh < hhi; oh++) {
            const float *rr = r + (size_t)oh * Wo;
            float *dst = im + (size_t)(oh * s + kh - ph) * W + (kw - pw);
            if (s == 1) {
              add_row(dst + wlo, rr + wlo, (size_t)(whi - wlo));
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

/* The element loops below run in blocks of NN_VEC elements with a constant
 * inner trip count, which gcc -O2 vectorizes (its "very cheap" cost model
 * only vectorizes loops whose trip count is a known multiple of the vector
 * width), and a scalar tail.  Elementwise IEEE operations give the same
 * results vectorized or not; reductions keep their written order. */
#define NN_VEC 16

/* Epilogue of a forward GEMM: x = act(x + b[r]) for `rows` rows of `len`
 * floats, row r starting at x + r*ld.  One pass while the block is in cache. */
static void bias_act(float *x, size_t ld, const float *b, int rows, size_t len, nn_act act,
                     float alpha) {
  for (int r = 0; r < rows; r++) {
    float *xr = x + (size_t)r * ld;
    const float br = b[r];
    size_t j = 0;
    switch (act) {
      case NN_ACT_NONE:
        for (; j + NN_VEC <= len; j += NN_VEC)
          for (int u = 0; u < NN_VEC; u++) xr[j + u] += br;
        for (; j < len; j++) xr[j] += br;
        break;
      case NN_ACT_LEAKY_RELU:
        for (; j + NN_VEC <= len; j += NN_VEC)
          for (int u = 0; u < NN_VEC; u++) {
            float v = xr[j + u] + br;
            xr[j + u] = v * nn_leaky_scale(v, alpha);
          }
        for (; j < len; j++) {
          float v = xr[j] + br;
          xr[j] = v * nn_leaky_scale(v, alpha);
        }
        break;
      case NN_ACT_SIGMOID:
        for (; j < len; j++) xr[j] = nn_sigmoidf(xr[j] + br);
        break;
    }
  }
}

/* d *= act'(y), elementwise (y is the activation's output). */
static void leaky_grad(float *restrict d, const float *restrict y, size_t len, float alpha) {
  size_t j = 0;
  for (; j + NN_VEC <= len; j += NN_VEC)
    for (int u = 0; u < NN_VEC; u++) d[j + u] *= nn_leaky_scale(y[j + u], alpha);
  for (; j < len; j++) d[j] *= nn_leaky_scale(y[j], alpha);
}
static void sigmoid_grad(float *restrict d, const float *restrict y, size_t len) {
  size_t j = 0;
  for (; j + NN_VEC <= len; j += NN_VEC)
    for (int u = 0; u < NN_VEC; u++) d[j + u] *= y[j + u] * (1.0f - y[j + u]);
  for (; j < len; j++) d[j] *= y[j] * (1.0f - y[j]);
}

/* Sum in double with eight partial sums in a fixed order: deterministic,
 * accurate over many terms, and not latency-bound. */
static double row_sum(const float *d, size_t len) {
  double p0 = 0, p1 = 0, p2 = 0, p3 = 0, p4 = 0, p5 = 0, p6 = 0, p7 = 0;
  size_t j = 0;
  for (; j + 8 <= len; j += 8) {
    p0 += d[j];
    p1 += d[j + 1];
    p2 += d[j + 2];
    p3 += d[j + 3];
    p4 += d[j + 4];
    p5 += d[j + 5];
    p6 += d[j + 6];
    p7 += d[j + 7];
  }
  for (; j < len; j++) p0 += d[j];
  return ((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7));
}

/* Epilogue of a backward pass: d = d * act'(y) in place and db[r] += the
 * sum of row r, for `rows` rows of `len` floats at stride ld. */
static void act_bias_grad(float *d, const float *y, size_t ld, float *db, int rows, size_t len,
                          nn_act act, float alpha) {
  for (int r = 0; r < rows; r++) {
    float *dr = d + (size_t)r * ld;
    const float *yr = y + (size_t)r * ld;
    if (act == NN_ACT_LEAKY_RELU) leaky_grad(dr, yr, len, alpha);
    if (act == NN_ACT_SIGMOID) sigmoid_grad(dr, yr, len);
    db[r] += (float)row_sum(dr, len);
  }
}

/* Images per chunk: the GEMM columns per image, and the rows of the column
 * matrix plus those of the other GEMM operand. */
static int layer_chunk(const nn_layer *L) {
  const size_t kk = (size_t)L->kernel * L->kernel;
  if (L->type == NN_LAYER_CONV2D)
    return nn_chunk_images((size_t)L->out_h * L->out_w, L->in_c * kk + (size_t)L->out_c);
  return nn_chunk_images((size_t)L->in_h * L->in_w, L->out_c * kk + (size_t)L->in_c);
}

size_t nn_conv_work_floats(const nn_layer *L, int n) {
  const size_t kk = (size_t)L->kernel * L->kernel;
  const int nb = layer_chunk(L);
  const size_t m = (size_t)(n < nb ? n : nb);
  if (L->type == NN_LAYER_CONV2D) return L->in_c * kk * L->out_h * L->out_w * m;
  return L->out_c * kk * L->in_h * L->in_w * m;
}

static int is_direct(const nn_layer *L) {
  return L->kernel == 1 && L->stride == 1 && L->pad_h == 0 && L->pad_w == 0;
}

void nn_conv2d_forward(const nn_layer *L, const float *params, float *out /*(Co,N,Ho,Wo)*/,
                       const float *in /*(Ci,N,H,W)*/, float *work, int n, nn_layer_prof *prof) {
  const int k = L->kernel, K = L->in_c * k * k, Co = L->out_c;
  const size_t P = (size_t)L->out_h * L->out_w, Pin = (size_t)L->in_h * L->in_w;
  const int nb = layer_chunk(L), direct = is_direct(L);
  for (int n0 = 0; n0 < n; n0 += nb) {
    const int m = n - n0 < nb ? n - n0 : nb;
    const size_t cols = (size_t)m * P;
    const float *B = in + (size_t)n0 * Pin; /* a 1x1 conv reads its input directly */
    int ldb = (int)((size_t)n * Pin);
    if (!direct) {
      nn_im2col(work, in, L->in_c, n, n0, m, L->in_h, L->in_w, k, L->stride, L->pad_h, L->pad_w,
                L->out_h, L->out_w);
      B = work;
      ldb = (int)cols;
    }
    /* out[Co, chunk] = W[Co, K] x col[K, chunk] */
    gemm(prof, 0, CblasNoTrans, CblasNoTrans, Co, (int)cols, K, params + L->w_off, K, B, ldb, 0.0f,
         out + (size_t)n0 * P, (int)((size_t)n * P));
    bias_act(out + (size_t)n0 * P, (size_t)n * P, params + L->b_off, Co, cols, L->act, L->alpha);
  }
}

void nn_conv2d_backward(const nn_layer *L, const float *params, float *grads, float *din,
                        float *dout, const float *in, const float *out, float *work, int n,
                        nn_layer_prof *prof) {
  const int k = L->kernel, K = L->in_c * k * k, Co = L->out_c;
  const size_t P = (size_t)L->out_h * L->out_w, Pin = (size_t)L->in_h * L->in_w;
  const int nb = layer_chunk(L), direct = is_direct(L);
  const int ld = (int)((size_t)n * P), ldi = (int)((size_t)n * Pin);
  for (int n0 = 0; n0 < n; n0 += nb) {
    const int m = n - n0 < nb ? n - n0 : nb;
    const size_t cols = (size_t)m * P;
    float *d = dout + (size_t)n0 * P;
    act_bias_grad(d, out + (size_t)n0 * P, (size_t)ld, grads + L->b_off, Co, cols, L->act,
                  L->alpha);
    const float *B = in + (size_t)n0 * Pin;
    int ldb = ldi;
    if (!direct) {
      nn_im2col(work, in, L->in_c, n, n0, m, L->in_h, L->in_w, k, L->stride, L->pad_h, L->pad_w,
                L->out_h, L->out_w);
      B = work;
      ldb = (int)cols;
    }
    /* dW[Co, K] += d[Co, chunk] x col^T */
    gemm(prof, 1, CblasNoTrans, CblasTrans, Co, K, (int)cols, d, ld, B, ldb, 1.0f, grads + L->w_off,
         K);
    if (!din) continue;
    if (direct) {
      gemm(prof, 1, CblasTrans, CblasNoTrans, K, (int)cols, Co, params + L->w_off, K, d, ld, 0.0f,
           din + (size_t)n0 * Pin, ldi);
      continue;
    }
    /* dcol[K, chunk] = W^T x d, overwriting col (no longer needed) */
    gemm(prof, 1, CblasTrans, CblasNoTrans, K, (int)cols, Co, params + L->w_off, K, d, ld, 0.0f,
         work, (int)cols);
    nn_col2im(din, work, L->in_c, n, n0, m, L->in_h, L->in_w, k, L->stride, L->pad_h, L->pad_w,
              L->out_h, L->out_w);
  }
}

void nn_tconv2d_forward(const nn_layer *L, const float *params, float *out /*(Co,N,Ho,Wo)*/,
                        const float *in /*(Ci,N,Hi,Wi)*/, float *work, int n, nn_layer_prof *prof) {
  const int k = L->kernel, Kc = L->out_c * k * k, Ci = L->in_c;
  const size_t Pin = (size_t)L->in_h * L->in_w, P = (size_t)L->out_h * L->out_w;
  const int nb = layer_chunk(L);
  for (int n0 = 0; n0 < n; n0 += nb) {
    const int m = n - n0 < nb ? n - n0 : nb;
    const size_t cols = (size_t)m * Pin;
    /* col[Co*k*k, chunk] = W^T x in[Ci, chunk], W stored (Ci, Co*k*k) */
    gemm(prof, 0, CblasTrans, CblasNoTrans, Kc, (int)cols, Ci, params + L->w_off, Kc,
         in + (size_t)n0 * Pin, (int)((size_t)n * Pin), 0.0f, work, (int)cols);
    nn_col2im(out, work, L->out_c, n, n0, m, L->out_h, L->out_w, k, L->stride, L->pad_h, L->pad_w,
              L->in_h, L->in_w);
    bias_act(out + (size_t)n0 * P, (size_t)n * P, params + L->b_off, L->out_c, (size_t)m * P,
             L->act, L->alpha);
  }
}

void nn_tconv2d_backward(const nn_layer *L, const float *params, float *grads, float *din,
                         float *dout, const float *in, const float *out, float *work, int n,
                         nn_layer_prof *prof) {
  const int k = L->kernel, Kc = L->out_c * k * k, Ci = L->in_c;
  const size_t Pin = (size_t)L->in_h * L->in_w, P = (size_t)L->out_h * L->out_w;
  const int nb = layer_chunk(L), ldi = (int)((size_t)n * Pin);
  for (int n0 = 0; n0 < n; n0 += nb) {
    const int m = n - n0 < nb ? n - n0 : nb;
    const size_t cols = (size_t)m * Pin;
    act_bias_grad(dout + (size_t)n0 * P, out + (size_t)n0 * P, (size_t)n * P, grads + L->b_off,
                  L->out_c, (size_t)m * P, L->act, L->alpha);
    nn_im2col(work, dout, L->out_c, n, n0, m, L->out_h, L->out_w, k, L->stride, L->pad_h, L->pad_w,
              L->in_h, L->in_w);
    /* dW[Ci, Kc] += in[Ci, chunk] x dcol^T */
    gemm(prof, 1, CblasNoTrans, CblasTrans, Ci, Kc, (int)cols, in + (size_t)n0 * Pin, ldi, work,
         (int)cols, 1.0f, grads + L->w_off, Kc);
    if (din) /* din[Ci, chunk] = W[Ci, Kc] x dcol */
      gemm(prof, 1, CblasNoTrans, CblasNoTrans, Ci, (int)cols, Kc, params + L->w_off, Kc, work,
           (int)cols, 0.0f, din + (size_t)n0 * Pin, ldi);
  }
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
                       float *dout, const float *in, const float *out, int n, nn_layer_prof *prof) {
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
    gemm(prof, 1, CblasNoTrans, CblasNoTrans, n, F, O, dout, O, params + L->w_off, F, 0.0f, din, F);
}
