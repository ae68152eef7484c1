/* simulate.c - the simulate stage (`ddscan simulate CONFIG [--preview N]`),
 * stage 1 of the pipeline.  Every rank simulates a static block of the ER and NR banks
 * (det_events_simulate; events are a pure function of (seed, class, index),
 * so the records do not depend on the rank count), and the stage writes them
 * as io_field tables /banks/er and /banks/nr, the information ceiling of
 * docs/detector.md for every scan mass (/banks/ceiling), and with --preview N
 * example images as PNG files.  /spectra belongs to the scan stage, which
 * knows the final mass grid. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h> /* uses: MPI_Allreduce, MPI_Allgatherv */

#include "ddscan/stage.h"    /* uses: stage_ctx, stage_def, stage_bank_fields */
#include "ddscan/detector.h" /* uses: det_model, det_events_simulate, det_ceiling_* */
#include "ddscan/image.h"    /* uses: img_renderer, img_preview_write */
#include "ddscan/io.h"       /* uses: io_stage_begin, io_table_write, io_write_root */
#include "ddscan/physics.h"  /* uses: phys_sampler, phys_weight_nr */

/* The detector's energy callback on top of a physics sampler. */
static double sampler_draw(void *ctx, double u) {
  return phys_sampler_draw((const phys_sampler *)ctx, u);
}

/* Everything the stage holds, freed in one place. */
typedef struct sim_ctx {
  const stage_params *p; /* borrowed from the stage context */
  det_model *model;
  img_renderer *renderer;
  phys_sampler q[2]; /* [DET_ER], [DET_NR] */
  det_event *ev;
  float *cs1[2], *cs2[2], *ener[2], *shape[2]; /* ceiling sample, gathered on every rank */
  double *w;
} sim_ctx;

static void sim_free(sim_ctx *c) {
  free(c->model);
  free(c->renderer);
  phys_sampler_free(&c->q[0]);
  phys_sampler_free(&c->q[1]);
  free(c->ev);
  for (int k = 0; k < 2; k++) {
    free(c->cs1[k]);
    free(c->cs2[k]);
    free(c->ener[k]);
    free(c->shape[k]);
  }
  free(c->w);
}

/* One bank: this rank's block, then the table (collective). */
static dd_status write_bank(const par_world *w, sim_ctx *c, io_file *f, int cls) {
  const det_bank *b = &c->p->detector.bank;
  const char *group = cls == DET_ER ? "/banks/er" : "/banks/nr";
  const char *name = cls == DET_ER ? "ER" : "NR";
  long long total = (long long)det_bank_total(b, cls), first, count;
  io_rows_split(total, w->rank, w->size, &first, &count);
  free(c->ev);
  c->ev = NULL;
  dd_status st = dd_calloc((void **)&c->ev, (size_t)(count > 0 ? count : 1), sizeof(det_event),
                           "event bank block");
  uint64_t draws = 0, draws_all = 0;
  dd_progress prog;
  char label[64];
  snprintf(label, sizeof label, "simulate %s bank", name);
  dd_progress_start(&prog, label, "events", (double)count);
  for (long long i = 0; i < count && st == DD_OK; i += 1000) {
    long long n = count - i < 1000 ? count - i : 1000;
    uint64_t d = 0;
    st = det_events_simulate(c->model, cls, c->p->run.seed, (uint64_t)(first + i), (uint64_t)n,
                             sampler_draw, &c->q[cls], c->ev + i, &d);
    draws += d;
    dd_progress_update(&prog, (double)(i + n));
  }
  dd_progress_end(&prog, (double)count);
  DD_TRY(par_agree(w, st), "simulating the %s bank", name);
  MPI_Allreduce(&draws, &draws_all, 1, MPI_UINT64_T, MPI_SUM, w->comm);
  if (total > 0) {
    char desc[128];
    snprintf(desc, sizeof desc, "event index in the %s bank (counter a of its event stream)", name);
    int nf = 0;
    const io_field *fields = stage_bank_fields(&nf);
    DD_TRY(io_table_write(f, group, fields, nf, desc, c->ev, sizeof(det_event), count),
           "writing %s", group);
  } else {
    DD_TRY(io_group_create(f, group), "writing %s", group);
  }
  static const char *const split_attr[DET_N_SPLITS] = {"n_train", "n_test", "n_analysis"};
  for (int s = 0; s < DET_N_SPLITS; s++)
    DD_TRY(io_attr_write_int(f, group, split_attr[s], (long long)b->n[cls][s]), "writing %s",
           group);
  DD_TRY(io_attr_write_int(f, group, "n_draws", (long long)draws_all), "writing %s", group);
  DD_TRY(io_attr_write_int(f, group, "seed", (long long)c->p->run.seed), "writing %s", group);
  DD_TRY(io_attr_write_string(
             f, group, "description",
             cls == DET_ER
                 ? "ER event records (train, test, analysis: contiguous index ranges), energies "
                   "from the ER sampler of group physics; reweight with n_draws"
                 : "NR event records (train, test, analysis: contiguous index ranges), energies "
                   "from the reference spectrum q(E) of physics.nr_reference; an event's weight "
                   "for a WIMP is (dR/dE)(E) / q(E) / n_draws"),
         "writing %s", group);
  dd_info("simulate: %s bank %lld events, %llu draws (acceptance %.3f)", name, total,
          (unsigned long long)draws_all, draws_all ? (double)total / (double)draws_all : 0.0);
  return DD_OK;
}

