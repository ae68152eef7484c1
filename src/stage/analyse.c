/* analyse.c - `ddscan analyse CONFIG --data FILE`: the observed-data
 * analysis.  The events of the file are rendered and scored with the
 * configuration's trained networks through the score stage's streamed block
 * machinery (stage_score_blocks: block b on rank b mod np, fixed batches,
 * latent noise keyed by (bank 2, event id)), then histogrammed on the
 * templates that the scan of the same configuration stored in results.h5
 * (/templates: the observed data never enter them).  For every configured
 * method, WIMP mass and R:
 *   sound, classical: q0 of the binned profile likelihood on the observed
 *     counts (stats_q0; nuisances as stats.sound says), p = Phibar(sqrt q0),
 *     Z = sqrt(q0) (asymptotic, Cowan et al. 2011);
 *   toys: the same q0, p = P(q0 >= q0_obs | H0) from stats.toys
 *     pseudo-experiments of the fitted background-only model's templates;
 *   paper: Pearson chi^2_P between the observed and the expected background
 *     histogram with the paper's 1-dof convention (not a calibrated test);
 * the best-fit cross-section sigma_hat = mu_hat sigma_ref and the 90 % CL
 * upper limit where q~mu (stats_qmu, one-sided, eq. 16 of Cowan et al.)
 * reaches Phi^-1(0.90)^2 = 1.6424 (p_mu = Phibar(sqrt q~mu) = 0.10,
 * asymptotic; no CLs).  Results go to a
 * file of their own (default <output_dir>/observed.h5, docs/format.md §11)
 * so that results.h5 stays the stages' and many data sets can be analysed
 * against one scan. */
#define _POSIX_C_SOURCE 200809L
#include "ddscan/events.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h> /* uses: MPI_Allreduce */

#include "ddscan/io.h"    /* uses: io_file_*, io_read_all, io_dataset_* */
#include "ddscan/scan.h"  /* uses: scan_score_record */
#include "ddscan/stats.h" /* uses: stats_template, stats_q0, stats_qmu, stats_toys_run */

#define OBS_BANK 2u /* the latent-noise bank of observed events (ER 0, NR 1) */

/* The observed events as the templates need them (every rank all rows). */
typedef struct obs_events {
  long long n;
  double *l_tot; /* (n) l_rec + beta kl */
  double *h_b;   /* (n) */
  double *cs1;   /* (n) */
  double *cs2;   /* (n) */
} obs_events;

static void obs_free(obs_events *o) {
  free(o->l_tot);
  free(o->h_b);
  free(o->cs1);
  free(o->cs2);
  memset(o, 0, sizeof *o);
}

/* The block source and sink of the analysis. */
typedef struct obs_io {
  io_file *f;
  const ev_info *info;
  ev_record *rec; /* owned (block) */
  obs_events *ev;
  double beta;
} obs_io;

static dd_status obs_fill(void *ctx, long long first, long long n, det_event *ev) {
  obs_io *c = ctx;
  DD_TRY(ev_file_read(c->f, c->info, first, n, c->rec), "reading events");
  for (long long i = 0; i < n; i++)
    ev_record_to_event(&c->rec[i], c->info->n_top, c->info->n_bottom, &ev[i]);
  return DD_OK;
}

static dd_status obs_sink(void *ctx, long long block, long long first, long long n,
                          const scan_score_record *rows) {
  obs_io *c = ctx;
  (void)block;
  for (long long i = 0; i < n; i++) {
    c->ev->l_tot[first + i] = stats_lrec(rows[i].l_rec, rows[i].kl, c->beta);
    c->ev->h_b[first + i] = rows[i].h_b;
    c->ev->cs1[first + i] = rows[i].cs1;
    c->ev->cs2[first + i] = rows[i].cs2;
  }
  return DD_OK;
}

/* Every rank filled its own rows, zeros elsewhere: the sum is every row
 * (adding exact zeros changes no bit). */
static void obs_allreduce(const par_world *w, obs_events *o) {
  double *a[4] = {o->l_tot, o->h_b, o->cs1, o->cs2};
  for (int k = 0; k < 4; k++)
    if (o->n > 0) MPI_Allreduce(MPI_IN_PLACE, a[k], (int)o->n, MPI_DOUBLE, MPI_SUM, w->comm);
}

