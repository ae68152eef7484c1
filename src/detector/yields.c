/* yields.c - scintillation and ionisation quanta of a recoil (spec §2.3).
 * NEST v2: GetDensity, WorkFunction, GetYieldBetaGR (ER), GetYieldNR (NR)
 * and GetQuanta (Fano, binomial exciton/ion split, non-binomial recombination
 * with the LUX skewness model), NESTCollaboration/nest src/NEST.cpp, default
 * parameter vectors of NEST.hh.  laidbax: XENON1T/laidbax sources.py
 * (yields, nest_yields) with base_model.py defaults.  Formulas re-derived from
 * those sources; no code copied. */
#include "det_internal.h"

#include <math.h>

#define NEST_AVOGADRO 6.0221409e23
#define NEST_XE_MOLAR 131.293
#define NEST_XE_Z 54.0
#define NEST_REF_DENSITY 2.90          /* NEST.hh DENSITY */
#define NEST_ZURICH_EXO_W 1.1716263232 /* OldW13eV = true */
#define LAIDBAX_QUANTA_PER_KEV 73.0    /* base_quanta_yield (W = 13.7 eV) */

double det_nest_density(double t_k) {
  /* NEST GetDensity: fit to NIST saturated-liquid data (liquid branch). */
  return 2.9970938084691329E+02 * exp(-8.2598864714323525E-02 * t_k) -
         1.8801286589442915E+06 *
             exp(-pow((t_k - 4.0820251276172212E+02) / 2.7863170223154846E+01, 2.0)) -
         5.4964506351743057E+03 *
             exp(-pow((t_k - 6.3688597345042672E+02) / 1.1225818853661815E+02, 2.0)) +
         8.3450538370682614E+02 *
             exp(-pow((t_k + 4.8840568924597342E+01) / 7.3804147172071107E+03, 2.0)) -
         8.3086310405942265E+02;
}

double det_nest_w_ev(double rho) {
  double n_e = rho / NEST_XE_MOLAR * NEST_AVOGADRO * NEST_XE_Z; /* electrons per cm^3 */
  return (18.7263 - 1.01e-23 * n_e) * NEST_ZURICH_EXO_W;
}

/* Exciton-to-ion ratio scale alpha(rho) (NEST WorkFunction). */
static double nest_alpha(double rho) {
  return 0.067366 + 0.039693 * rho;
}

double det_nest_diffusion_long(double f) {
  /* GetDiffLong_Liquid, standard fit (NEST.cpp) */
  return 57.381 * pow(f, -0.22221) + 127.27 * exp(-f / 32.821);
}

double det_nest_diffusion_trans(double f) {
  /* GetDiffTran_Liquid, standard fit (arXiv:1609.04467) */
  return 37.368 * pow(f, 0.093452) * exp(-8.1651e-5 * f);
}

/* NEST NRYieldsParam defaults {11, 1.1, 0.0480, -0.0533, 12.6, 0.3, 2, 0.3, 2,
 * 0.5, 1, 1} (spec §2.3). */
static const double k_nr[12] = {11.0, 1.1, 0.0480, -0.0533, 12.6, 0.3,
                                2.0,  0.3, 2.0,    0.5,     1.0,  1.0};
/* NRERWidthsParam {0.4, 0.4, 0.04, 0.5, 0.19, 2.25, -0.001, 0.046452, 0.45,
 * 0.205, -0.2, 0, 0}. */
static const double k_w[13] = {0.4,      0.4,  0.04,  0.5,  0.19, 2.25, -0.001,
                               0.046452, 0.45, 0.205, -0.2, 0.0,  0.0};

