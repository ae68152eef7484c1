/* signal.c - the signal stage (`ddscan signal CONFIG`), between score and
 * scan: for a signal.model other than "wimp" (an ER line, a tritium-like
 * beta spectrum, solar 8B CEvNS; signals neither network was trained on)
 * it simulates signal.events accepted events of that model's spectrum and
 * recoil type through the detector, renders and scores them with the
 * trained networks exactly like the analysis samples (the score stage's
 * blocks, stage_score_blocks) and writes them to /signal/scores, streamed
 * and resumable (/signal/done).  The ER and NR scores are not touched, so
 * changing the signal model rescores only this sample.
 *
 * Event j of the sample is drawn from DD_STREAM_SIGNAL (a = j, b = retry,
 * c = model) until it passes the acceptance; its attempts are recorded, so
 * the weight of an event at a rate of 1 interaction per t*y before
 * selection is 1/n_draws_total (the scan's signal axis is that rate; cevns:
 * times its importance weight, see below).  The
 * CVAE's latent noise is keyed by bank 2 (DD_STREAM_SCORE_EPS).  With
 * signal.model = "wimp" the stage does nothing: the NR sample is the
 * signal.  CEvNS is drawn from the NR reference spectrum and weighted to its
 * own (drawn from its own spectrum it would almost never pass the cuts). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h> /* uses: MPI_Allreduce */

#include "ddscan/stage.h"    /* uses: stage_ctx, stage_scorer, stage_score_blocks */
#include "ddscan/detector.h" /* uses: det_event_simulate, det_energy_flat */
#include "ddscan/events.h"   /* uses: ev_tritium_density */
#include "ddscan/io.h"       /* uses: io_stage_begin, io_table_create */
#include "ddscan/scan.h"     /* uses: scan_score_record, SCAN_BANK_SIGNAL */

static const char *const k_owned[] = {"/signal"};
#define SIG_GROUP "/signal/scores"
/* draws per event before the model is declared unable to pass the cuts */
#define SIG_MAX_RETRY 100000

static const io_spec k_done_spec = {
    "/signal/done",
    IO_U8,
    {"/signal/block"},
    "1",
    "streamed-block completion mask of the signal sample: 1 = the block's rows are written",
    1};

/* The stage hash: the model hashes plus every key that shapes the signal
 * events and their scores. */
static dd_status signal_hash(stage_ctx *x, uint64_t *hash) {
  uint64_t mh[STAGE_N_MODELS] = {0, 0};
  io_file *in = NULL;
  DD_TRY(io_file_open(x->w, x->results, IO_READ, &in), "signal");
  dd_status st = stage_model_hashes(x, in, mh);
  dd_status st2 = io_file_close(&in);
  DD_TRY(st == DD_OK ? st2 : st, "signal");
  /* not signal.rate_ty: the signal axis is the scan's, the sample is not */
  static const char *const keys[] = {
      "run.seed", "detector",     "physics",       "image",
      "score",    "signal.model", "signal.events", "signal.energy_kev"};
  uint64_t h = dd_hash_str(DD_HASH_INIT, "ddscan-signal-1");
  h = dd_hash_bytes(h, mh, sizeof(uint64_t) * STAGE_N_MODELS);
  const uint64_t ch = cfg_hash(x->cfg, keys, 8);
  *hash = dd_hash_bytes(h, &ch, sizeof ch);
  return DD_OK;
}

/* The energy of one draw: a physics sampler (tritium, CEvNS) or the line. */
static double sampler_draw(void *ctx, double u) {
  return phys_sampler_draw((const phys_sampler *)ctx, u);
}
static double dens_cevns(const void *ctx, double e) {
  return phys_nr_bg_dRdE((const phys_params *)ctx, e);
}

typedef struct signal_io {
  const stage_params *p;
  const det_model *det;
  int cls, model;
  det_energy_fn efn;
  void *ectx;
  io_file *f;
  /* cevns: energies from the NR reference sampler q, each event weighted by
   * the CEvNS density over q's, per unit CEvNS rate (wp NULL: weight 1) */
  const phys_params *wp;
  const phys_sampler *wq;
  double wnorm;
} signal_io;