/* ------------------------------------------------------------- templates */

/* Every template of the scan in results.h5 (rank-0 reads, all ranks hold). */
typedef struct obs_templates {
  int n_mass, n_r;
  double *mass_gev, *r; /* owned (n_mass), (n_r) */
  double sigma_ref_cm2, beta_er;
  int ts_kmax, nx, ny; /* padded TS bins; classical nx, ny (0 without) */
  int has_nrb;
  int32_t *ts_nbins;   /* (mass, r) */
  double *ts_edges;    /* (mass, r, kmax + 1) */
  double *ts[6];       /* bkg, bkg_w2, sig, sig_w2, nrb, nrb_w2: (mass, r, kmax) */
  int64_t *ts_mc;      /* (mass, r, kmax) */
  double *cl_x, *cl_y; /* (mass, r, nx + 1), (mass, r, nx, ny + 1) */
  double *cl[6];       /* (mass, r, nx, ny) */
  int64_t *cl_mc;
} obs_templates;

static void tpl_free(obs_templates *t) {
  free(t->mass_gev);
  free(t->r);
  free(t->ts_nbins);
  free(t->ts_edges);
  free(t->ts_mc);
  free(t->cl_x);
  free(t->cl_y);
  free(t->cl_mc);
  for (int k = 0; k < 6; k++) {
    free(t->ts[k]);
    free(t->cl[k]);
  }
  memset(t, 0, sizeof *t);
}

static dd_status read_ds(io_file *f, const char *path, io_type type, size_t esize, void **out,
                         long long *n_out) {
  int rank = 0;
  long long dims[IO_MAX_RANK];
  DD_TRY(io_dataset_shape(f, path, &rank, dims), "results file");
  long long n = 1;
  for (int d = 0; d < rank; d++) n *= dims[d];
  DD_TRY(dd_calloc(out, (size_t)(n > 0 ? n : 1), esize, path), "results file");
  DD_TRY(io_read_all(f, path, type, *out), "results file");
  if (n_out) *n_out = n;
  return DD_OK;
}

static const char *const k_ts_names[6] = {"background", "background_w2", "signal",
                                          "signal_w2",  "nr_background", "nr_background_w2"};

static dd_status tpl_read(io_file *f, int classical, obs_templates *t) {
  long long n = 0;
  DD_TRY(read_ds(f, "/axes/mass_gev", IO_F64, sizeof(double), (void **)&t->mass_gev, &n), "axes");
  t->n_mass = (int)n;
  DD_TRY(read_ds(f, "/axes/r", IO_F64, sizeof(double), (void **)&t->r, &n), "axes");
  t->n_r = (int)n;
  DD_TRY(io_attr_read_double(f, "/scan", "sigma_ref_cm2", &t->sigma_ref_cm2), "scan attributes");
  DD_TRY(io_attr_read_double(f, "/scan", "beta_er", &t->beta_er), "scan attributes");
  const long long units = (long long)t->n_mass * t->n_r;
  DD_TRY(read_ds(f, "/templates/ts/n_bins", IO_I32, sizeof(int32_t), (void **)&t->ts_nbins, NULL),
         "templates");
  DD_TRY(read_ds(f, "/templates/ts/edges", IO_F64, sizeof(double), (void **)&t->ts_edges, &n),
         "templates");
  t->ts_kmax = (int)(n / units) - 1;
  t->has_nrb = io_exists(f, "/templates/ts/nr_background");
  char path[128];
  for (int k = 0; k < 6; k++) {
    if (k >= 4 && !t->has_nrb) continue;
    snprintf(path, sizeof path, "/templates/ts/%s", k_ts_names[k]);
    DD_TRY(read_ds(f, path, IO_F64, sizeof(double), (void **)&t->ts[k], NULL), "templates");
  }
  DD_TRY(
      read_ds(f, "/templates/ts/background_mc", IO_I64, sizeof(int64_t), (void **)&t->ts_mc, NULL),
      "templates");
  if (!classical) return DD_OK;
  DD_TRY(
      read_ds(f, "/templates/classical/cs1_edges", IO_F64, sizeof(double), (void **)&t->cl_x, &n),
      "templates");
  t->nx = (int)(n / units) - 1;
  DD_TRY(read_ds(f, "/templates/classical/y_edges", IO_F64, sizeof(double), (void **)&t->cl_y, &n),
         "templates");
  t->ny = (int)(n / units / t->nx) - 1;
  for (int k = 0; k < 6; k++) {
    if (k >= 4 && !t->has_nrb) continue;
    snprintf(path, sizeof path, "/templates/classical/%s", k_ts_names[k]);
    DD_TRY(read_ds(f, path, IO_F64, sizeof(double), (void **)&t->cl[k], NULL), "templates");
  }
  DD_TRY(read_ds(f, "/templates/classical/background_mc", IO_I64, sizeof(int64_t),
                 (void **)&t->cl_mc, NULL),
         "templates");
  return DD_OK;
}