det_yield det_nest_yield(int cls, double e, double f, double rho) {
  det_yield y = {0.0, 0.0, 0.0, 0.0};
  if (!(e > 0.0)) return y;
  double w_ev = det_nest_w_ev(rho), alpha = nest_alpha(rho);
  if (cls == DET_ER) {
    /* GetYieldBetaGR with every ERYieldsParam = -1 */
    double nq = e * 1e3 / w_ev;
    double m1 = 30.66 + (6.1978 - 30.66) / pow(1.0 + pow(f / 73.855, 2.0318), 0.41883);
    double m2 = 77.2931084;
    double m3 = log10(f) * 0.13946236 + 0.52561312;
    double m4 = 1.82217496 + (2.82528809 - 1.82217496) / (1.0 + pow(f / 144.65029656, -2.80532006));
    double m5 = nq / e / (1.0 + alpha * erf(0.05 * e)) - m1;
    double m7 = 7.02921301 + (98.27936794 - 7.02921301) / (1.0 + pow(f / 256.48156448, 1.29119251));
    double m8 = 4.285781736, m9 = 0.3344049589;
    double m10 =
        0.0508273937 + (0.1166087199 - 0.0508273937) / (1.0 + pow(f / 1.39260460e+02, -0.65763592));
    double qy =
        m1 + (m2 - m1) / pow(1.0 + pow(e / m3, m4), m9) + m5 - m5 / pow(1.0 + pow(e / m7, m8), m10);
    /* density correction, exactly 1 at the reference density 2.90 */
    double c_ti = pow(1.0 / NEST_REF_DENSITY, 0.3), c_ni = pow(1.0 / NEST_REF_DENSITY, 1.4);
    double c_ol = pow(NEST_REF_DENSITY, 1.7) / log(1.0 + c_ti * c_ni * pow(NEST_REF_DENSITY, 1.7));
    qy *= c_ol * log(1.0 + c_ti * c_ni * pow(rho, 1.7)) * pow(rho, -1.7);
    y.qy = qy;
    y.ly = nq / e - qy;
    y.nq = nq;
    y.exciton_ratio = alpha * erf(0.05 * e);
    return y;
  }
  /* GetYieldNR (mass number 0 handled by the isotope-free default: scale 1) */
  double nq = k_nr[0] * pow(e, k_nr[1]);
  double ti = k_nr[2] * pow(f, k_nr[3]) * pow(rho / NEST_REF_DENSITY, 0.3);
  double qy = 1.0 / (ti * pow(e + k_nr[4], k_nr[9]));
  qy *= 1.0 - 1.0 / pow(1.0 + pow(e / k_nr[5], k_nr[6]), k_nr[10]);
  double ly = nq / e - qy;
  if (qy < 0.0) qy = 0.0;
  if (ly < 0.0) ly = 0.0;
  double ne = qy * e;
  double nph = ly * e * (1.0 - 1.0 / pow(1.0 + pow(e / k_nr[7], k_nr[8]), k_nr[11]));
  double nqt = nph + ne;
  double ni = 4.0 / ti * (exp(ne * ti / 4.0) - 1.0);
  double nex = nqt - ni;
  double ratio = nex / ni;
  if (ratio < alpha && e > 100.0) ratio = alpha; /* NEST's high-energy floor */
  if (ratio > 1.0 && e < 1.0) ratio = 1.0;       /* and its low-energy cap */
  y.qy = ne / e;
  y.ly = nph / e;
  y.nq = nqt;
  y.exciton_ratio = ratio;
  return y;
}

/* The ER tail bias (docs/detector.md §11) on the recombination fluctuation:
 * the standard normal z0 of the unbiased draw (the same Philox word) becomes
 * z = -t + s z0 when the attempt draws from the biased component (t = tilt,
 * s = width), else z = z0; log q_b(z)/p(z) = z^2/2 - ((z + t)/s)^2/2 - log s
 * is added to the attempt's log ratio either way (det_bias_finish turns it
 * into the weight).  Every later use of z (rounding, clipping to [0, Ni]) is
 * a deterministic function of it, so the density ratio of this one continuous
 * draw is exact.  bs == NULL (unbiased) returns z0 untouched. */
static double tilted_normal(const dd_sampler *smp, dd_rng *r, det_bias_state *bs) {
  double z0 = dd_sample_normal(smp, r);
  if (!bs) return z0;
  const det_bias *b = bs->b;
  double x = bs->biased ? -b->tilt + b->width * z0 : z0;
  double d = (x + b->tilt) / b->width;
  bs->log_ratio += 0.5 * x * x - 0.5 * d * d - log(b->width);
  return x;
}

/* Skew-normal variate with location xi, scale omega, shape a (Azzalini's
 * representation: delta|Z0| + sqrt(1 - delta^2) Z1).  The tail bias tilts Z1
 * only (tilted_normal): for a > 0 the short, low side of the distribution --
 * fewer electrons -- is where |Z0| is small and Z1 negative. */
static double skew_normal(const dd_sampler *smp, dd_rng *r, double xi, double omega, double a,
                          det_bias_state *bs) {
  double delta = a / sqrt(1.0 + a * a);
  double z0 = dd_sample_normal(smp, r), z1 = tilted_normal(smp, r, bs);
  return xi + omega * (delta * fabs(z0) + sqrt(1.0 - delta * delta) * z1);
}

static int round_int(double x) {
  return (int)floor(x + 0.5);
}

/* NEST GetQuanta for the mean yields y at field f (draw order: Nq or Ni,
 * then the exciton split or Nex, then Ne).  bs (NULL: unbiased) biases
 * the recombination normal (ER only; the caller passes NULL for NR). */
