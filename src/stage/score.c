/* score.c - the score stage (`ddscan score CONFIG`), stage 3 of the pipeline.  Loads the
 * finished CVAE and CNN checkpoints of this configuration and computes, for
 * every event of the analysis split of both banks, the components of the
 * anomaly score (paper Eqs. 8, 10, 11): L_rec (MSE), KL, the CNN logit and
 * H_B = -log(1 - p) from it, beside cS1, cS2, the true energy and the draws
 * the event took.  Events are cut into fixed batches by index and the
 * batches dealt to the ranks in contiguous blocks, so every network call and
 * every output byte is the same for any rank count.  The CVAE's latent
 * sample uses DD_STREAM_SCORE_EPS (a = bank, b = event index), or z = mu with
 * score.noise = "mean".  Writes /scores in the schema of scores.c. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h> /* uses: MPI_Bcast, MPI_Allreduce */

#include "ddscan/stage.h"    /* uses: stage_ctx, stage_bank_read, stage_model_hashes */
#include "ddscan/detector.h" /* uses: det_model, det_bank_range */
#include "ddscan/image.h"    /* uses: img_renderer, img_render */
#include "ddscan/io.h"       /* uses: io_stage_begin, io_stage_is_current */
#include "ddscan/nn.h"       /* uses: nn_model, nn_checkpoint_load */
#include "ddscan/scan.h"     /* uses: scan_score_record, stage_scores_write */
#include "ddscan/stats.h"    /* uses: stats_hb_from_logit */

typedef struct sc_ctx {
  stage_ctx *ctx;        /* borrowed */
  const stage_params *p; /* borrowed: x->p */
  det_model *det;
  img_renderer *rend;
  nn_model model[2];       /* [0] CVAE, [1] CNN, max_batch = score.batch_size */
  float *x;                /* owned (batch, C, H, W) */
  uint32_t *key;           /* owned (batch): noise keys (event indices) */
  det_event *ev;           /* owned: this rank's records of one bank */
  scan_score_record *rows; /* owned: this rank's scores of one bank */
} sc_ctx;

static void sc_free(sc_ctx *c) {
  free(c->det);
  free(c->rend);
  nn_model_free(&c->model[0]);
  nn_model_free(&c->model[1]);
  dd_free_aligned(c->x);
  free(c->key);
  free(c->ev);
  free(c->rows);
}

/* Rank 0 loads the finished checkpoint of model k and broadcasts the
 * parameters.  A missing, unfinished or foreign checkpoint is an error that
 * says which stage to run. */
static dd_status load_model(const par_world *w, sc_ctx *c, int k, uint64_t hash) {
  const stage_params *p = c->p;
  char ckpt[STAGE_PATH_MAX + 64];
  stage_model_paths(c->ctx, k, ckpt, NULL, sizeof ckpt);
  const int epochs = k == 0 ? p->train.cvae.epochs : p->train.cnn.epochs;
  nn_model *m = &c->model[k];
  dd_status st = DD_OK;
  if (w->rank == 0) {
    if (!dd_path_exists(ckpt)) {
      st = DD_FAIL(DD_ERR_IO, "no checkpoint '%s': run `ddscan train %s` first", ckpt,
                   cfg_filename(c->ctx->cfg));
    } else {
      nn_ckpt_info want = {hash, p->run.seed, 0, 0}, got;
      st = nn_checkpoint_load(m, ckpt, &want, &got);
      if (st == DD_ERR_ARG) {
        char msg[768];
        snprintf(msg, sizeof msg, "%s", dd_error_message());
        st = DD_FAIL(DD_ERR_CONFIG, "%s: run `ddscan train %s` for this configuration", msg,
                     cfg_filename(c->ctx->cfg));
      } else if (st == DD_OK && got.epoch != (uint64_t)epochs) {
        st = DD_FAIL(DD_ERR_CONFIG,
                     "checkpoint '%s' stopped after epoch %llu of %d: finish it with `ddscan "
                     "train %s --resume`",
                     ckpt, (unsigned long long)got.epoch, epochs, cfg_filename(c->ctx->cfg));
      }
    }
  }
  DD_TRY(par_agree(w, st), "score: %s", k == 0 ? "CVAE" : "CNN");
  MPI_Bcast(m->params, (int)m->n_params, MPI_FLOAT, 0, w->comm);
  return DD_OK;
}

