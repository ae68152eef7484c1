/* special.c - normal and chi^2 tail probabilities and their inverses, accurate
 * in relative terms down to p = 1e-300 and finite in log space beyond, plus the
 * cancellation-free q0,A bin term (spec §2.2, §8 nos. 1-8, 19).
 * Sources: Acklam's inverse-normal rational approximation (2003, coefficients
 * as published), Halley refinement; Numerical Recipes §6.2 for the incomplete
 * gamma series and Lentz continued fraction (algorithms, not code). */
#include "ddscan/stats.h"

#include <float.h>
#include <math.h>

#define LOG_SQRT_2PI 0.91893853320467274178 /* ln sqrt(2 pi) */
#define SQRT_2PI 2.50662827463100050242
#define LN2 0.69314718055994530942
#define SQRT1_2 0.70710678118654752440 /* 1/sqrt 2 */

/* ---------------------------------------------------------------- normal */

double stats_norm_sf(double z) {
  if (isnan(z)) return NAN;
  /* erfc keeps full relative accuracy in its tail; beyond z = 37.5 the value
   * is below DBL_MIN and only the log form is meaningful. */
  if (z < 37.5) return 0.5 * erfc(z * SQRT1_2);
  return exp(stats_norm_logsf(z));
}

double stats_norm_logsf(double z) {
  if (isnan(z)) return NAN;
  if (z < 30.0) {
    if (z < -5.0) return log1p(-0.5 * erfc(-z * SQRT1_2)); /* Phibar near 1 */
    return log(0.5 * erfc(z * SQRT1_2));
  }
  if (isinf(z)) return -INFINITY;
  /* Laplace asymptotic series: Phibar(z) = phi(z)/z (1 - 1/z^2 + 3/z^4 - ...);
   * at z >= 30 the terms fall below 1e-17 of the sum after eight of them. */
  double iz2 = 1.0 / (z * z), term = 1.0, sum = 1.0;
  for (int n = 1; n <= 10; n++) {
    term *= -(2.0 * n - 1.0) * iz2;
    sum += term;
  }
  return -0.5 * z * z - log(z) - LOG_SQRT_2PI + log(sum);
}