/* The ceiling sample of one class, simulated in blocks and gathered in index
 * order on every rank: cS1, cS2, energy, S1 prompt fraction. */
static dd_status ceiling_sample(const par_world *w, sim_ctx *c, int cls) {
  long long n = (long long)c->p->detector.ceiling_events, first, count;
  io_rows_split(n, w->rank, w->size, &first, &count);
  float *loc[4] = {NULL, NULL, NULL, NULL};
  float **all[4] = {&c->cs1[cls], &c->cs2[cls], &c->ener[cls], &c->shape[cls]};
  dd_status st = DD_OK;
  for (int k = 0; k < 4 && st == DD_OK; k++) {
    st = dd_calloc((void **)&loc[k], (size_t)(count + 1), sizeof(float), "ceiling block");
    if (st == DD_OK) st = dd_calloc((void **)all[k], (size_t)(n + 1), sizeof(float), "ceiling");
  }
  if (st == DD_OK)
    st = det_ceiling_simulate(c->model, cls, c->p->run.seed, (uint64_t)first, (uint64_t)count,
                              sampler_draw, &c->q[cls], loc[0], loc[1], loc[2], loc[3]);
  st = par_agree(w, st);
  if (st == DD_OK) {
    int *counts = calloc((size_t)w->size, sizeof(int)),
        *displs = calloc((size_t)w->size, sizeof(int));
    if (!counts || !displs) DD_PANIC(DD_ERR_NOMEM, "ceiling gather");
    for (int r = 0; r < w->size; r++) {
      long long fr, cr;
      io_rows_split(n, r, w->size, &fr, &cr);
      counts[r] = (int)cr;
      displs[r] = (int)fr;
    }
    for (int k = 0; k < 4; k++)
      MPI_Allgatherv(loc[k], (int)count, MPI_FLOAT, *all[k], counts, displs, MPI_FLOAT, w->comm);
    free(counts);
    free(displs);
  }
  for (int k = 0; k < 4; k++) free(loc[k]);
  return st == DD_OK ? DD_OK : DD_CONTEXT(st, "ceiling sample");
}

/* Layout of the ceiling results: per mass scalars [nm] each, then per mass
 * and band bin [nm][bins] each, then per band bin [bins] each (ER only, the
 * same for every mass). */
