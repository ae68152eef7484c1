/* nn_internal.h - private kernels of the nn module shared between its files:
 * im2col/col2im, the per-type float kernels behind nn_layer_forward/backward,
 * activations, and the model-building helpers used by params.c.
 * A file calls only files later in this list (tests/e2e/io_layers.sh fails
 * on a cycle): ref, model, params, build, layers, conv, act, blas; adam and
 * checkpoint call no other nn file. */
#ifndef DDSCAN_NN_INTERNAL_H
#define DDSCAN_NN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ddscan/nn.h" /* uses: nn_layer, nn_layer_prof, nn_act, nn_arch */

/* conv.c: images n0..n0+nb-1 of img (C,N,H,W) <-> col (C*k*k, nb*Ho*Wo)
 * for a k x k kernel with stride s and padding before (ph, pw).  col2im
 * overwrites those images (the sum of the column entries that hit each
 * element, 0 where none does). */
void nn_im2col(float *col, const float *img, int C, int N, int n0, int nb, int H, int W, int k,
               int s, int ph, int pw, int Ho, int Wo);
void nn_col2im(float *img, const float *col, int C, int N, int n0, int nb, int H, int W, int k,
               int s, int ph, int pw, int Ho, int Wo);
/* Images per GEMM chunk for a layer with `plane` GEMM columns per image and
 * `rows` rows in its column matrix and other operand together. */
int nn_chunk_images(size_t plane, size_t rows);
/* Keeps a small kernel out of line: gcc vectorizes a 16-iteration loop over
 * restrict pointers as a function of its own, but not once inlined into a
 * caller's row loop (the max-pool kernels in layers.c). */
#if defined(__GNUC__)
#define NN_NOINLINE __attribute__((noinline))
#else
#define NN_NOINLINE
#endif
size_t nn_conv_work_floats(const nn_layer *L, int n);
void nn_conv2d_forward(const nn_layer *L, const float *params, float *out, const float *in,
                       float *work, int n, nn_layer_prof *prof);
void nn_conv2d_backward(const nn_layer *L, const float *params, float *grads, float *din,
                        float *dout, const float *in, const float *out, float *work, int n,
                        nn_layer_prof *prof);
void nn_tconv2d_forward(const nn_layer *L, const float *params, float *out, const float *in,
                        float *work, int n, nn_layer_prof *prof);
void nn_tconv2d_backward(const nn_layer *L, const float *params, float *grads, float *din,
                         float *dout, const float *in, const float *out, float *work, int n,
                         nn_layer_prof *prof);
void nn_dense_forward(const nn_layer *L, const float *params, float *out, const float *in, int n,
                      nn_layer_prof *prof);
void nn_dense_backward(const nn_layer *L, const float *params, float *grads, float *din,
                       float *dout, const float *in, const float *out, int n, nn_layer_prof *prof);

/* act.c: activations in place on count floats; the backward form
 * din = dout * f'(x) reads f's output y (LeakyReLU with alpha >= 0 keeps the
 * sign; sigmoid' = y(1-y)); din may equal dout. */
void nn_act_apply(nn_act act, float alpha, float *x, size_t count);
void nn_act_backward(nn_act act, float alpha, float *din, const float *dout, const float *y,
                     size_t count);
/* LeakyReLU as a multiplier: 1 where x > 0, else alpha, chosen from the sign
 * bit without a branch (the signs of activations are random, and a branch
 * mispredicts half the time: 5 ns instead of 0.2 ns per element here).
 * x = +0.0 gives alpha, like x > 0 ? 1 : alpha; a NaN x gives 1, so NaN
 * activations stay NaN (x * 1) and reach the loss check. */
static inline float nn_leaky_scale(float x, float alpha) {
  uint32_t xb, ab, one, r;
  const float f1 = 1.0f;
  float out;
  memcpy(&xb, &x, sizeof xb);
  memcpy(&ab, &alpha, sizeof ab);
  memcpy(&one, &f1, sizeof one);
  const uint32_t mask = (uint32_t) - (int32_t)((int32_t)xb > 0);
  r = (one & mask) | (ab & ~mask);
  memcpy(&out, &r, sizeof out);
  return out;
}

/* Numerically stable logistic function. */
float nn_sigmoidf(float x);

/* build.c: shape inference of a whole architecture into layers[0..n_layers)
 * with its validation (errors name file:line when cfg is not NULL). */
dd_status nn_arch_infer(const nn_arch *a, nn_layer *layers, const cfg_doc *cfg);
/* Per-sample size of a layer's output and input (C*H*W).  Inline here
 * rather than in build.c: layers.c, model.c and ref.c need them, and
 * build.c itself calls layers.c (no cycle between files, issue 13). */
static inline size_t nn_layer_out_size(const nn_layer *L) {
  return (size_t)L->out_c * L->out_h * L->out_w;
}
static inline size_t nn_layer_in_size(const nn_layer *L) {
  return (size_t)L->in_c * L->in_h * L->in_w;
}
/* The model's noise source for sample i: fills eps (latent floats). */
void nn_noise_fill(const nn_noise *nz, int i, float *eps, int latent);

#endif /* DDSCAN_NN_INTERNAL_H */