static dd_status signal_fill(void *ctx, long long first, long long n, det_event *ev) {
  signal_io *c = ctx;
  for (long long i = 0; i < n; i++) {
    const uint32_t j = (uint32_t)(first + i);
    uint32_t k = 0;
    while (!det_event_simulate(c->det, c->cls, c->p->run.seed, DD_STREAM_SIGNAL, j, k,
                               (uint32_t)c->model, c->efn, c->ectx, &ev[i]))
      if (++k >= SIG_MAX_RETRY)
        return DD_FAIL(DD_ERR_CONFIG,
                       "signal: event %u of signal.model = \"%s\" did not pass the acceptance in "
                       "%d draws (an er_line below the threshold? raise signal.energy_kev)",
                       j, scan_signal_name(c->model), SIG_MAX_RETRY);
    ev[i].index = j;
    ev[i].attempts = (int32_t)(k + 1);
    ev[i].cls = c->cls;
    ev[i].weight = c->wp ? phys_weight_nr_bg(c->wp, c->wq, ev[i].energy_kev) / c->wnorm : 1.0;
  }
  return DD_OK;
}

static dd_status signal_sink(void *ctx, long long block, long long first, long long n,
                             const scan_score_record *rows) {
  signal_io *c = ctx;
  dd_status st = io_table_write_at(c->f, SIG_GROUP, stage_score_fields, stage_n_score_fields, first,
                                   n, rows, sizeof *rows);
  if (st == DD_OK) st = io_file_flush(c->f);
  const unsigned char one = 1;
  const long long start = block >= 0 ? block : 0, count = block >= 0 ? 1 : 0;
  if (st == DD_OK) st = io_write_slab(c->f, "/signal/done", IO_U8, &start, &count, &one);
  if (st == DD_OK) st = io_file_flush(c->f);
  return st;
}

/* n_draws_total (sum of attempts, read back in blocks) and the attributes. */
static dd_status finish(const par_world *w, const stage_params *p, io_file *f, long long n,
                        long long bs) {
  scan_score_record *rows = NULL;
  DD_TRY(dd_calloc((void **)&rows, (size_t)bs, sizeof *rows, "signal rows"), "signal");
  const long long nb = (n + bs - 1) / bs, rounds = (nb + w->size - 1) / w->size;
  long long draws = 0, all = 0;
  double s[3] = {0, 0, 0}, t[3] = {0, 0, 0};
  dd_status st = DD_OK;
  for (long long r = 0; r < rounds && st == DD_OK; r++) {
    const long long b = r * w->size + w->rank;
    const long long first = b < nb ? b * bs : 0;
    const long long cnt = b < nb ? (first + bs <= n ? bs : n - first) : 0;
    st = io_table_read(f, SIG_GROUP, stage_score_fields, stage_n_score_fields, first, cnt, rows,
                       sizeof *rows);
    for (long long i = 0; i < cnt && st == DD_OK; i++) {
      draws += rows[i].attempts;
      s[0] += rows[i].l_rec;
      s[1] += rows[i].kl;
      s[2] += rows[i].h_b;
    }
  }
  free(rows);
  DD_TRY(par_agree(w, st), "reading back " SIG_GROUP);
  MPI_Allreduce(&draws, &all, 1, MPI_LONG_LONG, MPI_SUM, w->comm);
  MPI_Reduce(s, t, 3, MPI_DOUBLE, MPI_SUM, 0, w->comm);
  scan_bank_info info;
  memset(&info, 0, sizeof info);
  info.beta = p->nn.cvae.beta;
  info.n_draws_total = all;
  info.seed = p->run.seed;
  snprintf(info.detector_preset, sizeof info.detector_preset, "%s", p->detector.preset_name);
  DD_TRY(stage_scores_write_info(f, SCAN_BANK_SIGNAL, &info), SIG_GROUP);
  const scan_params *g = &p->scan;
  DD_TRY(io_attr_write_string(f, "/signal", "model", scan_signal_name(g->signal_model)), "signal");
  DD_TRY(io_attr_write_double(f, "/signal", "energy_kev",
                              g->signal_model == SCAN_SIGNAL_ER_LINE ? g->signal_energy_kev : NAN),
         "signal");
  DD_TRY(io_attr_write_double(f, "/signal", "acceptance", all > 0 ? (double)n / (double)all : 0.0),
         "signal");
  DD_TRY(io_attr_write_string(f, "/signal", "description",
                              "the signal sample of signal.model, simulated (DD_STREAM_SIGNAL), "
                              "rendered and scored like the analysis samples; acceptance = "
                              "events / n_draws_total"),
         "signal");
  dd_info(
      "signal: %s sample, %lld events from %lld draws (acceptance %.4g): mean l_rec %.5g, KL "
      "%.4g, H_B %.4g",
      scan_signal_name(g->signal_model), n, all, all > 0 ? (double)n / (double)all : 0.0,
      t[0] / (double)n, t[1] / (double)n, t[2] / (double)n);
  return DD_OK;
}