/* Bank cls (DET_ER / DET_NR): this rank's block of fixed batches. */
static dd_status score_bank(const par_world *w, sc_ctx *c, io_file *in, int cls,
                            long long *n_local_out, long long *first_out) {
  const stage_params *p = c->p;
  uint64_t first, n;
  det_bank_range(&p->detector.bank, cls, DET_SPLIT_ANALYSIS, &first, &n);
  const int B = p->score.batch_size;
  const long long nb = ((long long)n + B - 1) / B;
  long long b0, bc;
  io_rows_split(nb, w->rank, w->size, &b0, &bc);
  const long long r0 = b0 * B;
  long long r1 = (b0 + bc) * B;
  if (r1 > (long long)n) r1 = (long long)n;
  const long long nl = r1 > r0 ? r1 - r0 : 0;
  free(c->ev);
  free(c->rows);
  c->ev = NULL;
  c->rows = NULL;
  DD_TRY(dd_calloc((void **)&c->ev, (size_t)(nl > 0 ? nl : 1), sizeof *c->ev, "records"), "score");
  DD_TRY(dd_calloc((void **)&c->rows, (size_t)(nl > 0 ? nl : 1), sizeof *c->rows, "scores"),
         "score");
  DD_TRY(stage_bank_read(in, cls, (long long)first + r0, nl, c->ev), "score");
  dd_status st = DD_OK;
  char label[64];
  snprintf(label, sizeof label, "score %s", cls == DET_ER ? "ER" : "NR");
  dd_progress prog;
  dd_progress_start(&prog, label, "events", (double)nl);
  for (long long i = 0; i < nl && st == DD_OK; i += B) {
    const int bn = (int)(nl - i < B ? nl - i : B);
    for (int j = 0; j < bn; j++) {
      img_render(c->rend, &c->ev[i + j], c->x + (size_t)j * IMG_SIZE);
      c->key[j] = (uint32_t)c->ev[i + j].index;
    }
    nn_noise nz = {p->run.seed,   DD_STREAM_SCORE_EPS,
                   (uint32_t)cls, c->key,
                   NULL,          p->score.noise == STAGE_SCORE_MEAN};
    st = nn_model_forward(&c->model[0], c->x, NULL, bn, &nz, NULL);
    if (st == DD_OK) st = nn_model_forward(&c->model[1], c->x, NULL, bn, NULL, NULL);
    for (int j = 0; j < bn && st == DD_OK; j++) {
      const det_event *ev = &c->ev[i + j];
      scan_score_record *r = &c->rows[i + j];
      r->event = (int64_t)ev->index;
      r->l_rec = c->model[0].rec[j];
      r->kl = c->model[0].kl[j];
      r->logit = c->model[1].logit[j];
      r->h_b = stats_hb_from_logit(r->logit);
      r->cs1 = ev->cs1_pe;
      r->cs2 = ev->cs2_pe;
      r->energy_kev = ev->energy_kev;
      r->attempts = ev->attempts;
      if (!isfinite(r->l_rec) || !isfinite(r->kl) || !isfinite(r->logit))
        st = DD_FAIL(DD_ERR_NUMERIC, "score: %s event %llu has a non-finite score",
                     cls == DET_ER ? "ER" : "NR", (unsigned long long)ev->index);
    }
    dd_progress_update(&prog, (double)(i + bn));
  }
  dd_progress_end(&prog, (double)nl);
  DD_TRY(par_agree(w, st), "score");
  *n_local_out = nl;
  *first_out = (long long)first;
  return DD_OK;
}

/* Rank 0's summary of one bank: means of the components, in index order. */
static void log_bank(const par_world *w, const sc_ctx *c, int cls, long long nl, long long n) {
  double s[3] = {0, 0, 0}, t[3] = {0, 0, 0};
  for (long long i = 0; i < nl; i++) {
    s[0] += c->rows[i].l_rec;
    s[1] += c->rows[i].kl;
    s[2] += c->rows[i].h_b;
  }
  MPI_Reduce(s, t, 3, MPI_DOUBLE, MPI_SUM, 0, w->comm);
  if (n > 0)
    dd_info("score: %s analysis split, %lld events: mean l_rec %.5g, KL %.4g, H_B %.4g",
            cls == DET_ER ? "ER" : "NR", n, t[0] / (double)n, t[1] / (double)n, t[2] / (double)n);
}

/* The stage hash: the model hashes (which cover the training records) plus
 * the keys that shape the analysis events and their scoring. */
static dd_status score_hash(stage_ctx *x, uint64_t *hash, uint64_t mh[STAGE_N_MODELS]) {
  io_file *in = NULL;
  DD_TRY(io_file_open(x->w, x->results, IO_READ, &in), "score");
  dd_status st = stage_model_hashes(x, in, mh);
  dd_status st2 = io_file_close(&in);
  DD_TRY(st == DD_OK ? st2 : st, "score");
  static const char *const keys[] = {"run.seed", "detector", "physics", "image", "score"};
  uint64_t h = dd_hash_str(DD_HASH_INIT, "ddscan-score-1");
  h = dd_hash_bytes(h, mh, sizeof(uint64_t) * STAGE_N_MODELS);
  const uint64_t ch = cfg_hash(x->cfg, keys, 5);
  *hash = dd_hash_bytes(h, &ch, sizeof ch);
  return DD_OK;
}

static const char *const k_owned[] = {"/scores"};

static dd_status score_is_current(stage_ctx *x, int *current) {
  *current = 0;
  int banks = 0;
  DD_TRY(io_stage_is_current(x->w, x->results, "simulate", stage_simulate_hash(x->cfg), &banks),
         "score");
  if (!banks) return DD_OK;
  uint64_t hash = 0, mh[STAGE_N_MODELS];
  DD_TRY(score_hash(x, &hash, mh), "score");
  return io_stage_is_current(x->w, x->results, "score", hash, current);
}