enum {
  CR_ACC,
  CR_AUC,
  CR_ACC1,
  CR_LEAK,
  CR_ESS,
  CR_ACC_SHAPE,
  CR_AUC_SHAPE,
  CR_ACC1_SHAPE,
  CR_AUC1_SHAPE,
  CR_CORR_MAX,
  CR_N_SCALAR,
  CR_NR_MEDIAN = CR_N_SCALAR,
  CR_NR_SIGMA,
  CR_LEAK_BIN,
  CR_PSD_LEAK_BIN,
  CR_CORR_NR,
  CR_N_MASS_BIN,
  CR_ER_MEDIAN = CR_N_MASS_BIN,
  CR_ER_SIGMA,
  CR_CORR_ER,
  CR_N
};

/* The ceiling's datasets in /banks/ceiling, indexed like its results (CR_):
 * per mass, per mass and cS1 band bin, per band bin (ER only).  need = 1:
 * only with detector.ceiling_events > 0. */
#define CM "/banks/ceiling/mass_gev"
#define CBIN "/banks/ceiling/cs1_bin_pe"
static const io_spec k_ceiling_specs[CR_N] = {
    [CR_ACC] = {"/banks/ceiling/accuracy",
                IO_F64,
                {CM},
                "1",
                "balanced-class accuracy of the Bayes (likelihood-ratio) classifier on (cS1, log10 "
                "cS2/cS1), measured on an independent half of the sample",
                1},
    [CR_AUC] = {"/banks/ceiling/auc", IO_F64, {CM}, "1", "ROC area of that likelihood ratio", 1},
    [CR_ACC1] = {"/banks/ceiling/accuracy_cs1_only",
                 IO_F64,
                 {CM},
                 "1",
                 "the same classifier on cS1 alone",
                 1},
    [CR_LEAK] = {"/banks/ceiling/leakage",
                 IO_F64,
                 {CM},
                 "1",
                 "ER fraction below the NR median of log10(cS2/cS1), over the cS1 bins",
                 1},
    [CR_ESS] = {"/banks/ceiling/ess_nr",
                IO_F64,
                {CM},
                "1",
                "effective number of reweighted NR events (sum w)^2 / sum w^2",
                1},
    [CR_ACC_SHAPE] =
        {"/banks/ceiling/accuracy_shape",
         IO_F64,
         {CM},
         "1",
         "balanced-class accuracy of the likelihood-ratio classifier on (cS1, log10 cS2/cS1, S1 "
         "prompt fraction f): LR(cS1, y) p(f|cS1,NR)/p(f|cS1,ER), same halves",
         1},
    [CR_AUC_SHAPE] =
        {"/banks/ceiling/auc_shape", IO_F64, {CM}, "1", "ROC area of that likelihood ratio", 1},
    [CR_ACC1_SHAPE] = {"/banks/ceiling/accuracy_cs1_shape",
                       IO_F64,
                       {CM},
                       "1",
                       "the same classifier on (cS1, f) only",
                       1},
    [CR_AUC1_SHAPE] = {"/banks/ceiling/auc_cs1_shape",
                       IO_F64,
                       {CM},
                       "1",
                       "ROC area of the classifier on (cS1, f)",
                       1},
    [CR_CORR_MAX] =
        {"/banks/ceiling/shape_corr_max",
         IO_F64,
         {CM},
         "1",
         "largest |correlation| of log10(cS2/cS1) and f within a cS1 bin (either class, bins with "
         ">= 1000 effective events): the check of the factorisation",
         1},
    [CR_NR_MEDIAN] = {"/banks/ceiling/nr_median",
                      IO_F64,
                      {CM, CBIN},
                      "1",
                      "NR median of log10(cS2/cS1) per cS1 bin",
                      1},
    [CR_NR_SIGMA] = {"/banks/ceiling/nr_sigma",
                     IO_F64,
                     {CM, CBIN},
                     "1",
                     "NR standard deviation of log10(cS2/cS1) per cS1 bin",
                     1},
    [CR_LEAK_BIN] = {"/banks/ceiling/leak_bin",
                     IO_F64,
                     {CM, CBIN},
                     "1",
                     "ER fraction below the NR median per cS1 bin",
                     1},
    [CR_PSD_LEAK_BIN] =
        {"/banks/ceiling/psd_leak_bin",
         IO_F64,
         {CM, CBIN},
         "1",
         "ER fraction above the NR median of the S1 prompt fraction per cS1 bin (pulse-shape "
         "discrimination alone at 50 % NR acceptance)",
         1},
    [CR_CORR_NR] = {"/banks/ceiling/shape_corr_nr",
                    IO_F64,
                    {CM, CBIN},
                    "1",
                    "NR correlation of log10(cS2/cS1) and f per cS1 bin",
                    1},
    [CR_ER_MEDIAN] = {"/banks/ceiling/er_median",
                      IO_F64,
                      {CBIN},
                      "1",
                      "ER median of log10(cS2/cS1) per cS1 bin",
                      1},
    [CR_ER_SIGMA] = {"/banks/ceiling/er_sigma",
                     IO_F64,
                     {CBIN},
                     "1",
                     "ER standard deviation of log10(cS2/cS1) per cS1 bin",
                     1},
    [CR_CORR_ER] = {"/banks/ceiling/shape_corr_er",
                    IO_F64,
                    {CBIN},
                    "1",
                    "ER correlation of log10(cS2/cS1) and f per cS1 bin",
                    1},
};
#undef CM
#undef CBIN

