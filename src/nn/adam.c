/* adam.c - the Adam optimiser (Kingma & Ba 2015, Algorithm 1) in the form
 * PyTorch 1.13 implements (torch/optim/adam.py, _single_tensor_adam), so the
 * fixtures of tests/tools/gen_nn_fixtures.py apply:
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
 * One loop over the flat buffers; alignment gaps hold zeros and stay zero. */
#include "nn_internal.h"

#include <math.h>

void nn_adam_step(nn_model *m) {
  const nn_adam_params *a = &m->arch.adam;
  m->step++;
  const double t = (double)m->step;
  const float b1 = (float)a->beta1, b2 = (float)a->beta2;
  const float c1 = (float)(1.0 - a->beta1), c2 = (float)(1.0 - a->beta2);
  const float step_size = (float)(a->learning_rate / (1.0 - pow(a->beta1, t)));
  const float inv_bc2_sqrt = (float)(1.0 / sqrt(1.0 - pow(a->beta2, t)));
  const float eps = (float)a->epsilon;
  float *p = m->params, *g = m->grads, *mm = m->adam_m, *vv = m->adam_v;
  /* n_params is a multiple of NN_ALIGN (16): a constant inner trip count
   * lets gcc -O2 vectorize (sqrt and division are exact IEEE operations, so
   * the results are the same as the scalar loop's) */
  for (size_t i0 = 0; i0 < m->n_params; i0 += NN_ALIGN)
    for (size_t i = i0; i < i0 + NN_ALIGN; i++) {
      float mi = b1 * mm[i] + c1 * g[i];
      float vi = b2 * vv[i] + c2 * g[i] * g[i];
      mm[i] = mi;
      vv[i] = vi;
      p[i] -= step_size * mi / (sqrtf(vi) * inv_bc2_sqrt + eps);
    }
}
