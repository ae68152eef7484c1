/* bench_detector.c - simulated-and-rendered event images per second on one
 * core (issue target: 20000), measured side by side: simulation alone per
 * class, rendering alone per mode, and the balanced ER/NR mix that a bank
 * needs, for each preset.  Energies as in a bank: the physics module's ER
 * sampler (flat 0-15 keVee) and NR reference spectrum q(E) (a mixture of
 * WIMP spectra, 6-1000 GeV, and an exponential floor).  Prints; asserts
 * nothing. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ddscan/core.h"
#include "ddscan/detector.h"
#include "ddscan/image.h"
#include "ddscan/physics.h"

#define TARGET_PER_S 20000.0

/* CPU seconds of this process: "per core" means per CPU-second, so time the
 * machine spent on other processes does not count (wall time shown too). */
static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static phys_sampler g_q[2]; /* ER sampler, NR reference q(E) */

static double draw(void *ctx, double u) {
  return phys_sampler_draw(ctx, u);
}

static double run(const det_model *m, const img_renderer *r, int cls_mode, int render, int n,
                  det_event *ev, float *img, uint64_t *draws) {
  double t0 = cpu_now();
  *draws = 0;
  for (int i = 0; i < n; i++) {
    int cls = cls_mode < 2 ? cls_mode : (i & 1);
    if (det_event_sample(m, cls, 7, (uint64_t)i, draw, &g_q[cls], ev) != DD_OK) {
      dd_error_print(stderr, -1);
      exit(1);
    }
    *draws += ev->attempts;
    if (render) img_render_physics(r, ev, img);
  }
  return cpu_now() - t0;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 20000;
  static det_model m;
  static img_renderer r;
  static det_event ev[64];
  static float img[IMG_SIZE];
  img_params ip;
  img_params_default(&ip);
  phys_params pp;
  if (phys_params_default(&pp) != DD_OK || phys_sampler_init_er(&g_q[DET_ER], &pp) != DD_OK ||
      phys_sampler_init_nr_ref(&g_q[DET_NR], &pp) != DD_OK) {
    dd_error_print(stderr, -1);
    return 1;
  }
  printf("bench_detector: %d events per measurement, one core\n", n);
  printf("%-12s %10s %10s %10s %10s %10s %12s %8s %12s\n", "preset", "ER us/ev", "NR us/ev",
         "draws/ev", "render us", "pax ms", "images/s", "vs 20k", "wall img/s");
  for (int k = 0; k < 3; k++) {
    det_params p;
    det_params_preset(&p, (det_preset)k);
    if (det_model_init(&m, &p, 1) != DD_OK || img_renderer_init(&r, &ip, &m) != DD_OK) {
      dd_error_print(stderr, -1);
      return 1;
    }
    uint64_t d_er, d_nr, d_mix;
    double t_er = run(&m, &r, DET_ER, 0, n / 2, &ev[0], img, &d_er);
    double t_nr = run(&m, &r, DET_NR, 0, n / 2, &ev[0], img, &d_nr);
    /* rendering alone over a ring of 64 stored records */
    for (int i = 0; i < 64; i++)
      det_event_sample(&m, i & 1, 9, (uint64_t)i, draw, &g_q[i & 1], &ev[i]);
    double t0 = cpu_now();
    for (int i = 0; i < n; i++) img_render_physics(&r, &ev[i & 63], img);
    double t_render = cpu_now() - t0;
    t0 = cpu_now();
    for (int i = 0; i < 10; i++) img_render_paxlike(&r, &ev[i], img);
    double t_pax = cpu_now() - t0;
    /* the balanced mix, simulated and rendered */
    double w0 = dd_time_now();
    double t_mix = run(&m, &r, 2, 1, n, &ev[0], img, &d_mix);
    double wall = dd_time_now() - w0;
    double rate = n / t_mix;
    printf("%-12s %10.1f %10.1f %10.2f %10.2f %10.1f %12.0f %7.2fx %12.0f\n", p.preset_name,
           t_er / (n / 2) * 1e6, t_nr / (n / 2) * 1e6, (double)d_mix / n, t_render / n * 1e6,
           t_pax / 10 * 1e3, rate, rate / TARGET_PER_S, n / wall);
  }
  printf(
      "(CPU time of this process.  us/ev: per accepted event, rejected draws included;\n"
      " images/s: balanced ER/NR mix simulated and rendered in physics mode, per CPU-second;\n"
      " wall img/s: the same over wall time; pax: paxlike rendering, previews only)\n");
  return 0;
}
