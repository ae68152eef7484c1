/* bench_physics.c - cost of the physics calls on the event and scan paths,
 * measured side by side in one run: a sampler draw (with its Philox uniform)
 * and a per-event weight, against a bare Philox uniform and a libm exp();
 * plus building the NR reference sampler and one integrated rate. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ddscan/core.h"    /* uses: dd_rng, dd_time_now */
#include "ddscan/physics.h" /* uses: phys_* */

#define N_CALLS 2000000

static volatile double g_sink; /* keeps the loops from being optimised away */

int main(void) {
  phys_params p;
  if (phys_params_default(&p) != DD_OK) {
    dd_error_print(stderr, -1);
    return 1;
  }
  phys_sampler q;
  double t0 = dd_time_now();
  if (phys_sampler_init_nr_ref(&q, &p) != DD_OK) {
    dd_error_print(stderr, -1);
    return 1;
  }
  double t_build = dd_time_now() - t0;

  dd_rng r = dd_rng_for(1, DD_STREAM_TEST, 0, 0, 0);
  double s = 0;
  t0 = dd_time_now();
  for (int i = 0; i < N_CALLS; i++) s += dd_rng_uniform(&r);
  double t_uni = (dd_time_now() - t0) / N_CALLS;
  g_sink = s;

  t0 = dd_time_now();
  for (int i = 0; i < N_CALLS; i++) s += exp(-1e-6 * i);
  double t_exp = (dd_time_now() - t0) / N_CALLS;
  g_sink = s;

  r = dd_rng_for(1, DD_STREAM_TEST, 1, 0, 0);
  t0 = dd_time_now();
  for (int i = 0; i < N_CALLS; i++) s += phys_sampler_draw(&q, dd_rng_uniform(&r));
  double t_draw = (dd_time_now() - t0) / N_CALLS;
  g_sink = s;

  t0 = dd_time_now();
  for (int i = 0; i < N_CALLS; i++) s += phys_dRdE(&p, 50.0, 1e-45, 0.5 + 1e-4 * (i % 1000000));
  double t_rate = (dd_time_now() - t0) / N_CALLS;
  g_sink = s;

  t0 = dd_time_now();
  for (int i = 0; i < N_CALLS; i++)
    s += phys_weight_nr(&p, &q, 50.0, 1e-45, 0.5 + 1e-4 * (i % 1000000));
  double t_weight = (dd_time_now() - t0) / N_CALLS;
  g_sink = s;

  double v = 0;
  t0 = dd_time_now();
  const int n_int = 200;
  for (int i = 0; i < n_int; i++)
    if (phys_rate_integral(&p, 10.0 + i, 1e-45, 4, 50, NULL, PHYS_QUAD_ADAPTIVE, &v) != DD_OK)
      return 1;
  double t_int = (dd_time_now() - t0) / n_int;
  g_sink = v;

  printf("physics: Philox uniform         %8.1f ns\n", t_uni * 1e9);
  printf("physics: libm exp               %8.1f ns\n", t_exp * 1e9);
  printf("physics: sampler draw + uniform %8.1f ns  (%.1f x a uniform)\n", t_draw * 1e9,
         t_draw / t_uni);
  printf("physics: dR/dE                  %8.1f ns  (%.1f x exp)\n", t_rate * 1e9, t_rate / t_exp);
  printf("physics: NR weight (dR/dE / q)  %8.1f ns  (%.1f x exp)\n", t_weight * 1e9,
         t_weight / t_exp);
  printf("physics: integrated rate 4-50   %8.1f us\n", t_int * 1e6);
  printf("physics: NR reference sampler   %8.2f ms (%d points, %d masses)\n", t_build * 1e3,
         p.sampler_points, p.nr_ref.n_mass);
  phys_sampler_free(&q);
  return 0;
}