static dd_status signal_is_current(stage_ctx *x, int *current) {
  *current = 1;
  if (x->p->scan.signal_model == SCAN_SIGNAL_WIMP) return DD_OK;
  *current = 0;
  int scores = 0;
  int exists = x->w->rank == 0 ? dd_path_exists(x->results) : 0;
  MPI_Bcast(&exists, 1, MPI_INT, 0, x->w->comm);
  if (!exists) return DD_OK;
  DD_TRY(stage_score.is_current(x, &scores), "signal");
  if (!scores) return DD_OK;
  uint64_t hash = 0;
  DD_TRY(signal_hash(x, &hash), "signal");
  return io_stage_is_current(x->w, x->results, "signal", hash, current);
}

/* /signal/done: the block axis and mask, or the mask of a resumed .tmp. */
static dd_status done_mask(io_file *f, int resumed, long long nb, long long bs,
                           unsigned char *done) {
  if (!resumed) {
    DD_TRY(io_axis_write_index(f, "/signal/block", nb, "streamed block of the signal sample"),
           "signal");
    DD_TRY(io_spec_create(f, &k_done_spec), "signal");
    DD_TRY(io_attr_write_int(f, "/signal", "block_events", bs), "signal");
    return DD_OK;
  }
  long long got_bs = -1;
  DD_TRY(io_attr_read_int(f, "/signal", "block_events", &got_bs), "signal");
  if (got_bs != bs)
    return DD_FAIL(DD_ERR_IO, "the unfinished signal sample was cut into other blocks");
  return io_read_all(f, "/signal/done", IO_U8, done);
}