static det_quanta nest_quanta(const dd_sampler *smp, int cls, const det_yield *y, double e,
                              double f, double rho, det_bias_state *bs, dd_rng *r) {
  det_quanta q = {0, 0, 0};
  double ratio = y->exciton_ratio < 0.0 ? 0.0 : y->exciton_ratio, nq_mean = y->nq;
  if (!(nq_mean > 0.0)) return q;
  double ef = fmax(0.0, fmin(y->qy * e / nq_mean, 1.0)); /* electron fraction */
  double alf = 1.0 / (1.0 + ratio);
  double recomb = 1.0 - (ratio + 1.0) * ef;
  if (recomb < 0.0) ratio = 1.0 / ef - 1.0; /* NEST keeps recomb, fixes the ratio */
  int nq, ni, nex;
  if (cls == DET_ER) {
    double fano = 0.12707 - 0.029623 * rho - 0.0057042 * rho * rho + 0.0015957 * rho * rho * rho;
    fano += fabs(k_w[6]) * sqrt(nq_mean) * sqrt(f); /* FanoER, liquid */
    nq = round_int(nq_mean + sqrt(fano * nq_mean) * dd_sample_normal(smp, r));
    if (nq < 0) nq = 0;
    ni = (int)dd_sample_binomial(smp, r, (uint64_t)nq, alf);
    nex = nq - ni;
  } else {
    double ni_mean = nq_mean * alf, nex_mean = nq_mean * ratio * alf;
    ni = round_int(ni_mean + sqrt(k_w[0] * ni_mean) * dd_sample_normal(smp, r));
    nex = round_int(nex_mean + sqrt(k_w[1] * nex_mean) * dd_sample_normal(smp, r));
    if (ni < 0) ni = 0;
    if (nex < 0) nex = 0;
    nq = ni + nex;
  }
  if (nq <= 0) return q;
  recomb = fmax(0.0, fmin(recomb, 1.0));
  if (ni == 0 || recomb == 0.0) {
    q.n_ph = nex;
    q.n_e = ni;
    q.n_ex = nex;
    return q;
  }
  double omega;
  if (cls == DET_NR) { /* RecombOmegaNR */
    omega = k_w[2] * exp(-0.5 * pow(ef - k_w[3], 2.0) / (k_w[4] * k_w[4]));
  } else { /* RecombOmegaER, single-Gaussian branch (centre < 1) */
    double ampl = 0.07 + (k_w[7] - 0.07) / pow(1.0 + pow(f / 295.2, 251.6), 0.0069114);
    if (ampl < 0.0) ampl = 0.0;
    double cntr = k_w[8], wide = k_w[9], skew = k_w[10];
    double mode = cntr + 2.0 / sqrt(2.0 * DET_PI) * skew * wide / sqrt(1.0 + skew * skew);
    double norm = 1.0 / (exp(-0.5 * pow(mode - cntr, 2.0) / (wide * wide)) *
                         (1.0 + erf(skew * (mode - cntr) / (wide * sqrt(2.0)))));
    omega = norm * ampl * exp(-0.5 * pow(ef - cntr, 2.0) / (wide * wide)) *
            (1.0 + erf(skew * (ef - cntr) / (wide * sqrt(2.0))));
  }
  if (omega < 0.0) omega = 0.0;
  double var = recomb * (1.0 - recomb) * ni + omega * omega * (double)ni * (double)ni;
  /* LUX skewness model, used only between 50 V/cm and 4 kV/cm */
  double skew = 0.0;
  if (!(nq_mean > 1e4 || f > 4e3 || f < 50.0)) {
    if (cls == DET_ER) {
      double engy = 1e-3 * det_nest_w_ev(rho) * nq_mean;
      double a0 = 1.39, cc0 = 4.0, cc1 = 22.1, e0 = 7.7, e1 = 54.0, e2 = 26.7, e3 = 6.4;
      double f0 = 225.0, f1 = 71.0;
      skew =
          1.0 / (1.0 + exp((engy - e2) / e3)) *
              (a0 + cc0 * exp(-f / f0) * (1.0 - exp(-engy / e0))) +
          1.0 / (1.0 + exp(-(engy - e2) / e3)) * cc1 * exp(-engy / e1) * exp(-sqrt(f) / sqrt(f1));
    } else {
      skew = k_w[5];
    }
  }
  double mean = (1.0 - recomb) * ni;
  int ne;
  if (fabs(skew) > 0.0) {
    double wcorr = sqrt(1.0 - 2.0 / DET_PI * skew * skew / (1.0 + skew * skew));
    double mucorr = sqrt(var) / wcorr * (skew / sqrt(1.0 + skew * skew)) * 2.0 / sqrt(2.0 * DET_PI);
    ne = round_int(skew_normal(smp, r, mean - mucorr, sqrt(var) / wcorr, skew, bs));
  } else {
    ne = round_int(mean + sqrt(var) * tilted_normal(smp, r, bs));
  }
  if (ne < 0) ne = 0;
  if (ne > ni) ne = ni;
  q.n_e = ne;
  q.n_ph = nq - ne; /* >= nex because ne <= ni */
  q.n_ex = nex;
  return q;
}