/* A stats_template viewing unit (im, ir) of the stored arrays (classical or
 * TS).  half (2k) and mc (k) are scratch the caller owns. */
static void tpl_view(const obs_templates *t, const stats_params *sp, int classical, int im, int ir,
                     double *half, long *mc, stats_template *v) {
  memset(v, 0, sizeof *v);
  const size_t u = (size_t)im * t->n_r + ir;
  const double *const *src =
      classical ? (const double *const *)t->cl : (const double *const *)t->ts;
  size_t kst;
  if (classical) {
    v->nx = t->nx;
    v->ny = t->ny;
    v->k = t->nx * t->ny;
    v->r = NAN;
    kst = (size_t)v->k;
    v->edges = t->cl_x + u * (size_t)(t->nx + 1);
    v->y_edges = t->cl_y + u * (size_t)t->nx * (t->ny + 1);
    v->min_mc = sp->classical.min_mc;
  } else {
    v->k = t->ts_nbins[u];
    v->nx = v->k;
    v->ny = 1;
    v->r = t->r[ir];
    kst = (size_t)t->ts_kmax;
    v->edges = t->ts_edges + u * (size_t)(t->ts_kmax + 1);
    v->min_mc = sp->binning.min_mc;
  }
  v->sigma_ref_cm2 = t->sigma_ref_cm2;
  v->beta = (double *)src[0] + u * kst;
  v->beta_w2 = (double *)src[1] + u * kst;
  v->alpha = (double *)src[2] + u * kst;
  v->alpha_w2 = (double *)src[3] + u * kst;
  v->nrb = t->has_nrb ? (double *)src[4] + u * kst : NULL;
  v->nrb_w2 = t->has_nrb ? (double *)src[5] + u * kst : NULL;
  const int64_t *m64 = (classical ? t->cl_mc : t->ts_mc) + u * kst;
  double wsum = 0.0;
  long nsum = 0;
  for (int i = 0; i < v->k; i++) {
    mc[i] = (long)m64[i];
    half[i] = half[v->k + i] = v->beta[i];
    v->beta_tot += v->beta[i];
    v->alpha_tot += v->alpha[i];
    wsum += v->beta[i];
    nsum += mc[i];
  }
  v->beta_n = mc;
  v->beta_half = half;
  v->w_bkg_mean = nsum > 0 ? wsum / (double)nsum : 0.0;
}

/* ---------------------------------------------------------------- results */

enum { R_P, R_Z, R_STAT, R_SIGHAT, R_UL, R_NOBS, R_BEXP, R_SREF, R_FLOOR, R_PT, R_ZT, R_N };
static const char *const k_res_names[R_N] = {
    "p_value",    "z",          "statistic",      "sigma_hat",    "sigma_up90",
    "n_observed", "b_expected", "s_expected_ref", "floored_bins", "p_value_toys",
    "z_toys"};
static const char *const k_res_units[R_N] = {"1", "1", "1", "cm^2", "cm^2", "1",
                                             "1", "1", "1", "1",    "1"};
