/* mpi_scan.c - the scan stage under mpirun -n 1..4: the /scores schema round
 * trip and its checks (missing file, group, attribute, bad value, a draw count
 * that does not add up); a small scan on synthetic scores checked against an
 * independent recomputation with the stats and physics APIs (every method at
 * every point, the contour meets its threshold, templates, band, effective
 * sample sizes, classical independent of R); the dispatcher's progress count.
 * With arguments it writes synthetic scores for tests/e2e, tests/py, the
 * bench and make check-slurm:
 *   mpi_scan scores CONFIG [--er N] [--nr N] [--set KEY=VALUE]...
 *     -> <run.output_dir>/results.h5 holding the stage "score" */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

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

static par_world g_w;
static char g_dir[512];
static char g_argv0[] = "mpi_scan";
static char *g_argv[] = {g_argv0, NULL};

#define ASSERT_OK(expr)                                                                        \
  do {                                                                                         \
    dd_status st_ = (expr);                                                                    \
    if (st_ != DD_OK) fail_msg("%s failed on rank %d: %s", #expr, g_w.rank, dd_error_chain()); \
  } while (0)

static void sub_dir(const char *name, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/%s", g_dir, name);
  if (g_w.rank == 0) dd_mkdir_p(buf);
  MPI_Barrier(g_w.comm);
}

/* Parses configuration text into params (every rank, same text). */
static cfg_doc *load(const char *text, stage_params *p) {
  cfg_doc *d = NULL;
  dd_error_clear();
  ASSERT_OK(cfg_parse(&d, text, "mpi_scan.cfg"));
  ASSERT_OK(stage_params_load(d, p));
  return d;
}

/* ------------------------------------------------------------- the schema */

static void test_scores_roundtrip(void **state) {
  (void)state;
  char dir[600], path[700];
  sub_dir("roundtrip", dir, sizeof dir);
  stage_params *p = calloc(1, sizeof *p);
  cfg_doc *d = load("run = { seed = 11; };", p);
  ASSERT_OK(stage_score_write_synthetic(&g_w, &p->phys, 11, 257, 131, dir, "x", 1, 1, g_argv));
  snprintf(path, sizeof path, "%s/results.h5", dir);
  io_file *f = NULL;
  ASSERT_OK(io_file_open(&g_w, path, IO_READ, &f));
  phys_sampler q[2];
  memset(q, 0, sizeof q);
  ASSERT_OK(phys_sampler_init_er(&q[0], &p->phys));
  ASSERT_OK(phys_sampler_init_nr_ref(&q[1], &p->phys));
  dd_sampler *smp = malloc(sizeof *smp);
  assert_non_null(smp);
  dd_sampler_init(smp);
  long long want_n[2] = {257, 131};
  for (int b = 0; b < 2; b++) {
    scan_scores s;
    ASSERT_OK(stage_scores_read(f, (scan_bank)b, &s));
    assert_int_equal(s.n, want_n[b]);
    assert_true(s.info.beta == 0.5);
    assert_int_equal(s.info.seed, 11);
    assert_string_equal(s.info.detector_preset, "synthetic");
    long long draws = 0;
    for (long long i = 0; i < s.n; i++) {
      scan_score_record ref;
      scan_synthetic_event(&q[b], smp, (scan_bank)b, 11, i, &ref);
      if (memcmp(&ref, &s.rows[i], sizeof ref) != 0)
        fail_msg("bank %d row %lld differs from its synthetic event", b, i);
      assert_true(s.rows[i].cs1 >= 3.0 && s.rows[i].cs1 <= 100.0);
      assert_true(s.rows[i].h_b == stats_hb_from_logit(s.rows[i].logit));
      draws += s.rows[i].attempts;
    }
    assert_int_equal(s.info.n_draws_total, draws);
    assert_true(draws > s.n); /* the cS1 window rejects some draws */
    scan_scores_free(&s);
  }
  /* the energies are the sampler's: ER keVee in [0, 15] */
  ASSERT_OK(io_file_close(&f));
  phys_sampler_free(&q[0]);
  phys_sampler_free(&q[1]);
  free(smp);
  cfg_free(d);
  free(p);
}

/* A "score" stage writing bank ER as given and a correct NR bank; `edit`
 * may change the ER info or rows, or drop an attribute. */
typedef enum bad_kind { BAD_DRAWS, BAD_ATTR, BAD_VALUE, BAD_NO_SCORES } bad_kind;

static dd_status write_bad(const char *dir, bad_kind kind) {
  char path[700];
  snprintf(path, sizeof path, "%s/results.h5", dir);
  const char *owned_scores[] = {"/scores"}, *owned_other[] = {"/banks"};
  io_stage s = {.name = kind == BAD_NO_SCORES ? "simulate" : "score",
                .owned = kind == BAD_NO_SCORES ? owned_other : owned_scores,
                .n_owned = 1,
                .input_path = path,
                .output_path = path,
                .config_text = "",
                .config_hash = 3,
                .argc = 1,
                .argv = g_argv,
                .shard_index = -1,
                .shard_count = -1};
  io_file *f = NULL;
  DD_TRY(io_stage_begin(&g_w, &s, &f, NULL), "bad file");
  scan_score_record rows[4];
  memset(rows, 0, sizeof rows);
  for (int i = 0; i < 4; i++) {
    rows[i].event = i;
    rows[i].cs1 = 10.0;
    rows[i].cs2 = 1000.0;
    rows[i].energy_kev = 5.0;
    rows[i].attempts = 2;
    rows[i].weight = 1.0;
  }
  if (kind == BAD_VALUE) rows[3].h_b = -1.0;
  scan_bank_info info = {0.5, kind == BAD_DRAWS ? 7 : 8, 1, "test"};
  long long n_local = g_w.rank == 0 ? 4 : 0;
  dd_status st = DD_OK;
  if (kind == BAD_NO_SCORES) {
    long long n = 4;
    st = io_axis_write(f, "/banks/er/index", IO_I64, 4, (int64_t[]){0, 1, 2, 3}, "1", "rows");
    const char *ax[1] = {"/banks/er/index"};
    if (st == DD_OK)
      st = io_dataset_create(f, "/banks/er/energy_kev", IO_F64, 1, &n, ax, "keV", "energy");
  } else {
    st = stage_scores_write(f, SCAN_BANK_ER, rows, n_local, &info);
    info.n_draws_total = 8;
    if (st == DD_OK) st = stage_scores_write(f, SCAN_BANK_NR, rows, n_local, &info);
    if (st == DD_OK && kind == BAD_ATTR) st = io_attr_delete(f, "/scores/nr", "beta");
  }
  if (st != DD_OK) {
    io_file_close(&f);
    return st;
  }
  return io_stage_commit(&f);
}

static void test_scores_errors(void **state) {
  (void)state;
  struct {
    bad_kind kind;
    const char *want, *want2;
  } cases[] = {
      {BAD_DRAWS, "/scores/er@n_draws_total = 7 but the attempts of its 4 events sum to 8", NULL},
      {BAD_ATTR, "'/scores/nr' has no attribute 'beta'", "ddscan score CONFIG"},
      {BAD_VALUE, "/scores/er row 3 (event 3): h_b is not finite and >= 0", NULL},
      {BAD_NO_SCORES, "has no /scores", "ddscan score CONFIG"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char dir[600], name[32], path[700];
    snprintf(name, sizeof name, "bad%zu", i);
    sub_dir(name, dir, sizeof dir);
    ASSERT_OK(write_bad(dir, cases[i].kind));
    snprintf(path, sizeof path, "%s/results.h5", dir);
    io_file *f = NULL;
    ASSERT_OK(io_file_open(&g_w, path, IO_READ, &f));
    scan_scores er, nr;
    dd_status st = stage_scores_read(f, SCAN_BANK_ER, &er);
    if (st == DD_OK) st = stage_scores_read(f, SCAN_BANK_NR, &nr);
    assert_int_equal(st, DD_ERR_IO);
    assert_error_contains(cases[i].want);
    assert_error_contains(path);
    if (cases[i].want2) assert_error_contains(cases[i].want2);
    if (st == DD_OK) scan_scores_free(&nr);
    dd_error_clear();
    io_file_close(&f);
  }
}

/* ------------------------------------------------------------- the scan */

static const char *k_scan_cfg =
    "run = { seed = 7; output_dir = \"%s\"; };\n"
    "scan = { mass_gev = [10.0, 100.0]; sigma_cm2 = [1e-46, 1e-45, 1e-44];\n"
    "  exposure_ty = [0.5, 5.0, 50.0]; r = [0.0, 170.0];\n"
    "  methods = [\"sound\", \"paper\", \"toys\", \"classical\"]; min_effective_events = 1.0; };\n"
    "stats = { r_band = [0.0, 300.0]; binning = { bins = 12; };\n"
    "  toys = { count = 40; importance = false; };\n"
    "  classical = { cs1_bins = 5; y_bins = 3; y_rule = \"quantile\"; }; };\n";

typedef struct scan_fixture {
  stage_params *p;
  cfg_doc *cfg;
  char dir[600], path[700];
} scan_fixture;

static scan_fixture g_fx;

static int scan_setup(void **state) {
  (void)state;
  sub_dir("scan", g_fx.dir, sizeof g_fx.dir);
  char text[2048];
  snprintf(text, sizeof text, k_scan_cfg, g_fx.dir);
  g_fx.p = calloc(1, sizeof *g_fx.p);
  g_fx.cfg = load(text, g_fx.p);
  snprintf(g_fx.path, sizeof g_fx.path, "%s/results.h5", g_fx.dir);
  if (stage_score_write_synthetic(&g_w, &g_fx.p->phys, 7, 1200, 900, g_fx.dir, text, 5, 1,
                                  g_argv) != DD_OK)
    return 1;
  scan_job job = {.phys = &g_fx.p->phys,
                  .stats = &g_fx.p->stats,
                  .grid = &g_fx.p->scan,
                  .seed = 7,
                  .input_path = g_fx.path,
                  .output_path = g_fx.path,
                  .config_text = text,
                  .config_hash = scan_config_hash(g_fx.cfg),
                  .shard_index = -1,
                  .shard_count = -1,
                  .argc = 1,
                  .argv = g_argv};
  if (stage_scan_run_job(&g_w, &job) != DD_OK) {
    fprintf(stderr, "rank %d: %s\n", g_w.rank, dd_error_chain());
    return 1;
  }
  return 0;
}

static int scan_teardown(void **state) {
  (void)state;
  cfg_free(g_fx.cfg);
  free(g_fx.p);
  return 0;
}

static double *read_all(io_file *f, const char *path, long long n) {
  double *v = calloc((size_t)n, sizeof *v);
  ASSERT_OK(io_read_all(f, path, IO_F64, v));
  return v;
}

/* Every stored number against a recomputation that uses only the public
 * stats and physics APIs, point by point (stats_eval at each (sigma, E),
 * not the exposure fast path the scan takes). */
static void test_scan_matches_oracle(void **state) {
  (void)state;
  const scan_params *g = &g_fx.p->scan;
  const stats_params *sp = &g_fx.p->stats;
  const phys_params *ph = &g_fx.p->phys;
  enum { NM = 4, NMASS = 2, NS = 3, NE = 3, NR = 2 };
  assert_int_equal(g->n_methods, NM);
  io_file *f = NULL;
  ASSERT_OK(io_file_open(&g_w, g_fx.path, IO_READ, &f));
  double *pv = read_all(f, "/scan/p_value", NM * NMASS * NS * NE * NR);
  double *zv = read_all(f, "/scan/z", NM * NMASS * NS * NE * NR);
  double *lp = read_all(f, "/scan/log_p", NM * NMASS * NS * NE * NR);
  double *s5 = read_all(f, "/contours/sigma5", NM * NMASS * NE * NR);
  double *lo = read_all(f, "/contours/band_lo", NM * NMASS * NE);
  double *hi = read_all(f, "/contours/band_hi", NM * NMASS * NE);
  double *br = read_all(f, "/contours/best_r", NM * NMASS * NE);
  double *ess = read_all(f, "/scan/effective_events", NMASS);
  double *rate = read_all(f, "/scan/signal_rate", NMASS);
  const int K = 14; /* bins + 2 */
  double *tsig = read_all(f, "/templates/ts/signal", NMASS * NR * K);
  double *tedge = read_all(f, "/templates/ts/edges", NMASS * NR * (K + 1));
  int32_t nbins[NMASS * NR];
  ASSERT_OK(io_read_all(f, "/templates/ts/n_bins", IO_I32, nbins));
  double *csig = read_all(f, "/templates/classical/signal", NMASS * NR * 5 * 3);
  unsigned char done[NMASS * NR];
  ASSERT_OK(io_read_all(f, "/scan/done", IO_U8, done));
  for (int u = 0; u < NMASS * NR; u++) assert_int_equal(done[u], 1);

  scan_scores er, nr;
  ASSERT_OK(stage_scores_read(f, SCAN_BANK_ER, &er));
  ASSERT_OK(stage_scores_read(f, SCAN_BANK_NR, &nr));
  ASSERT_OK(io_file_close(&f));
  /* weights from the physics convention (docs/physics.md §8) */
  phys_sampler qe, qn;
  memset(&qe, 0, sizeof qe);
  memset(&qn, 0, sizeof qn);
  ASSERT_OK(phys_sampler_init_er(&qe, ph));
  ASSERT_OK(phys_sampler_init_nr_ref(&qn, ph));
  long ne_ = (long)er.n, nn = (long)nr.n;
  double *el = calloc(ne_, 8), *eh = calloc(ne_, 8), *ew = calloc(ne_, 8), *e1 = calloc(ne_, 8),
         *e2 = calloc(ne_, 8);
  double *nl = calloc(nn, 8), *nh = calloc(nn, 8), *nw = calloc(nn, 8), *n1 = calloc(nn, 8),
         *n2 = calloc(nn, 8);
  for (long i = 0; i < ne_; i++) {
    el[i] = er.rows[i].l_rec + 0.5 * er.rows[i].kl;
    eh[i] = er.rows[i].h_b;
    ew[i] = phys_weight_er(ph, &qe, er.rows[i].energy_kev) / (double)er.info.n_draws_total *
            er.rows[i].weight;
    e1[i] = er.rows[i].cs1;
    e2[i] = er.rows[i].cs2;
  }
  stats_work w;
  ASSERT_OK(stats_work_init(&w, 64, sp->toys));
  double sref = ph->sigma_ref_cm2;
  for (int im = 0; im < NMASS; im++) {
    double sw = 0.0;
    for (long i = 0; i < nn; i++) {
      nl[i] = nr.rows[i].l_rec + 0.5 * nr.rows[i].kl;
      nh[i] = nr.rows[i].h_b;
      nw[i] = phys_weight_nr(ph, &qn, g->mass_gev[im], sref, nr.rows[i].energy_kev) /
              (double)nr.info.n_draws_total;
      n1[i] = nr.rows[i].cs1;
      n2[i] = nr.rows[i].cs2;
      sw += nw[i];
    }
    assert_near("signal rate", rate[im], sw, 0, 1e-12);
    assert_near("ESS", ess[im], phys_effective_sample_size(nw, (size_t)nn), 0, 1e-12);
    /* the NR background (on by default): the NR bank reweighted to it */
    double *nbw = calloc(nn, 8);
    for (long i = 0; i < nn; i++)
      nbw[i] = phys_weight_nr_bg(ph, &qn, nr.rows[i].energy_kev) / (double)nr.info.n_draws_total;
    stats_events bk = {ne_, el, eh, ew}, sg = {nn, nl, nh, nw}, nb = {nn, nl, nh, nbw};
    stats_events2d bk2 = {ne_, e1, e2, ew}, sg2 = {nn, n1, n2, nw}, nb2 = {nn, n1, n2, nbw};
    const stats_events *nbp = sp->nuis.nr_bkg ? &nb : NULL;
    const stats_events2d *nbp2 = sp->nuis.nr_bkg ? &nb2 : NULL;
    stats_template cl;
    ASSERT_OK(stats_template_build_2d(&cl, &sp->classical, &bk2, &sg2, nbp2, sref));
    for (int ir = 0; ir < NR; ir++) {
      stats_template ts;
      ASSERT_OK(stats_template_build(&ts, &sp->binning, &bk, &sg, nbp, g->r[ir], sref));
      int u = im * NR + ir;
      assert_int_equal(nbins[u], ts.k);
      for (int i = 0; i < K; i++) {
        double got = tsig[u * K + i];
        if (i < ts.k ? got != ts.alpha[i] : !isnan(got))
          fail_msg("unit %d: /templates/ts/signal[%d] = %g", u, i, got);
      }
      for (int i = 0; i <= ts.k; i++) assert_true(tedge[u * (K + 1) + i] == ts.edges[i]);
      for (int i = 0; i < 15; i++) assert_true(csig[u * 15 + i] == cl.alpha[i]);
      for (int m = 0; m < NM; m++) {
        stats_method meth = g->methods[m];
        const stats_template *t = meth == STATS_METHOD_CLASSICAL ? &cl : &ts;
        for (int is = 0; is < NS; is++)
          for (int ie = 0; ie < NE; ie++) {
            size_t o = ((((size_t)m * NMASS + im) * NS + is) * NE + ie) * NR + ir;
            double mu = g->sigma_cm2[is] / sref, e = g->exposure_ty[ie];
            double p, z, l;
            if (meth == STATS_METHOD_TOYS) {
              stats_toy_result tr;
              uint32_t point = (uint32_t)(((im * NS + is) * NE + ie) * NR + ir);
              ASSERT_OK(stats_toys_eval(t, sp, STATS_TOY_Q0, mu, e, 7, point, &w, &tr));
              p = tr.p_h0;
              z = tr.z_h0;
              l = log(tr.p_h0);
            } else {
              stats_result res;
              ASSERT_OK(stats_eval(t, sp, meth, mu, e, &w, &res));
              p = res.p;
              z = res.z;
              l = res.log_p;
            }
            assert_near("p", pv[o], p, 1e-300, 1e-9);
            assert_near("z", zv[o], z, 1e-9, 1e-9);
            assert_near("log p", lp[o], l, 1e-9, 1e-9);
            if (meth == STATS_METHOD_SOUND && is > 0)
              assert_true(pv[o] <= pv[o - (size_t)NE * NR]); /* p falls with sigma */
          }
        /* the contour meets the method's 5-sigma threshold */
        for (int ie = 0; meth != STATS_METHOD_TOYS && ie < NE; ie++) {
          double s = s5[(((size_t)m * NMASS + im) * NE + ie) * NR + ir];
          assert_true(s > 0.0 && isfinite(s));
          stats_result res;
          ASSERT_OK(stats_eval(t, sp, meth, s / sref, g->exposure_ty[ie], &w, &res));
          assert_near("threshold", res.stat, stats_threshold5(sp, meth), 0, 1e-6);
        }
      }
      stats_template_free(&ts);
    }
    stats_template_free(&cl);
    free(nbw);
  }
  /* R band over both R (r_band = [0, 300]) and the best R */
  for (int m = 0; m < NM; m++)
    for (int im = 0; im < NMASS; im++)
      for (int ie = 0; ie < NE; ie++) {
        const double *s = s5 + (((size_t)m * NMASS + im) * NE + ie) * NR;
        size_t o = ((size_t)m * NMASS + im) * NE + ie;
        assert_true(lo[o] == fmin(s[0], s[1]) && hi[o] == fmax(s[0], s[1]));
        assert_true(br[o] == (s[1] < s[0] ? 170.0 : 0.0));
        if (g->methods[m] == STATS_METHOD_CLASSICAL) assert_true(s[0] == s[1]);
      }
  /* the classical method does not depend on R */
  for (size_t o = 0; o < (size_t)NMASS * NS * NE; o++) {
    size_t base = (3 * (size_t)NMASS * NS * NE + o) * NR;
    assert_true(pv[base] == pv[base + 1]);
  }
  /* supervision helps on these scores: R = 170 beats R = 0 for sound at 100 GeV */
  assert_true(s5[((0 * NMASS + 1) * NE + 1) * NR + 1] < s5[((0 * NMASS + 1) * NE + 1) * NR + 0]);
  double *arr[] = {pv,   zv, lp, s5, lo, hi, br, ess, rate, tsig, tedge,
                   csig, el, eh, ew, e1, e2, nl, nh,  nw,   n1,   n2};
  for (size_t k = 0; k < sizeof arr / sizeof arr[0]; k++) free(arr[k]);
  stats_work_free(&w);
  phys_sampler_free(&qe);
  phys_sampler_free(&qn);
  scan_scores_free(&er);
  scan_scores_free(&nr);
}

/* A scan without scores says which file, which dataset and what to run. */
static void test_scan_without_scores(void **state) {
  (void)state;
  char dir[600], path[700];
  sub_dir("noscores", dir, sizeof dir);
  snprintf(path, sizeof path, "%s/results.h5", dir);
  stage_params *p = calloc(1, sizeof *p);
  cfg_doc *d = load("", p);
  scan_job job = {.phys = &p->phys,
                  .stats = &p->stats,
                  .grid = &p->scan,
                  .seed = 7,
                  .input_path = path,
                  .output_path = path,
                  .config_text = "",
                  .config_hash = 1,
                  .shard_index = -1,
                  .shard_count = -1,
                  .argc = 1,
                  .argv = g_argv};
  assert_int_equal(stage_scan_run_job(&g_w, &job), DD_ERR_IO);
  assert_error_contains("does not exist");
  assert_error_contains("`score`");
  dd_error_clear();
  ASSERT_OK(write_bad(dir, BAD_NO_SCORES));
  assert_int_equal(stage_scan_run_job(&g_w, &job), DD_ERR_IO);
  assert_error_contains("has no /scores/er");
  assert_error_contains("ddscan score CONFIG");
  assert_error_contains(path);
  dd_error_clear();
  /* nothing was started */
  char tmp_path[720];
  snprintf(tmp_path, sizeof tmp_path, "%s.tmp", path);
  int tmp = g_w.rank == 0 ? dd_path_exists(tmp_path) : 0;
  MPI_Bcast(&tmp, 1, MPI_INT, 0, g_w.comm);
  assert_false(tmp);
  cfg_free(d);
  free(p);
}

/* ------------------------------------------------------------- dispatcher */

typedef struct prog {
  long long last, calls;
  int monotone;
} prog;

static void on_prog(void *ctx, long long done, long long n) {
  prog *p = ctx;
  if (done != p->last + 1 || done > n) p->monotone = 0;
  p->last = done;
  p->calls++;
}

static dd_status square(void *ctx, long long i) {
  ((long long *)ctx)[i] = i * i;
  return DD_OK;
}

static void test_dispatch_progress(void **state) {
  (void)state;
  long long out[23];
  memset(out, 0, sizeof out);
  prog pr = {0, 0, 1};
  ASSERT_OK(par_dispatch_progress(&g_w, 23, NULL, square, out, on_prog, &pr));
  long long sum[23];
  MPI_Allreduce(out, sum, 23, MPI_LONG_LONG, MPI_SUM, g_w.comm);
  for (int i = 0; i < 23; i++) assert_true(sum[i] == (long long)i * i);
  if (g_w.rank == 0) {
    assert_true(pr.monotone);
    assert_int_equal(pr.last, 23);
  } else {
    assert_int_equal(pr.calls, 0); /* only rank 0 reports */
  }
}

/* ------------------------------------------------------------- modes */

static int scores_mode(int argc, char **argv) {
  const char *sets[64];
  stage_opts o;
  memset(&o, 0, sizeof o);
  o.config_path = argv[2];
  o.sets = sets;
  o.shard_index = o.shard_count = -1;
  long long n_er = 3000, n_nr = 3000;
  for (int i = 3; i < argc; i++) {
    if (strcmp(argv[i], "--er") == 0 && i + 1 < argc)
      n_er = atoll(argv[++i]);
    else if (strcmp(argv[i], "--nr") == 0 && i + 1 < argc)
      n_nr = atoll(argv[++i]);
    else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc && o.n_sets < 64)
      sets[o.n_sets++] = argv[++i];
    else {
      if (g_w.rank == 0) fprintf(stderr, "mpi_scan scores: bad argument '%s'\n", argv[i]);
      return 2;
    }
  }
  stage_ctx c;
  dd_status st = stage_ctx_load(&c, &g_w, &o);
  if (st == DD_OK) {
    static const char *const paths[] = {"run.seed", "physics"};
    st = stage_score_write_synthetic(&g_w, &c.p->phys, c.p->run.seed, n_er, n_nr,
                                     c.p->run.output_dir, c.config_text, cfg_hash(c.cfg, paths, 2),
                                     argc, argv);
    if (st == DD_OK && g_w.rank == 0)
      printf("mpi_scan: %lld ER + %lld NR synthetic scored events in %s/results.h5\n", n_er, n_nr,
             c.p->run.output_dir);
    stage_ctx_free(&c);
  }
  if (st != DD_OK) {
    int first = par_first_failing_rank(&g_w);
    if (first == g_w.rank || (first == g_w.size && g_w.rank == 0)) dd_error_print(stderr, g_w.rank);
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  par_world_init(&g_w, MPI_COMM_WORLD);
  dd_log_init(g_w.rank, g_w.size, DD_LOG_QUIET);
  int rc;
  if (argc > 2 && strcmp(argv[1], "scores") == 0) {
    dd_log_init(g_w.rank, g_w.size, DD_LOG_INFO);
    rc = scores_mode(argc, argv);
  } else if (argc > 1) {
    if (g_w.rank == 0) fprintf(stderr, "usage: mpi_scan [scores CONFIG [--er N] [--nr N]]\n");
    rc = 2;
  } else {
    if (g_w.rank == 0) snprintf(g_dir, sizeof g_dir, "%s", test_tmpdir());
    MPI_Bcast(g_dir, sizeof g_dir, MPI_CHAR, 0, g_w.comm);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scores_roundtrip),
        cmocka_unit_test(test_scores_errors),
        cmocka_unit_test(test_dispatch_progress),
        cmocka_unit_test(test_scan_without_scores),
        cmocka_unit_test_setup_teardown(test_scan_matches_oracle, scan_setup, scan_teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    MPI_Allreduce(&failed, &rc, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Barrier(g_w.comm);
    if (g_w.rank == 0 && rc == 0) {
      char cmd[700];
      snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
      if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    }
  }
  int any = 0;
  MPI_Allreduce(&rc, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return any ? 1 : 0;
}
