/* bench_er_bias.c - gain of the importance-biased ER tail (detector.er_bias,
 * docs/detector.md §11) on larger samples than the test: effective MC per
 * simulated draw, (sum w)^2 / sum w^2 summed over the bins of a tail region
 * and divided by the draws, biased over unbiased, for a list of proposals.
 * xent_sr0, ER energies flat 0-15 keVee (the ER bank's spectrum); regions in
 * the 10 cS1 band bins (3-100 PE) by y = log10(cS2/cS1) relative to the 50
 * GeV NR median of the bin, as tests/test_detector.c.  Prints; asserts
 * nothing.  Usage: bench_er_bias [n_unbiased n_biased [tilt width fraction
 * s1_tilt]...]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddscan/core.h"
#include "ddscan/detector.h"

#define YB 5
static const double k_nr_median[DET_BAND_BINS] = {2.206, 2.048, 1.937, 1.834, 1.755,
                                                  1.690, 1.621, 1.564, 1.512, 1.444};
typedef struct hist {
  double sw[DET_BAND_BINS * YB], sw2[DET_BAND_BINS * YB], draws, wmax;
} hist;

static int bin_of(const det_event *ev) {
  double cs1 = ev->cs1_pe;
  if (!(cs1 >= det_band_edges_pe[0] && cs1 < det_band_edges_pe[DET_BAND_BINS]) ||
      !(ev->cs2_pe > 0.0))
    return -1;
  int b = 0;
  while (cs1 >= det_band_edges_pe[b + 1]) b++;
  double d = log10(ev->cs2_pe / cs1) - k_nr_median[b];
  int yb = d < -0.15 ? 0 : d < -0.10 ? 1 : d < -0.05 ? 2 : d < 0.0 ? 3 : 4;
  return b * YB + yb;
}

static int fill(const det_params *base, const det_bias *b, uint32_t seed, long n, hist *h) {
  static det_model m;
  det_params p = *base;
  p.bank.n[DET_ER][DET_SPLIT_TRAIN] = p.bank.n[DET_ER][DET_SPLIT_TEST] = 0;
  p.bank.n[DET_ER][DET_SPLIT_ANALYSIS] = (uint64_t)n;
  p.er_bias = *b;
  if (det_model_init(&m, &p, 1) != DD_OK) return -1;
  det_energy_flat_ctx c = {0.0, 15.0};
  memset(h, 0, sizeof *h);
  for (long i = 0; i < n; i++) {
    det_event ev;
    if (det_event_sample(&m, DET_ER, seed, (uint64_t)i, det_energy_flat, &c, &ev) != DD_OK)
      return -1;
    h->draws += ev.attempts;
    if (ev.weight > h->wmax) h->wmax = ev.weight;
    int k = bin_of(&ev);
    if (k < 0) continue;
    h->sw[k] += ev.weight;
    h->sw2[k] += ev.weight * ev.weight;
  }
  return 0;
}

/* effective events per draw in tail levels [0, lv] of every cS1 bin */
static double ess(const hist *h, int lv) {
  double e = 0.0;
  for (int b = 0; b < DET_BAND_BINS; b++)
    for (int y = 0; y <= lv; y++) {
      int k = b * YB + y;
      if (h->sw2[k] > 0.0) e += h->sw[k] * h->sw[k] / h->sw2[k];
    }
  return e / h->draws;
}

/* effective size of the whole accepted band per draw (all bins at once) */
static double ess_all(const hist *h) {
  double s = 0.0, s2 = 0.0;
  for (int k = 0; k < DET_BAND_BINS * YB; k++) {
    s += h->sw[k];
    s2 += h->sw2[k];
  }
  return s2 > 0.0 ? s * s / s2 / h->draws : 0.0;
}

int main(int argc, char **argv) {
  long n_u = 400000, n_b = 100000;
  det_bias props[16] = {
      {2.0, 0.7, 0.8, 0.0}, /* the first version: recombination only */
      {DET_BIAS_TILT, DET_BIAS_WIDTH, DET_BIAS_FRACTION, DET_BIAS_S1_TILT}, /* recommended */
      {DET_BIAS_TILT, DET_BIAS_WIDTH, DET_BIAS_FRACTION, 0.0}, /* without the S1 tilt */
  };
  int n_p = 3;
  if (argc >= 3) {
    n_u = atol(argv[1]);
    n_b = atol(argv[2]);
    if ((argc - 3) % 4 != 0 || n_u <= 0 || n_b <= 0) {
      fprintf(stderr, "usage: %s [n_unbiased n_biased [tilt width fraction s1_tilt]...]\n",
              argv[0]);
      return 2;
    }
    if (argc > 3) n_p = 0;
    for (int a = 3; a + 3 < argc && n_p < 16; a += 4)
      props[n_p++] =
          (det_bias){atof(argv[a]), atof(argv[a + 1]), atof(argv[a + 2]), atof(argv[a + 3])};
  }
  det_params base;
  det_params_preset(&base, DET_PRESET_XENT_SR0);
  static hist hu, hb;
  const det_bias off = {0.0, DET_BIAS_WIDTH, DET_BIAS_FRACTION, 0.0};
  if (fill(&base, &off, 41, n_u, &hu) != 0) return 1;
  printf(
      "er_bias gain: xent_sr0, ER flat 0-15 keVee, %ld unbiased / %ld biased events per "
      "proposal; gain = effective tail MC per draw, biased over unbiased\n",
      n_u, n_b);
  printf(
      "er_bias gain: unbiased effective events per draw: < -0.15 %.2e, < -0.10 %.2e, "
      "< -0.05 %.2e, < 0 %.2e (y relative to the NR median)\n",
      ess(&hu, 0), ess(&hu, 1), ess(&hu, 2), ess(&hu, 3));
  for (int i = 0; i < n_p; i++) {
    if (fill(&base, &props[i], 43, n_b, &hb) != 0) return 1;
    printf(
        "er_bias gain: tilt %.2f width %.2f fraction %.2f s1_tilt %.2f: gain < -0.15 %5.1f, "
        "< -0.10 %5.1f, < -0.05 %5.1f, < 0 %5.2f; band ESS/draw %.3f (unbiased %.3f); max "
        "weight %.2f\n",
        props[i].tilt, props[i].width, props[i].fraction, props[i].s1_tilt,
        ess(&hb, 0) / ess(&hu, 0), ess(&hb, 1) / ess(&hu, 1), ess(&hb, 2) / ess(&hu, 2),
        ess(&hb, 3) / ess(&hu, 3), ess_all(&hb), ess_all(&hu), hb.wmax);
    fflush(stdout);
  }
  return 0;
}