static const char *const k_res_desc[R_N] = {
    "background-only p-value of the observed data (sound, classical: asymptotic Phibar(sqrt q0); "
    "toys: P(q0 >= q0_obs | H0) from stats.toys pseudo-experiments; paper: chi^2_P with 1 dof)",
    "significance Z = Phibar^-1(p) (sound, classical: sqrt q0)",
    "observed statistic: q0 (sound, toys, classical) or chi^2_P (paper)",
    "best-fit cross-section mu_hat sigma_ref (mu_hat >= 0; NaN for paper)",
    "90 % CL upper limit on sigma: q~mu = 1.6424 (Cowan et al. 2011 eq. 16, asymptotic; NaN for "
    "paper)",
    "observed events inside the template's bins",
    "expected background events inside the bins (ER + NR background)",
    "expected signal events at sigma_ref inside the bins",
    "bins with observed events but no background MC, whose background was floored at one mean "
    "MC event's weight (else q0 would be infinite); > 0 means the templates are too coarse",
    "toy-calibrated background-only p: P(q0 >= q0_obs | H0) from stats.toys pseudo-experiments "
    "of the background-only model (sound, toys, classical; NaN for paper)",
    "Phibar^-1(p_value_toys) (inf when no toy reached q0_obs)"};

/* ----------------------------------------------------------------- driver */

static dd_status read_cs_only(const par_world *w, io_file *f, const ev_info *info, obs_events *o) {
  long long first = 0, cnt = 0;
  io_rows_split(info->n, w->rank, w->size, &first, &cnt);
  ev_record *rec = NULL;
  DD_TRY(dd_calloc((void **)&rec, (size_t)(cnt > 0 ? cnt : 1), sizeof *rec, "event rows"),
         "analyse");
  dd_status st = ev_file_read(f, info, first, cnt, rec);
  for (long long i = 0; i < cnt && st == DD_OK; i++) {
    o->cs1[first + i] = rec[i].cs1_pe;
    o->cs2[first + i] = rec[i].cs2_pe;
  }
  free(rec);
  return st;
}