static dd_status score_run(stage_ctx *x) {
  const par_world *w = x->w;
  sc_ctx c;
  memset(&c, 0, sizeof c);
  c.ctx = x;
  c.p = x->p;
  io_file *in = NULL, *out = NULL;
  const stage_params *p = c.p;
  /* the models this configuration trains, identified by their hashes */
  uint64_t mh[STAGE_N_MODELS] = {0, 0}, hash = 0;
  dd_status st = stage_banks_check(x);
  if (st == DD_OK) st = score_hash(x, &hash, mh);
  if (st != DD_OK) goto done;
  int current = 0;
  st = io_stage_is_current(w, x->results, "score", hash, &current);
  if (st == DD_OK && current) {
    char hex[17];
    io_hash_hex(hash, hex);
    dd_info("score: '%s' /scores is current for this configuration (hash %s): nothing to do",
            x->results, hex);
    goto done;
  }
  const int B = p->score.batch_size;
  if (st == DD_OK) st = nn_model_init(&c.model[0], &p->nn.cvae, B, p->run.seed, 0);
  if (st == DD_OK) st = nn_model_init(&c.model[1], &p->nn.cnn, B, p->run.seed, 0);
  if (st == DD_OK) st = load_model(w, &c, 0, mh[0]);
  if (st == DD_OK) st = load_model(w, &c, 1, mh[1]);
  if (st == DD_OK)
    st = dd_alloc_aligned((void **)&c.x, (size_t)B * IMG_SIZE * sizeof *c.x, "image batch");
  if (st == DD_OK) st = dd_calloc((void **)&c.key, (size_t)B, sizeof *c.key, "noise keys");
  if (st == DD_OK) st = dd_calloc((void **)&c.det, 1, sizeof *c.det, "detector model");
  if (st == DD_OK) st = det_model_init(c.det, &p->detector, p->run.seed);
  if (st == DD_OK) st = dd_calloc((void **)&c.rend, 1, sizeof *c.rend, "renderer");
  if (st == DD_OK) st = img_renderer_init(c.rend, &p->image, c.det);
  st = par_agree(w, st);
  if (st != DD_OK) goto done;
  dd_info("score: analysis split of %llu ER and %llu NR events, batches of %d, latent %s",
          (unsigned long long)p->detector.bank.n[DET_ER][DET_SPLIT_ANALYSIS],
          (unsigned long long)p->detector.bank.n[DET_NR][DET_SPLIT_ANALYSIS], B,
          p->score.noise == STAGE_SCORE_MEAN
              ? "z = mu"
              : "sample z = mu + sigma*eps, eps from DD_STREAM_SCORE_EPS (a = bank, b = event)");
  io_stage s = {"score",   k_owned, 1,  x->results, x->results, x->config_text, hash, x->o.argc,
                x->o.argv, -1,      -1, 0,          NULL};
  /* the input stays open read-only beside the stage's .tmp (records are read
   * bank by bank, each rank its own rows) */
  st = io_file_open(w, x->results, IO_READ, &in);
  if (st == DD_OK) st = io_stage_begin(w, &s, &out, NULL);
  for (int cls = 0; cls < 2 && st == DD_OK; cls++) {
    long long nl = 0, first = 0;
    st = score_bank(w, &c, in, cls, &nl, &first);
    long long draws = 0, all = 0;
    for (long long i = 0; i < nl && st == DD_OK; i++) draws += c.rows[i].attempts;
    if (st == DD_OK) MPI_Allreduce(&draws, &all, 1, MPI_LONG_LONG, MPI_SUM, w->comm);
    scan_bank_info info;
    memset(&info, 0, sizeof info);
    info.beta = p->nn.cvae.beta;
    info.n_draws_total = all;
    info.seed = p->run.seed;
    snprintf(info.detector_preset, sizeof info.detector_preset, "%s", p->detector.preset_name);
    if (st == DD_OK)
      st = stage_scores_write(out, cls == DET_ER ? SCAN_BANK_ER : SCAN_BANK_NR, c.rows, nl, &info);
    if (st == DD_OK)
      log_bank(w, &c, cls, nl, (long long)p->detector.bank.n[cls][DET_SPLIT_ANALYSIS]);
  }
  io_file_close(&in);
  if (st == DD_OK) {
    st = io_stage_commit(&out);
    if (st == DD_OK) dd_info("score: wrote %s", x->results);
  } else {
    io_file_close(&out);
  }
done:
  sc_free(&c);
  return st == DD_OK ? DD_OK : DD_CONTEXT(st, "score");
}

static void score_schema(stage_schema *out) {
  static stage_table tables[SCAN_N_BANKS];
  for (int b = 0; b < SCAN_N_BANKS; b++) {
    tables[b].group = scan_bank_group((scan_bank)b);
    tables[b].fields = stage_score_fields;
    tables[b].n_fields = stage_n_score_fields;
  }
  out->tables = tables;
  out->n_tables = SCAN_N_BANKS;
  out->specs = NULL;
  out->n_specs = 0;
}

const stage_def stage_score = {
    "score",      "the anomaly-score components of every analysis event -> /scores",
    k_owned,      1,
    score_schema, score_is_current,
    score_run,
};
