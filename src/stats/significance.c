/* significance.c - the one place where a test statistic becomes a p-value, a
 * log p and a significance Z, and where Z becomes a statistic threshold or a
 * discovery power (spec §2.1, §2.4, §3, §4.1; the paper's Eq. 13).  Every
 * caller (evaluation, p versus exposure, toys, the scan) goes through these
 * functions, so a convention is written down once. */
#include "ddscan/stats.h"

#include <math.h>

stats_convention stats_method_convention(stats_method method) {
  return method == STATS_METHOD_PAPER ? STATS_CONV_CHI2_1DOF : STATS_CONV_Q0;
}

stats_signif stats_signif_of(stats_convention conv, double t) {
  stats_signif s;
  if (conv == STATS_CONV_CHI2_1DOF) {
    /* Eq. 13 is a two-sided normal tail.  Z is its one-sided label, taken
     * from log p so that it stays finite after p underflows. */
    s.log_p = stats_chi2_logsf(t, 1);
    s.p = stats_chi2_sf(t, 1);
    s.z = stats_norm_isf_log(s.log_p);
  } else {
    /* q0 follows half a chi^2_1 under H0: p = Phibar(sqrt q0) exactly, and
     * on Asimov data sqrt(q0,A) is the median Z itself. */
    s.z = sqrt(t);
    s.p = stats_norm_sf(s.z);
    s.log_p = stats_norm_logsf(s.z);
  }
  return s;
}

stats_signif stats_signif_from_p(double p) {
  stats_signif s;
  s.p = p;
  s.log_p = log(p);
  s.z = stats_norm_isf(p);
  return s;
}

double stats_stat_at_z(stats_convention conv, double z) {
  /* z * z is exact for the integer Z of the thresholds (25, 9) */
  if (conv == STATS_CONV_Q0) return z * z;
  return stats_chi2_isf(stats_norm_sf(z), 1);
}

double stats_threshold5(const stats_params *p, stats_method method) {
  stats_convention conv = stats_method_convention(method);
  /* stats.five_sigma = "chi2_25" reads Eq. 13's two-sided p at 5 sigma */
  if (conv == STATS_CONV_CHI2_1DOF && p->five_sigma == STATS_FIVE_CHI2_25)
    return STATS_Z_DISCOVERY * STATS_Z_DISCOVERY;
  return stats_stat_at_z(conv, STATS_Z_DISCOVERY);
}

double stats_threshold3(const stats_params *p, stats_method method) {
  /* stats.five_sigma names the 5-sigma rule only: 3 sigma is always the
   * one-sided p = Phibar(3) (chi^2_P = 10.273, q0 = 9) */
  (void)p;
  return stats_stat_at_z(stats_method_convention(method), STATS_Z_EVIDENCE);
}

double stats_power(double z_a, double z_thr) {
  /* Z ~ N(Z_A, 1) under H1 (§2.4): P(Z >= z_thr) = Phibar(z_thr - Z_A) */
  return stats_norm_sf(z_thr - z_a);
}