dd_status stage_analyse(stage_ctx *x, const ev_analyse_opts *o) {
  const par_world *w = x->w;
  const stage_params *p = x->p;
  const scan_params *g = &p->scan;
  stage_scorer *sc = NULL;
  io_file *data = NULL, *res_f = NULL, *out = NULL;
  ev_info info;
  obs_events ev;
  obs_templates t;
  stats_work work;
  memset(&ev, 0, sizeof ev);
  memset(&t, 0, sizeof t);
  memset(&work, 0, sizeof work);
  memset(&info, 0, sizeof info);
  double *res = NULL, *nbuf = NULL, *half = NULL, *t_toys = NULL;
  stats_gof *gof_ts = NULL, gof_cl;
  memset(&gof_cl, 0, sizeof gof_cl);
  long *mc = NULL;
  char out_path[STAGE_PATH_MAX + 64];
  if (o->out)
    snprintf(out_path, sizeof out_path, "%s", o->out);
  else
    snprintf(out_path, sizeof out_path, "%s/observed.h5", p->run.output_dir);
  int has_classical = 0, has_ts = 0;
  for (int i = 0; i < g->n_methods; i++) {
    if (g->methods[i] == STATS_METHOD_CLASSICAL)
      has_classical = 1;
    else
      has_ts = 1;
  }
  /* the data file, checked against the detector of this configuration */
  det_model *det = NULL;
  dd_status st = dd_calloc((void **)&det, 1, sizeof *det, "detector model");
  if (st == DD_OK) st = det_model_init(det, &p->detector, p->run.seed);
  if (st == DD_OK) st = ev_file_open(w, o->data, det, &data, &info);
  free(det);
  if (st != DD_OK) goto done;
  /* the scan must be current: its templates are the model of the data */
  int current = 0;
  st = stage_scan.is_current(x, &current);
  if (st == DD_OK && !current)
    st = DD_FAIL(DD_ERR_CONFIG,
                 "'%s' holds no current scan of this configuration: run `ddscan %s` first (the "
                 "templates of the observed analysis come from it)",
                 x->results, cfg_filename(x->cfg));
  if (st != DD_OK) goto done;
  double exposure = o->exposure_ty;
  if (!(exposure > 0.0)) {
    if (!io_attr_exists(data, "/", "exposure_ty")) {
      st = DD_FAIL(DD_ERR_ARG,
                   "events file '%s' has no root attribute exposure_ty: pass --exposure E "
                   "(tonne-years)",
                   o->data);
      goto done;
    }
    st = io_attr_read_double(data, "/", "exposure_ty", &exposure);
    if (st == DD_OK && !(exposure > 0.0 && isfinite(exposure)))
      st = DD_FAIL(DD_ERR_ARG, "events file '%s': exposure_ty = %g must be > 0", o->data, exposure);
    if (st != DD_OK) goto done;
  }
  ev.n = info.n;
  const size_t nn = (size_t)(info.n > 0 ? info.n : 1);
  st = dd_calloc((void **)&ev.l_tot, nn, sizeof(double), "observed scores");
  if (st == DD_OK) st = dd_calloc((void **)&ev.h_b, nn, sizeof(double), "observed scores");
  if (st == DD_OK) st = dd_calloc((void **)&ev.cs1, nn, sizeof(double), "observed cS1");
  if (st == DD_OK) st = dd_calloc((void **)&ev.cs2, nn, sizeof(double), "observed cS2");
  /* the scan's templates */
  if (st == DD_OK) st = io_file_open(w, x->results, IO_READ, &res_f);
  if (st == DD_OK) st = tpl_read(res_f, has_classical, &t);
  if (res_f) io_file_close(&res_f);
  st = par_agree(w, st);
  if (st != DD_OK) goto done;
  const int run_ts = has_ts && info.has_images;
  if (has_ts && !info.has_images && w->rank == 0)
    dd_warn(
        "analyse: '%s' holds only cS1 and cS2 (no %s): the TS methods (paper, sound, toys) "
        "need the images and are skipped; the classical method runs",
        o->data, info.missing);
  if (run_ts) {
    st = stage_scorer_init(x, -1, &sc);
    if (st != DD_OK) goto done;
    obs_io oi = {data, &info, NULL, &ev, t.beta_er};
    const long long bs = (long long)p->score.batch_size * p->score.block_batches;
    st = dd_calloc((void **)&oi.rec, (size_t)bs, sizeof *oi.rec, "block rows");
    stage_block_io bio = {obs_fill, obs_sink, &oi};
    if (st == DD_OK) {
      dd_info("analyse: scoring %lld events of %s in blocks of %lld", info.n, o->data, bs);
      st = stage_score_blocks(w, sc, OBS_BANK, info.n, NULL, &bio, "analyse");
    }
    free(oi.rec);
  } else {
    st = read_cs_only(w, data, &info, &ev);
    st = par_agree(w, st);
  }
  if (st != DD_OK) goto done;
  obs_allreduce(w, &ev);
  /* every method at every (mass, R): a few fits each, on every rank (the
   * same numbers everywhere; rank 0 writes and prints) */
  const int kmax = (t.ts_kmax > t.nx * t.ny ? t.ts_kmax : t.nx * t.ny) + 1;
  const size_t n_res = (size_t)g->n_methods * t.n_mass * t.n_r * R_N;
  st = dd_calloc((void **)&res, n_res, sizeof *res, "results");
  if (st == DD_OK) st = dd_calloc((void **)&nbuf, (size_t)kmax, sizeof *nbuf, "counts");
  if (st == DD_OK) st = dd_calloc((void **)&half, 2 * (size_t)kmax, sizeof *half, "scratch");
  if (st == DD_OK) st = dd_calloc((void **)&mc, (size_t)kmax, sizeof *mc, "scratch");
  const long n_toys_max = p->stats.toys > o->toys ? p->stats.toys : o->toys;
  if (st == DD_OK)
    st = dd_calloc((void **)&t_toys, (size_t)n_toys_max, sizeof *t_toys, "toy statistics");
  if (st == DD_OK) st = stats_work_init(&work, kmax, n_toys_max);
  /* the toys' seed: the run's seed and the data file */
  uint32_t toy_seed = (uint32_t)dd_hash_str(
      dd_hash_bytes(DD_HASH_INIT, &p->run.seed, sizeof p->run.seed), info.hash_hex);
  for (size_t i = 0; i < n_res; i++) res[i] = NAN;
  for (int mi = 0; mi < g->n_methods && st == DD_OK; mi++) {
    const stats_method method = g->methods[mi];
    const int cl = method == STATS_METHOD_CLASSICAL;
    if (!cl && !run_ts) continue;
    for (int im = 0; im < t.n_mass && st == DD_OK; im++)
      for (int ir = 0; ir < t.n_r && st == DD_OK; ir++) {
        stats_template v;
        tpl_view(&t, &p->stats, cl, im, ir, half, mc, &v);
        for (int i = 0; i < v.k; i++) nbuf[i] = 0.0;
        for (long long e = 0; e < ev.n; e++) {
          int b = cl ? stats_template_bin_2d(&v, ev.cs1[e], ev.cs2[e])
                     : stats_template_bin(&v, stats_ts(ev.l_tot[e], ev.h_b[e], v.r));
          if (b >= 0) nbuf[b] += 1.0;
        }
        double *r = res + (((size_t)mi * t.n_mass + im) * t.n_r + ir) * R_N;
        uint32_t point = (uint32_t)((im * t.n_r + ir) * STATS_N_METHODS + (int)method);
        stats_observed ob;
        /* the toys method: stats.toys.count; the others' p_toys: --toys */
        stats_params sp = p->stats;
        if (method != STATS_METHOD_TOYS) sp.toys = o->toys;
        st = stats_observed_eval(&v, &sp, method, nbuf, exposure, toy_seed, point, &work,
                                 method == STATS_METHOD_TOYS || o->toys > 0 ? t_toys : NULL, &ob);
        if (st == DD_OK) {
          r[R_P] = ob.p;
          r[R_Z] = ob.z;
          r[R_STAT] = ob.stat;
          r[R_SIGHAT] = ob.mu_hat * v.sigma_ref_cm2;
          r[R_UL] = ob.mu_up * v.sigma_ref_cm2;
          r[R_NOBS] = ob.n_obs;
          r[R_BEXP] = ob.b_exp;
          r[R_SREF] = ob.s_exp;
          r[R_FLOOR] = ob.floored;
          r[R_PT] = ob.p_toys;
          r[R_ZT] = ob.z_toys;
        }
        if (st != DD_OK)
          st = DD_CONTEXT(st, "%s at m = %g GeV, R = %g", stats_method_name(method), t.mass_gev[im],
                          t.r[ir]);
      }
  }
  /* the model-independent goodness of fit: the TS histogram at every R
   * (background is the same for every mass: mass 0's template) and the
   * classical histogram against the background-only expectation */
  gof_ts = calloc((size_t)t.n_r, sizeof *gof_ts);
  if (!gof_ts) st = DD_FAIL(DD_ERR_NOMEM, "gof");
  memset(&gof_cl, 0, sizeof gof_cl);
  gof_cl.p = NAN;
  for (int ir = 0; ir < t.n_r && st == DD_OK; ir++) {
    gof_ts[ir].p = gof_ts[ir].stat = gof_ts[ir].z = NAN;
    if (!run_ts) continue;
    stats_template v;
    tpl_view(&t, &p->stats, 0, 0, ir, half, mc, &v);
    for (int i = 0; i < v.k; i++) nbuf[i] = 0.0;
    for (long long e = 0; e < ev.n; e++) {
      int b = stats_template_bin(&v, stats_ts(ev.l_tot[e], ev.h_b[e], v.r));
      if (b >= 0) nbuf[b] += 1.0;
    }
    st = stats_gof_eval(&v, &p->stats, nbuf, exposure, toy_seed, 0x60F00000u + (uint32_t)ir,
                        p->stats.toys, &work, &gof_ts[ir]);
  }
  if (st == DD_OK && has_classical) {
    stats_template v;
    tpl_view(&t, &p->stats, 1, 0, 0, half, mc, &v);
    for (int i = 0; i < v.k; i++) nbuf[i] = 0.0;
    for (long long e = 0; e < ev.n; e++) {
      int b = stats_template_bin_2d(&v, ev.cs1[e], ev.cs2[e]);
      if (b >= 0) nbuf[b] += 1.0;
    }
    st = stats_gof_eval(&v, &p->stats, nbuf, exposure, toy_seed, 0x60FC0000u, p->stats.toys, &work,
                        &gof_cl);
  }
  st = par_agree(w, st);
  if (st != DD_OK) goto done;
  /* the output file */
  const char *labels[STATS_N_METHODS];
  for (int i = 0; i < g->n_methods; i++) labels[i] = stats_method_name(g->methods[i]);
  st = io_file_create(w, out_path, &out);
  if (st == DD_OK)
    st = io_axis_write_labels(out, "/axes/analysis", g->n_methods, labels, "statistical method");
  if (st == DD_OK)
    st = io_axis_write(out, "/axes/mass_gev", IO_F64, t.n_mass, t.mass_gev, "GeV/c^2",
                       "WIMP mass of the signal template");
  if (st == DD_OK)
    st = io_axis_write(out, "/axes/r", IO_F64, t.n_r, t.r, "1",
                       "supervision weight R of TS = L_CVAE + R H_B (classical: no R)");
  {
    double *buf = NULL;
    const size_t n3 = (size_t)g->n_methods * t.n_mass * t.n_r;
    if (st == DD_OK) st = dd_calloc((void **)&buf, n3, sizeof *buf, "output slice");
    const long long dims[3] = {g->n_methods, t.n_mass, t.n_r};
    const char *const axes[3] = {"/axes/analysis", "/axes/mass_gev", "/axes/r"};
    for (int q = 0; q < R_N && st == DD_OK; q++) {
      char path[128];
      snprintf(path, sizeof path, "/observed/%s", k_res_names[q]);
      for (size_t i = 0; i < n3; i++) buf[i] = res[i * R_N + q];
      st = io_dataset_create(out, path, IO_F64, 3, dims, axes, k_res_units[q], k_res_desc[q]);
      if (st == DD_OK) st = io_write_root(out, path, IO_F64, w->rank == 0 ? buf : NULL);
    }
    free(buf);
  }
  {
    double *gp = calloc((size_t)t.n_r * 2, sizeof *gp);
    if (!gp && st == DD_OK) st = DD_FAIL(DD_ERR_NOMEM, "gof output");
    const long long d1[1] = {t.n_r};
    const char *const a1[1] = {"/axes/r"};
    for (int ir = 0; ir < t.n_r && gp; ir++) {
      gp[ir] = gof_ts[ir].p;
      gp[t.n_r + ir] = gof_ts[ir].stat;
    }
    if (st == DD_OK)
      st = io_dataset_create(out, "/observed/gof_ts_p_value", IO_F64, 1, d1, a1, "1",
                             "model-independent goodness of fit of the TS histogram at each R: "
                             "p = P(D >= D_obs) of the Poisson deviance against the "
                             "background-only expectation, from stats.toys toys (NaN without "
                             "images)");
    if (st == DD_OK) st = io_write_root(out, "/observed/gof_ts_p_value", IO_F64, gp);
    if (st == DD_OK)
      st = io_dataset_create(out, "/observed/gof_ts_deviance", IO_F64, 1, d1, a1, "1",
                             "Poisson deviance 2 sum [nu - n + n ln(n/nu)] of the TS histogram");
    if (st == DD_OK) st = io_write_root(out, "/observed/gof_ts_deviance", IO_F64, gp + t.n_r);
    free(gp);
  }
  if (st == DD_OK) st = io_attr_write_double(out, "/observed", "gof_classical_p_value", gof_cl.p);
  if (st == DD_OK)
    st = io_attr_write_double(out, "/observed", "gof_classical_deviance", gof_cl.stat);
  if (st == DD_OK) st = io_attr_write_string(out, "/observed", "data_file", o->data);
  if (st == DD_OK) st = io_attr_write_string(out, "/observed", "data_hash", info.hash_hex);
  if (st == DD_OK) st = io_attr_write_int(out, "/observed", "n_events", info.n);
  if (st == DD_OK) st = io_attr_write_double(out, "/observed", "exposure_ty", exposure);
  if (st == DD_OK) st = io_attr_write_string(out, "/observed", "results_file", x->results);
  if (st == DD_OK) st = io_attr_write_int(out, "/observed", "toys_count", p->stats.toys);
  if (st == DD_OK) st = io_attr_write_int(out, "/observed", "p_toys_count", o->toys);
  if (st == DD_OK) st = io_attr_write_double(out, "/observed", "upper_limit_cl", 0.9);
  if (st == DD_OK)
    st = io_attr_write_string(out, "/observed", "images",
                              info.has_images ? "yes" : "no: cS1/cS2 only, classical method only");
  if (st == DD_OK) st = io_attr_write_string(out, "/", "config", x->config_text);
  if (st == DD_OK)
    st = io_file_commit(&out);
  else
    io_file_close(&out);
  if (st != DD_OK) goto done;
  if (w->rank == 0) {
    printf("# ddscan analyse: %s (%lld events, hash %s), exposure %g t*y, templates of %s\n",
           o->data, info.n, info.hash_hex, exposure, x->results);
    printf(
        "# p, Z: background-only, asymptotic (the toys method: %ld pseudo-experiments); "
        "p_toys: toy-calibrated from %ld pseudo-experiments (--toys); sigma_hat: best fit; "
        "sigma_up90: 90%% CL upper limit (q~mu, asymptotic)\n",
        p->stats.toys, o->toys);
    printf("%-10s %9s %7s %8s %8s %10s %11s %8s %10s %10s %10s\n", "method", "mass_GeV", "R",
           "n_obs", "b_exp", "statistic", "p", "Z", "p_toys", "sigma_hat", "sigma_up90");
    for (int mi = 0; mi < g->n_methods; mi++) {
      const int cl = g->methods[mi] == STATS_METHOD_CLASSICAL;
      for (int im = 0; im < t.n_mass; im++)
        for (int ir = 0; ir < (cl ? 1 : t.n_r); ir++) {
          const double *r = res + (((size_t)mi * t.n_mass + im) * t.n_r + ir) * R_N;
          if (isnan(r[R_NOBS])) continue;
          char pbuf[32];
          if (g->methods[mi] == STATS_METHOD_TOYS && r[R_P] == 0.0)
            snprintf(pbuf, sizeof pbuf, "<%.3g", 1.0 / (double)p->stats.toys);
          else
            snprintf(pbuf, sizeof pbuf, "%.4g", r[R_P]);
          char rbuf[16];
          if (cl)
            snprintf(rbuf, sizeof rbuf, "-");
          else
            snprintf(rbuf, sizeof rbuf, "%g", t.r[ir]);
          char tbuf[32];
          if (isnan(r[R_PT]))
            snprintf(tbuf, sizeof tbuf, "-");
          else if (r[R_PT] == 0.0)
            snprintf(tbuf, sizeof tbuf, "<%.3g",
                     1.0 / (double)(g->methods[mi] == STATS_METHOD_TOYS ? p->stats.toys : o->toys));
          else
            snprintf(tbuf, sizeof tbuf, "%.4g", r[R_PT]);
          printf("%-10s %9g %7s %8.0f %8.2f %10.4g %11s %8.3f %10s %10.3g %10.3g\n",
                 stats_method_name(g->methods[mi]), t.mass_gev[im], rbuf, r[R_NOBS], r[R_BEXP],
                 r[R_STAT], pbuf, r[R_Z], tbuf, r[R_SIGHAT], r[R_UL]);
        }
    }
    printf(
        "# model-independent goodness of fit: Poisson deviance of the histogram against the "
        "background-only expectation, p from %ld toys (no signal model)\n",
        p->stats.toys);
    printf("%-10s %7s %10s %11s %8s\n", "histogram", "R", "deviance", "p", "Z");
    for (int ir = 0; ir < t.n_r; ir++)
      if (!isnan(gof_ts[ir].p)) {
        char pbuf[32];
        if (gof_ts[ir].p == 0.0)
          snprintf(pbuf, sizeof pbuf, "<%.3g", 1.0 / (double)p->stats.toys);
        else
          snprintf(pbuf, sizeof pbuf, "%.4g", gof_ts[ir].p);
        printf("%-10s %7g %10.4g %11s %8.3f\n", "TS", t.r[ir], gof_ts[ir].stat, pbuf, gof_ts[ir].z);
      }
    if (!isnan(gof_cl.p)) {
      char pbuf[32];
      if (gof_cl.p == 0.0)
        snprintf(pbuf, sizeof pbuf, "<%.3g", 1.0 / (double)p->stats.toys);
      else
        snprintf(pbuf, sizeof pbuf, "%.4g", gof_cl.p);
      printf("%-10s %7s %10.4g %11s %8.3f\n", "classical", "-", gof_cl.stat, pbuf, gof_cl.z);
    }
    printf("# wrote %s\n", out_path);
    fflush(stdout);
  }
done:
  if (data) io_file_close(&data);
  stage_scorer_free(&sc);
  obs_free(&ev);
  tpl_free(&t);
  stats_work_free(&work);
  free(res);
  free(nbuf);
  free(half);
  free(mc);
  free(t_toys);
  free(gof_ts);
  return st == DD_OK ? DD_OK : DD_CONTEXT(st, "analyse");
}
