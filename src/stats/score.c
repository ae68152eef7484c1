/* score.c - per-event anomaly-score numerics: H_B = -log(1 - p_CNN) from the
 * CNN logit (softplus) or, when only p is available, from p with a clamp that
 * is counted (spec §1.2; paper Eq. 11).  L_rec and TS(R) are inline in stats.h. */
#include "ddscan/stats.h"

#include <math.h>

double stats_hb_from_logit(double z) {
  /* -log(1 - sigmoid(z)) = log(1 + e^z).  For z > 30, e^z would lose the
   * log1p(e^-z) correction to rounding, and for z > 709 it overflows. */
  if (z > 30.0) return z + log1p(exp(-z));
  return log1p(exp(z));
}

dd_status stats_hb_from_prob(const double *p, long n, int p_is_float32, double *hb,
                             long *n_clamped) {
  /* The largest p below 1 of the network's float type: 1 - 2^-24 (float32)
   * or 1 - 2^-53 (double).  p = 1 exactly would give H_B = inf. */
  const double p_max = p_is_float32 ? 1.0 - ldexp(1.0, -24) : 1.0 - ldexp(1.0, -53);
  long clamped = 0;
  for (long i = 0; i < n; i++) {
    double pi = p[i];
    if (!(pi >= 0.0 && pi <= 1.0))
      return DD_FAIL(DD_ERR_ARG, "CNN probability p[%ld] = %g is outside [0, 1]", i, pi);
    if (pi > p_max) {
      pi = p_max;
      clamped++;
    }
    hb[i] = -log1p(-pi);
  }
  if (n_clamped) *n_clamped = clamped;
  return DD_OK;
}
