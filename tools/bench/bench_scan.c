/* bench_scan.c - the scan stage on the Fig. 9 grid (1 mass x 41 sigma x 41
 * exposures x 16 R, methods paper, sound, classical) with scores in hand
 * (20000 ER + 20000 NR synthetic events): wall time of `stage_scan_run_job` (file,
 * layout, dispatch, unit writes with fsync, R band, commit) and grid points
 * per second, beside the bare statistics of the same 16 units computed in
 * memory on rank 0 (templates, every point, contours) in the same run.  Run
 * alone (np 1) or under mpirun (tools/bench/bench_scan.sh runs np 2). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "ddscan/stage.h"
#include "ddscan/core.h"
#include "ddscan/io.h"
#include "ddscan/par.h"
#include "ddscan/physics.h"
#include "ddscan/scan.h"
#include "ddscan/stats.h"

#define N_EVENTS 20000

static const char *k_cfg =
    "run = { seed = 1; output_dir = \"%s\"; };\n"
    "scan = { mass_gev = [50.0];\n"
    "  sigma_cm2 = { log_from = 1e-49; log_to = 1e-44; points = 41; };\n"
    "  exposure_ty = { log_from = 0.1; log_to = 1000.0; points = 41; };\n"
    "  r = { from = 100.0; to = 250.0; points = 16; };\n"
    "  methods = [\"paper\", \"sound\", \"classical\"]; };\n";

static int die(const char *what) {
  fprintf(stderr, "bench_scan: %s: %s\n", what, dd_error_chain());
  MPI_Abort(MPI_COMM_WORLD, 1);
  return 1;
}

/* The same 16 units in memory: weights, templates, every point, contours
 * (the R-independent classical method once, as the stage does per rank). */