static dd_status signal_run(stage_ctx *x) {
  const par_world *w = x->w;
  const stage_params *p = x->p;
  const scan_params *g = &p->scan;
  if (g->signal_model == SCAN_SIGNAL_WIMP) {
    dd_info("signal: signal.model = \"wimp\": the NR sample is the signal; nothing to do");
    return DD_OK;
  }
  int scores = 0;
  DD_TRY(stage_score.is_current(x, &scores), "signal");
  if (!scores)
    return DD_FAIL(DD_ERR_IO,
                   "signal: '%s' holds no current scores of this configuration: run `ddscan "
                   "score %s` (or `ddscan %s`) first",
                   x->results, cfg_filename(x->cfg), cfg_filename(x->cfg));
  uint64_t hash = 0;
  DD_TRY(signal_hash(x, &hash), "signal");
  int current = 0;
  DD_TRY(io_stage_is_current(w, x->results, "signal", hash, &current), "signal");
  if (current) {
    dd_info("signal: '%s' /signal is current for this configuration: nothing to do", x->results);
    return DD_OK;
  }
  const long long n = g->signal_events;
  const long long bs = (long long)p->score.batch_size * p->score.block_batches;
  const long long nb = (n + bs - 1) / bs;
  const int model = g->signal_model;
  const phys_params *ph = &p->phys;
  phys_sampler q;
  memset(&q, 0, sizeof q);
  phys_params cevns = *ph; /* CEvNS alone, at the physics' normalisation */
  cevns.nr_bg.cevns_on = 1;
  cevns.nr_bg.neutrons_on = 0;
  if (cevns.nr_bg.cevns_scale <= 0.0) cevns.nr_bg.cevns_scale = 1.0;
  det_energy_flat_ctx line = {g->signal_energy_kev, g->signal_energy_kev};
  signal_io sio = {p, NULL, DET_ER, model, det_energy_flat, &line, NULL, NULL, NULL, 1.0};
  phys_sampler qc; /* cevns: its own spectrum, for its rate over the NR range */
  memset(&qc, 0, sizeof qc);
  dd_status st = DD_OK;
  if (model == SCAN_SIGNAL_TRITIUM) {
    st = phys_sampler_init_fn(&q, ev_tritium_density, NULL, 0.0, EV_TRITIUM_Q_KEV,
                              (size_t)ph->sampler_points);
    sio.efn = sampler_draw;
    sio.ectx = &q;
  } else if (model == SCAN_SIGNAL_CEVNS) {
    /* 8B CEvNS falls steeply below the threshold (acceptance ~1e-5 when drawn
     * from its own spectrum): the events are drawn from the NR reference
     * spectrum, which the cuts accept, and importance-weighted to CEvNS,
     * exactly as the NR background is (docs/physics.md §8) */
    st = phys_sampler_init_fn(&qc, dens_cevns, &cevns, ph->nr_ref.e_min_kev, ph->nr_ref.e_max_kev,
                              (size_t)ph->sampler_points);
    if (st == DD_OK) st = phys_sampler_init_nr_ref(&q, ph);
    sio.cls = DET_NR;
    sio.efn = sampler_draw;
    sio.ectx = &q;
    sio.wp = &cevns;
    sio.wq = &q;
    sio.wnorm = qc.norm;
  }
  st = par_agree(w, st);
  stage_scorer *c = NULL;
  unsigned char *done = NULL;
  io_file *out = NULL;
  if (st == DD_OK) st = stage_scorer_init(x, nb, &c);
  if (st != DD_OK) goto end;
  sio.det = stage_scorer_detector(c);
  dd_info("signal: %s%s, %lld events scored in %lld blocks of %lld", scan_signal_name(model),
          model == SCAN_SIGNAL_ER_LINE ? " (line)" : "", n, nb, bs);
  io_stage s = {"signal",  k_owned,   1,  x->results, x->results,  x->config_text, hash,
                x->o.argc, x->o.argv, -1, -1,         x->o.resume, "/signal/done"};
  int resumed = 0;
  st = stage_begin_checked(w, &s, &stage_signal, &out, &resumed);
  if (st == DD_OK && !resumed)
    st = io_table_create(out, SIG_GROUP, stage_score_fields, stage_n_score_fields,
                         stage_scores_row_description(SCAN_BANK_SIGNAL), n);
  if (st == DD_OK) st = dd_calloc((void **)&done, (size_t)nb, 1, "block mask");
  if (st == DD_OK) st = done_mask(out, resumed, nb, bs, done);
  st = par_agree(w, st);
  if (st == DD_OK) st = io_file_flush(out);
  if (st == DD_OK && resumed) {
    long long k = 0;
    for (long long b = 0; b < nb; b++) k += done[b];
    dd_info("signal: resuming: %lld of %lld blocks already scored", k, nb);
  }
  sio.f = out;
  stage_block_io bio = {signal_fill, signal_sink, &sio};
  if (st == DD_OK)
    st = stage_score_blocks(w, c, (uint32_t)SCAN_BANK_SIGNAL, n, done, &bio, "score signal");
  if (st == DD_OK) st = finish(w, p, out, n, bs);
  if (st == DD_OK) {
    st = io_stage_commit(&out);
    if (st == DD_OK) dd_info("signal: wrote %s", x->results);
  } else if (out) {
    io_file_close(&out);
  }
end:
  free(done);
  phys_sampler_free(&q);
  phys_sampler_free(&qc);
  stage_scorer_free(&c);
  return st == DD_OK ? DD_OK : DD_CONTEXT(st, "signal");
}

static void signal_schema(stage_schema *out) {
  static stage_table table = {SIG_GROUP, NULL, 0};
  table.fields = stage_score_fields;
  table.n_fields = stage_n_score_fields;
  out->tables = &table;
  out->n_tables = 1;
  out->specs = &k_done_spec;
  out->n_specs = 1;
}

const stage_def stage_signal = {
    "signal",      "the scores of a non-WIMP signal.model's own sample -> /signal",
    k_owned,       1,
    signal_schema, signal_is_current,
    signal_run,
};