/* laidbax Lenardo et al. (2015) NR global fit: mean produced photons and
 * electrons (nest_yields in sources.py, base_model.py parameters). */
static void laidbax_nr_means(double e, double f, double *nph, double *nel) {
  const double z = 54.0, w = 1.0 / LAIDBAX_QUANTA_PER_KEV;
  double eps = 11.5 * e * pow(z, -7.0 / 3.0);
  double g = 3.0 * pow(eps, 0.15) + 0.7 * pow(eps, 0.6) + eps;
  double lk = 0.1394 * g / (1.0 + 0.1394 * g);
  double nq = e * lk / w;
  double nexni = 1.24 * pow(f, -0.0472) * (1.0 - exp(-239.0 * eps));
  double ni = nq / (1.0 + nexni), nex = nq - ni;
  double xi = 0.01385 * pow(f, -0.0620);
  double fnotr = log(1.0 + ni * xi) / (ni * xi);
  double fnotp = 1.0 / (1.0 + 3.3 * pow(eps, 1.14));
  *nel = ni * fnotr;
  *nph = fnotp * (nex + ni * (1.0 - fnotr));
}

/* laidbax XENONSource.yields (draw order: Nq, [NR: detectable binomial],
 * p_e fluctuation, electron binomial).  bs (NULL: unbiased) biases the p_e
 * normal (laidbax's recombination fluctuation). */
static det_quanta laidbax_quanta(const det_model *m, int cls, double e, det_bias_state *bs,
                                 dd_rng *r) {
  const dd_sampler *smp = &m->smp;
  det_quanta q = {0, 0, 0};
  double mean = LAIDBAX_QUANTA_PER_KEV * e;
  double x = mean + sqrt(0.03 * mean) * dd_sample_normal(smp, r);
  if (x < 1.0) return q; /* laidbax zeroes these events */
  long nq = (long)floor(x + 0.5);
  double pe, fluct;
  if (cls == DET_NR) {
    double nph, nel;
    laidbax_nr_means(e, m->p.drift_field_v_cm, &nph, &nel);
    nq = (long)dd_sample_binomial(smp, r, (uint64_t)nq, fmin(1.0, (nph + nel) / mean));
    pe = nel / (nph + nel);
    fluct = 0.02;
  } else {
    /* pre-PCA mean coefficients, energy clipped to (0, 12] keV */
    double xl = log10(fmin(e, 12.0) / 5.0);
    double qy = 32.5070584 - 27.69486517 * xl + 15.0427901 * xl * xl;
    pe = fmax(0.0, fmin(qy, LAIDBAX_QUANTA_PER_KEV)) / LAIDBAX_QUANTA_PER_KEV;
    fluct = 0.045;
  }
  pe = fmax(0.0, fmin(1.0, pe + fluct * tilted_normal(smp, r, bs)));
  q.n_e = (int)dd_sample_binomial(smp, r, (uint64_t)nq, pe);
  q.n_ph = (int)nq - q.n_e;
  /* laidbax has no exciton bookkeeping; for NEST-style S1 timing use NEST's
   * mean exciton share of the photons */
  det_yield y = det_nest_yield(cls, e, m->p.drift_field_v_cm, m->p.density_g_cm3);
  double share = y.nq > 0.0 ? (y.nq * y.exciton_ratio / (1.0 + y.exciton_ratio)) / (y.ly * e) : 0.0;
  q.n_ex = (int)fmin((double)q.n_ph, floor(share * q.n_ph + 0.5));
  return q;
}

det_quanta det_quanta_draw(const det_model *m, int cls, double e, det_bias_state *bs, dd_rng *r) {
  if (!(e > 0.0)) {
    det_quanta z = {0, 0, 0};
    return z;
  }
  if (m->p.yield_model == DET_YIELD_LAIDBAX) return laidbax_quanta(m, cls, e, bs, r);
  det_yield y = det_nest_yield(cls, e, m->p.drift_field_v_cm, m->p.density_g_cm3);
  return nest_quanta(&m->smp, cls, &y, e, m->p.drift_field_v_cm, m->p.density_g_cm3, bs, r);
}