static double bare_stats(const stage_params *p, scan_scores *er_, scan_scores *nr_) {
  const scan_scores er = *er_, nr = *nr_;
  const phys_params *ph = &p->phys;
  const scan_params *g = &p->scan;
  phys_sampler qe, qn;
  memset(&qe, 0, sizeof qe);
  memset(&qn, 0, sizeof qn);
  if (phys_sampler_init_er(&qe, ph) != DD_OK || phys_sampler_init_nr_ref(&qn, ph) != DD_OK)
    die("samplers");
  long n = N_EVENTS;
  double *a = calloc(10 * (size_t)n, sizeof *a);
  double *el = a, *eh = a + n, *ew = a + 2 * n, *e1 = a + 3 * n, *e2 = a + 4 * n;
  double *nl = a + 5 * n, *nh = a + 6 * n, *nw = a + 7 * n, *n1 = a + 8 * n, *n2 = a + 9 * n;
  double t0 = dd_time_now();
  for (long i = 0; i < n; i++) {
    el[i] = stats_lrec(er.rows[i].l_rec, er.rows[i].kl, er.info.beta);
    eh[i] = er.rows[i].h_b;
    ew[i] = phys_weight_er(ph, &qe, er.rows[i].energy_kev) / (double)er.info.n_draws_total;
    e1[i] = er.rows[i].cs1;
    e2[i] = er.rows[i].cs2;
    nl[i] = stats_lrec(nr.rows[i].l_rec, nr.rows[i].kl, nr.info.beta);
    nh[i] = nr.rows[i].h_b;
    nw[i] = phys_weight_nr(ph, &qn, g->mass_gev[0], ph->sigma_ref_cm2, nr.rows[i].energy_kev) /
            (double)nr.info.n_draws_total;
    n1[i] = nr.rows[i].cs1;
    n2[i] = nr.rows[i].cs2;
  }
  stats_events bk = {n, el, eh, ew}, sg = {n, nl, nh, nw};
  stats_events2d bk2 = {n, e1, e2, ew}, sg2 = {n, n1, n2, nw};
  stats_work w;
  if (stats_work_init(&w, 1024, 0) != DD_OK) die("workspace");
  double pv[41], zv[41], lp[41], mu5[41];
  unsigned fl[41];
  /* classical does not depend on R: once, as the stage does per rank */
  stats_template cl;
  if (stats_template_build_2d(&cl, &p->stats.classical, &bk2, &sg2, NULL, ph->sigma_ref_cm2) !=
      DD_OK)
    die("classical template");
  for (int ir = 0; ir < g->n_r; ir++) {
    stats_template ts;
    if (stats_template_build(&ts, &p->stats.binning, &bk, &sg, NULL, g->r[ir], ph->sigma_ref_cm2) !=
        DD_OK)
      die("templates");
    for (int m = 0; m < g->n_methods; m++) {
      int classical = g->methods[m] == STATS_METHOD_CLASSICAL;
      if (classical && ir > 0) continue;
      const stats_template *t = classical ? &cl : &ts;
      for (int is = 0; is < g->n_sigma; is++)
        if (stats_p_vs_exposure(t, &p->stats, g->methods[m], g->sigma_cm2[is] / ph->sigma_ref_cm2,
                                g->exposure_ty, g->n_exposure, &w, pv, zv, lp) != DD_OK)
          die("evaluation");
      if (stats_contour(t, &p->stats, g->methods[m], g->exposure_ty, g->n_exposure, 1, 0, &w, mu5,
                        fl) != DD_OK)
        die("contour");
    }
    stats_template_free(&ts);
  }
  stats_template_free(&cl);
  double dt = dd_time_now() - t0;
  stats_work_free(&w);
  free(a);
  phys_sampler_free(&qe);
  phys_sampler_free(&qn);
  return dt;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  par_world w;
  par_world_init(&w, MPI_COMM_WORLD);
  dd_log_init(w.rank, w.size, DD_LOG_QUIET);
  char dir[512] = "";
  if (w.rank == 0) {
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/ddscan-bench-scan-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(dir)) return die("mkdtemp");
  }
  MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, w.comm);
  char text[2048], path[700];
  snprintf(text, sizeof text, k_cfg, dir);
  snprintf(path, sizeof path, "%s/results.h5", dir);
  cfg_doc *cfg = NULL;
  stage_params *p = calloc(1, sizeof *p);
  if (cfg_parse(&cfg, text, "bench") != DD_OK || stage_params_load(cfg, p) != DD_OK) die("config");
  double t0 = dd_time_now();
  if (stage_score_write_synthetic(&w, &p->phys, 1, N_EVENTS, N_EVENTS, dir, text, 1, argc, argv) !=
      DD_OK)
    die("scores");
  double t_scores = dd_time_now() - t0;
  scan_job job = {.phys = &p->phys,
                  .stats = &p->stats,
                  .grid = &p->scan,
                  .seed = 1,
                  .input_path = path,
                  .output_path = path,
                  .config_text = text,
                  .config_hash = scan_config_hash(cfg),
                  .shard_index = -1,
                  .shard_count = -1,
                  .argc = argc,
                  .argv = argv};
  MPI_Barrier(w.comm);
  t0 = dd_time_now();
  if (stage_scan_run_job(&w, &job) != DD_OK) die("scan");
  double t_scan = dd_time_now() - t0;
  double t_bare = 0.0;
  io_file *f = NULL;
  scan_scores er, nr;
  /* collective reads on every rank; rank 0 alone then computes */
  if (io_file_open(&w, path, IO_READ, &f) != DD_OK ||
      stage_scores_read(f, SCAN_BANK_ER, &er) != DD_OK ||
      stage_scores_read(f, SCAN_BANK_NR, &nr) != DD_OK)
    die("reading the scores");
  io_file_close(&f);
  if (w.rank == 0) t_bare = bare_stats(p, &er, &nr);
  scan_scores_free(&er);
  scan_scores_free(&nr);
  const scan_params *g = &p->scan;
  double points = (double)g->n_mass * g->n_sigma * g->n_exposure * g->n_r;
  if (w.rank == 0) {
    printf(
        "scan: Fig. 9 grid %d mass x %d sigma x %d exposures x %d R = %.0f grid points, %d "
        "methods; %d ER + %d NR scored events (synthetic scores written in %.2f s)\n",
        g->n_mass, g->n_sigma, g->n_exposure, g->n_r, points, g->n_methods, N_EVENTS, N_EVENTS,
        t_scores);
    printf("scan: np %d: ddscan scan stage %.2f s = %.0f grid points/s (%.0f point-methods/s)\n",
           w.size, t_scan, points / t_scan, points * g->n_methods / t_scan);
    printf(
        "scan: np %d: the same 16 units' statistics alone on one rank %.2f s; stage / bare "
        "statistics = %.2f (file, layout, dispatch, fsync'ed unit writes, band, commit)\n",
        w.size, t_bare, t_scan / t_bare);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench_scan: could not remove %s\n", dir);
  }
  cfg_free(cfg);
  free(p);
  MPI_Finalize();
  return 0;
}
