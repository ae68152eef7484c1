/* act.c - the activation functions on float arrays (LeakyReLU, sigmoid) and
 * their backward forms, shared by the activation layers (layers.c), the fused
 * epilogues of conv/dense (conv.c) and the CNN loss (model.c).  A file of its
 * own below those three: layers.c dispatches to conv.c, so activations kept
 * in layers.c made conv.c and layers.c call each other (issue 13). */
#include "nn_internal.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

float nn_sigmoidf(float x) {
  /* e = exp(-|x|) is in (0, 1]: no overflow for any x.  sigmoid(x) is
   * 1/(1+e) for x >= 0 and e/(1+e) for x < 0; the numerator is chosen from
   * the sign bit without a branch (random signs would mispredict).  A NaN x
   * gives a NaN e and a NaN result. */
  const float e = expf(-fabsf(x)), f1 = 1.0f;
  uint32_t xb, eb, ob, nb;
  memcpy(&xb, &x, sizeof xb);
  memcpy(&eb, &e, sizeof eb);
  memcpy(&ob, &f1, sizeof ob);
  const uint32_t neg = 0u - (xb >> 31);
  nb = (eb & neg) | (ob & ~neg);
  float num;
  memcpy(&num, &nb, sizeof num);
  return num / (1.0f + e);
}

void nn_act_apply(nn_act act, float alpha, float *x, size_t count) {
  switch (act) {
    case NN_ACT_NONE:
      return;
    case NN_ACT_LEAKY_RELU:
      for (size_t i = 0; i < count; i++) x[i] *= nn_leaky_scale(x[i], alpha);
      return;
    case NN_ACT_SIGMOID:
      for (size_t i = 0; i < count; i++) x[i] = nn_sigmoidf(x[i]);
      return;
  }
}

void nn_act_backward(nn_act act, float alpha, float *din, const float *dout, const float *y,
                     size_t count) {
  switch (act) {
    case NN_ACT_NONE:
      if (din != dout) memcpy(din, dout, sizeof *din * count);
      return;
    case NN_ACT_LEAKY_RELU:
      /* y > 0 exactly when x > 0 (alpha >= 0); at x = 0 the slope is alpha,
       * as in PyTorch's leaky_relu_backward */
      for (size_t i = 0; i < count; i++) din[i] = dout[i] * nn_leaky_scale(y[i], alpha);
      return;
    case NN_ACT_SIGMOID:
      for (size_t i = 0; i < count; i++) din[i] = dout[i] * y[i] * (1.0f - y[i]);
      return;
  }
}