static const char *const k_owned[] = {"/banks"};

/* /banks/ceiling: both ceilings for every scan mass (NR sample reweighted
 * from q(E) to that mass), computed on rank 0 and written from there. */
static dd_status write_ceiling(const par_world *w, sim_ctx *c, io_file *f) {
  const stage_params *p = c->p;
  const det_params *dp = &p->detector;
  const int nm = p->scan.n_mass, nb = DET_BAND_BINS;
  size_t n = (size_t)dp->ceiling_events;
  DD_TRY(ceiling_sample(w, c, DET_ER), "ER");
  DD_TRY(ceiling_sample(w, c, DET_NR), "NR");
  const size_t n_res = (size_t)nm * CR_N_SCALAR + (size_t)nm * nb * (CR_N_MASS_BIN - CR_N_SCALAR) +
                       (size_t)nb * (CR_N - CR_N_MASS_BIN);
  double *res = calloc(n_res, sizeof(double));
  dd_status st = res ? DD_OK : DD_FAIL(DD_ERR_NOMEM, "ceiling results");
  if (st == DD_OK) st = dd_calloc((void **)&c->w, n + 1, sizeof(double), "ceiling weights");
  double *out[CR_N]; /* start of each quantity in res */
  for (int q = 0, off = 0; q < CR_N; q++) {
    out[q] = res ? res + off : NULL;
    off += q < CR_N_SCALAR ? nm : (q < CR_N_MASS_BIN ? nm * nb : nb);
  }
  const int informative = det_s1_shape_informative(dp);
  for (int k = 0; k < nm && st == DD_OK && w->rank == 0; k++) {
    double mass = p->scan.mass_gev[k];
    for (size_t i = 0; i < n; i++)
      c->w[i] =
          phys_weight_nr(&p->phys, &c->q[DET_NR], mass, p->phys.sigma_ref_cm2, c->ener[DET_NR][i]);
    det_ceiling r;
    st = det_ceiling_compute(c->cs1[DET_ER], c->cs2[DET_ER], c->shape[DET_ER], NULL, n,
                             c->cs1[DET_NR], c->cs2[DET_NR], c->shape[DET_NR], c->w, n,
                             dp->ceiling_cs1_min_pe, dp->ceiling_cs1_max_pe, &r);
    if (st != DD_OK) break;
    const double scalar[CR_N_SCALAR] = {
        r.accuracy,       r.auc,       r.accuracy_cs1_only,  r.leakage,       r.ess_nr,
        r.accuracy_shape, r.auc_shape, r.accuracy_cs1_shape, r.auc_cs1_shape, r.shape_corr_max};
    for (int q = 0; q < CR_N_SCALAR; q++) out[q][k] = scalar[q];
    const double *per_bin[CR_N_MASS_BIN - CR_N_SCALAR] = {r.nr_median, r.nr_sigma, r.leak_bin,
                                                          r.psd_leak_bin, r.shape_corr_nr};
    for (int q = CR_N_SCALAR; q < CR_N_MASS_BIN; q++)
      memcpy(out[q] + k * nb, per_bin[q - CR_N_SCALAR], sizeof(double) * (size_t)nb);
    memcpy(out[CR_ER_MEDIAN], r.er_median, sizeof r.er_median);
    memcpy(out[CR_ER_SIGMA], r.er_sigma, sizeof r.er_sigma);
    memcpy(out[CR_CORR_ER], r.shape_corr_er, sizeof r.shape_corr_er);
    dd_info(
        "ceiling %s, %g GeV: (cS1, cS2) accuracy %.4f, AUC %.4f (cS1 alone %.4f), ER leakage "
        "below the NR median %.2f %%, NR effective events %.0f",
        dp->preset_name, mass, r.accuracy, r.auc, r.accuracy_cs1_only, 100.0 * r.leakage, r.ess_nr);
    dd_info(
        "ceiling %s, %g GeV: with the S1 pulse shape accuracy %.4f, AUC %.4f (cS1 + shape %.4f); "
        "max |corr(y, shape)| %.3f; the images are judged against the %s ceiling",
        dp->preset_name, mass, r.accuracy_shape, r.auc_shape, r.accuracy_cs1_shape,
        r.shape_corr_max, informative ? "shape" : "(cS1, cS2)");
    if (r.ess_nr < 0.05 * (double)r.n_nr)
      dd_warn("ceiling at %g GeV rests on %.0f effective NR events: widen physics.nr_reference",
              mass, r.ess_nr);
  }
  st = par_agree(w, st);
  const char *g = "/banks/ceiling";
  double edges[DET_BAND_BINS], upper[DET_BAND_BINS];
  for (int b = 0; b < DET_BAND_BINS; b++) {
    edges[b] = det_band_edges_pe[b];
    upper[b] = det_band_edges_pe[b + 1];
  }
  if (st == DD_OK)
    st = io_axis_write(f, "/banks/ceiling/mass_gev", IO_F64, nm, p->scan.mass_gev, "GeV/c^2",
                       "WIMP mass of the NR reweighting");
  if (st == DD_OK)
    st = io_axis_write(f, "/banks/ceiling/cs1_bin_pe", IO_F64, DET_BAND_BINS, edges, "PE",
                       "lower cS1 edge of the band bin; upper edges in attribute upper_edge_pe");
  if (st == DD_OK)
    st = io_attr_write_doubles(f, "/banks/ceiling/cs1_bin_pe", "upper_edge_pe", upper,
                               DET_BAND_BINS);
  for (int q = 0; q < CR_N && st == DD_OK; q++) {
    st = io_spec_create(f, &k_ceiling_specs[q]);
    if (st == DD_OK)
      st = io_write_root(f, k_ceiling_specs[q].path, IO_F64, w->rank == 0 ? out[q] : NULL);
  }
  if (st == DD_OK) st = io_attr_write_int(f, g, "events_per_class", (long long)n);
  if (st == DD_OK) st = io_attr_write_double(f, g, "cs1_min_pe", dp->ceiling_cs1_min_pe);
  if (st == DD_OK) st = io_attr_write_double(f, g, "cs1_max_pe", dp->ceiling_cs1_max_pe);
  if (st == DD_OK) st = io_attr_write_string(f, g, "reference", informative ? "shape" : "cs1_cs2");
  if (st == DD_OK)
    st = io_attr_write_string(
        f, g, "shape_feature",
        "S1 prompt fraction f (det_s1_prompt_fraction): share of the area of the 37 displayed S1 "
        "waveform columns before t_10 + 90 ns, t_10 where the cumulative area reaches 10 %");
  if (st == DD_OK)
    st = io_attr_write_string(
        f, g, "description",
        "information ceilings (docs/detector.md §7): what any classifier can reach from the "
        "corrected signals (accuracy, auc) and from them plus the S1 pulse shape the image shows "
        "(accuracy_shape, auc_shape); attribute reference names the one an image classifier is "
        "judged against (shape unless detector.s1_timing is pax_simple); an independent sample "
        "from DD_STREAM_CEILING, ER as in the bank, NR reweighted per mass");
  free(res);
  return st == DD_OK ? DD_OK : DD_CONTEXT(st, "writing %s", g);
}

