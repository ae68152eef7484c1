/* nn_internal.h - private kernels of the nn module shared between its files:
 * im2col/col2im, the per-type float kernels behind nn_layer_forward/backward,
 * activations, and the model-building helpers used by params.c. */
#ifndef DDSCAN_NN_INTERNAL_H
#define DDSCAN_NN_INTERNAL_H

#include <stddef.h>

#include "ddscan/nn.h" /* uses: nn_layer, nn_layer_prof, nn_act, nn_arch */

/* conv.c: img (C,N,H,W) <-> col (C*k*k, N*Ho*Wo) for a k x k kernel with
 * stride s and padding before (ph, pw).  col2im accumulates. */
void nn_im2col(float *col, const float *img, int C, int n, int H, int W, int k, int s, int ph,
               int pw, int Ho, int Wo);
void nn_col2im(float *img, const float *col, int C, int n, int H, int W, int k, int s, int ph,
               int pw, int Ho, int Wo);
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
                       float *dout, const float *in, const float *out, int n,
                       nn_layer_prof *prof);

/* layers.c: activations in place on count floats; the backward form
 * din = dout * f'(x) reads f's output y (LeakyReLU with alpha >= 0 keeps the
 * sign; sigmoid' = y(1-y)); din may equal dout. */
void nn_act_apply(nn_act act, float alpha, float *x, size_t count);
void nn_act_backward(nn_act act, float alpha, float *din, const float *dout, const float *y,
                     size_t count);
/* Numerically stable logistic function. */
float nn_sigmoidf(float x);

/* build.c: shape inference of a whole architecture into layers[0..n_layers)
 * with its validation (errors name file:line when cfg is not NULL). */
dd_status nn_arch_infer(const nn_arch *a, nn_layer *layers, const cfg_doc *cfg);
/* build.c: per-sample size of a layer's output (C*H*W). */
size_t nn_layer_out_size(const nn_layer *L);
size_t nn_layer_in_size(const nn_layer *L);
/* The model's noise source for sample i: fills eps (latent floats). */
void nn_noise_fill(const nn_noise *nz, int i, float *eps, int latent);

#endif /* DDSCAN_NN_INTERNAL_H */