/* Acklam's rational approximation of Phi^-1(p) (relative error < 1.2e-9). */
static double acklam_ppf(double p) {
  static const double a[6] = {-3.969683028665376e+01, 2.209460984245205e+02,
                              -2.759285104469687e+02, 1.383577518672690e+02,
                              -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[5] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                              6.680131188771972e+01, -1.328068155288572e+01};
  static const double c[6] = {-7.784894002430293e-03, -3.223964580411365e-01,
                              -2.400758277161838e+00, -2.549732539343734e+00,
                              4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[4] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                              3.754408661907416e+00};
  const double p_low = 0.02425;
  if (p < p_low) {
    double q = sqrt(-2.0 * log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
  }
  if (p > 1.0 - p_low) {
    double q = sqrt(-2.0 * log1p(-p));
    return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
  }
  double q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
}

double stats_norm_isf(double p) {
  if (isnan(p)) return NAN;
  if (p <= 0.0) return INFINITY;
  if (p >= 1.0) return -INFINITY;
  if (p < 1e-300) return stats_norm_isf_log(log(p));
  /* z = -Phi^-1(p): work with the lower-tail x = -z so that the residual
   * Phi(x) - p is computed from erfc without a 1 - p cancellation. */
  double x = acklam_ppf(p);
  for (int it = 0; it < 2; it++) {
    double e = 0.5 * erfc(-x * SQRT1_2) - p;
    double u = e * SQRT_2PI * exp(0.5 * x * x);
    x = x - u / (1.0 + 0.5 * x * u);
  }
  return -x;
}

double stats_norm_isf_log(double logp) {
  if (isnan(logp)) return NAN;
  if (logp >= 0.0) return -INFINITY;
  if (logp == -INFINITY) return INFINITY;
  if (logp > -690.0) return stats_norm_isf(exp(logp)); /* 1e-300 = e^-690.8 */
  /* Newton on f(z) = log Phibar(z) - logp, f'(z) = -phi(z)/Phibar(z); start
   * from the leading asymptote log Phibar ~ -z^2/2 - ln(z sqrt(2 pi)). */
  double z = sqrt(-2.0 * logp);
  z = sqrt(-2.0 * logp - 2.0 * log(z) - 2.0 * LOG_SQRT_2PI);
  for (int it = 0; it < 60; it++) {
    double ls = stats_norm_logsf(z);
    double lphi = -0.5 * z * z - LOG_SQRT_2PI;
    double dz = (ls - logp) / exp(lphi - ls);
    z += dz;
    if (fabs(dz) <= 1e-15 * z) break;
  }
  return z;
}

/* ------------------------------------------------------------ chi-square */

/* ln of the regularised incomplete gamma P(a, x) and Q(a, x), x > 0. */
static double gamma_log_prefix(double a, double x) {
  return a * log(x) - x - lgamma(a);
}

/* Series P(a, x) = e^-x x^a / Gamma(a+1) sum x^n / ((a+1)...(a+n)); x < a + 1. */
static double gamma_p_series_log(double a, double x) {
  double term = 1.0, sum = 1.0;
  for (int n = 1; n < 10000; n++) {
    term *= x / (a + n);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return gamma_log_prefix(a, x) - log(a) + log(sum);
}

/* Continued fraction for Q(a, x) (modified Lentz); x >= a + 1. */
static double gamma_q_cf_log(double a, double x) {
  const double tiny = 1e-300;
  double bb = x + 1.0 - a, c = 1.0 / tiny, d = 1.0 / bb, h = d;
  for (int i = 1; i < 10000; i++) {
    double an = -i * (i - a);
    bb += 2.0;
    d = an * d + bb;
    if (fabs(d) < tiny) d = tiny;
    c = bb + an / c;
    if (fabs(c) < tiny) c = tiny;
    d = 1.0 / d;
    double del = d * c;
    h *= del;
    if (fabs(del - 1.0) < 1e-16) break;
  }
  return gamma_log_prefix(a, x) + log(h);
}

double stats_chi2_logsf(double x, int k) {
  if (isnan(x) || k < 1) return NAN;
  if (x <= 0.0) return 0.0;
  if (isinf(x)) return -INFINITY;
  if (k == 1) return LN2 + stats_norm_logsf(sqrt(x)); /* 2 Phibar(sqrt x) */
  if (k == 2) return -0.5 * x;
  double a = 0.5 * k, y = 0.5 * x;
  if (y < a + 1.0) return log1p(-exp(gamma_p_series_log(a, y)));
  return gamma_q_cf_log(a, y);
}

double stats_chi2_sf(double x, int k) {
  if (isnan(x) || k < 1) return NAN;
  if (x <= 0.0) return 1.0;
  if (k == 1) return erfc(sqrt(0.5 * x)); /* full relative accuracy */
  return exp(stats_chi2_logsf(x, k));
}

double stats_chi2_isf_log(double logp, int k) {
  if (isnan(logp) || k < 1) return NAN;
  if (logp >= 0.0) return 0.0;
  if (logp == -INFINITY) return INFINITY;
  if (k == 1) {
    double z = stats_norm_isf_log(logp - LN2);
    return z * z;
  }
  if (k == 2) return -2.0 * logp;
  /* Wilson-Hilferty start, then Newton on ln Q (concave in x for k >= 2). */
  double z = stats_norm_isf_log(logp), h = 2.0 / (9.0 * k);
  double x = k * pow(fmax(1.0 - h + z * sqrt(h), 0.1), 3.0);
  double a = 0.5 * k, lnorm = a * LN2 + lgamma(a);
  for (int it = 0; it < 200; it++) {
    double lq = stats_chi2_logsf(x, k);
    double lpdf = (a - 1.0) * log(x) - 0.5 * x - lnorm;
    double dx = (lq - logp) / exp(lpdf - lq);
    double xn = x + dx;
    if (xn <= 0.0) xn = 0.5 * x;
    if (fabs(xn - x) <= 1e-15 * x) {
      x = xn;
      break;
    }
    x = xn;
  }
  return x;
}

double stats_chi2_isf(double p, int k) {
  if (isnan(p)) return NAN;
  if (p <= 0.0) return INFINITY;
  if (p >= 1.0) return 0.0;
  if (k == 1) {
    double z = stats_norm_isf(0.5 * p);
    return z * z;
  }
  return stats_chi2_isf_log(log(p), k);
}

/* ---------------------------------------------------------- bin terms */

double stats_log1pmx(double x) {
  if (fabs(x) < 1e-2) {
    /* -x^2/2 + x^3/3 - ... ; nine terms leave < 1e-19 relative error */
    double sum = 0.0, xn = x;
    for (int n = 2; n <= 10; n++) {
      xn *= -x;
      sum += xn / n;
    }
    return sum;
  }
  return log1p(x) - x;
}

double stats_qa_term(double s, double b) {
  if (s <= 0.0) return 0.0;
  if (b <= 0.0) return INFINITY;
  double x = s / b;
  if (x < 1e-2) {
    /* (1+x) ln(1+x) - x = sum_{n>=2} (-1)^n x^n / (n (n-1)); spec §2.2 */
    double sum = 0.0, xn = x;
    for (int n = 2; n <= 10; n++) {
      xn *= (n == 2) ? x : -x;
      sum += xn / (n * (n - 1.0));
    }
    return b * sum;
  }
  return b * ((1.0 + x) * log1p(x) - x);
}