static dd_status simulate_run(stage_ctx *x) {
  const par_world *w = x->w;
  sim_ctx c;
  memset(&c, 0, sizeof c);
  c.p = x->p;
  io_file *f = NULL;
  dd_status st = dd_calloc((void **)&c.model, 1, sizeof *c.model, "detector model");
  if (st == DD_OK) st = det_model_init(c.model, &c.p->detector, c.p->run.seed);
  if (st == DD_OK) st = phys_sampler_init_er(&c.q[DET_ER], &c.p->phys);
  if (st == DD_OK) st = phys_sampler_init_nr_ref(&c.q[DET_NR], &c.p->phys);
  if (st != DD_OK) goto done;
  det_params_print(&c.p->detector);
  if (w->rank == 0) st = dd_mkdir_p(c.p->run.output_dir);
  st = par_agree(w, st);
  if (st != DD_OK) goto done;
  io_stage s = {"simulate",
                k_owned,
                1,
                x->results,
                x->results,
                x->config_text,
                stage_simulate_hash(x->cfg),
                x->o.argc,
                x->o.argv,
                -1,
                -1,
                0,
                NULL};
  st = io_stage_begin(w, &s, &f, NULL);
  if (st == DD_OK) st = write_bank(w, &c, f, DET_ER);
  if (st == DD_OK) st = write_bank(w, &c, f, DET_NR);
  if (st == DD_OK && c.p->detector.ceiling_events > 0) st = write_ceiling(w, &c, f);
  /* previews: rank 0 renders the first N events of each bank */
  if (st == DD_OK && x->o.preview_n > 0) {
    dd_status pst = DD_OK;
    if (w->rank == 0) {
      char dir[STAGE_PATH_MAX + 16];
      snprintf(dir, sizeof dir, "%s/preview", c.p->run.output_dir);
      pst = dd_calloc((void **)&c.renderer, 1, sizeof *c.renderer, "renderer");
      if (pst == DD_OK) pst = img_renderer_init(c.renderer, &c.p->image, c.model);
      if (pst == DD_OK)
        pst = img_preview_write(c.renderer, c.p->run.seed, x->o.preview_n, sampler_draw,
                                &c.q[DET_ER], sampler_draw, &c.q[DET_NR], dir);
      if (pst == DD_OK)
        dd_info("simulate: %d ER and %d NR example images in %s (sheet.png, sheet_pax.png)",
                x->o.preview_n, x->o.preview_n, dir);
    }
    st = par_agree(w, pst);
  }
  if (st == DD_OK) {
    st = io_stage_commit(&f);
    if (st == DD_OK) dd_info("simulate: wrote %s", x->results);
  } else {
    io_file_close(&f);
  }
done:
  sim_free(&c);
  return st == DD_OK ? DD_OK : DD_CONTEXT(st, "simulate");
}

static dd_status simulate_is_current(stage_ctx *x, int *current) {
  return io_stage_is_current(x->w, x->results, "simulate", stage_simulate_hash(x->cfg), current);
}

static void simulate_schema(stage_schema *out) {
  static stage_table tables[2] = {{"/banks/er", NULL, 0}, {"/banks/nr", NULL, 0}};
  for (int k = 0; k < 2; k++) tables[k].fields = stage_bank_fields(&tables[k].n_fields);
  out->tables = tables;
  out->n_tables = 2;
  out->specs = k_ceiling_specs;
  out->n_specs = (int)(sizeof k_ceiling_specs / sizeof k_ceiling_specs[0]);
}

const stage_def stage_simulate = {
    "simulate",      "the ER and NR event banks and the information ceiling per scan mass",
    k_owned,         1,
    simulate_schema, simulate_is_current,
    simulate_run,
};
