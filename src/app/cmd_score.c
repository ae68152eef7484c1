/* cmd_score.c - `ddscan score CONFIG`: stage 3 of the pipeline.  Loads the
 * finished CVAE and CNN checkpoints of this configuration and computes, for
 * every event of the analysis split of both banks, the components of the
 * anomaly score (paper Eqs. 8, 10, 11): L_rec (MSE), KL, the CNN logit and
 * H_B = -log(1 - p) from it, beside cS1, cS2, the true energy and the draws
 * the event took.  Events are cut into fixed batches by index and the
 * batches dealt to the ranks in contiguous blocks, so every network call and
 * every output byte is the same for any rank count.  The CVAE's latent
 * sample uses DD_STREAM_SCORE_EPS (a = bank, b = event index), or z = mu with
 * score.noise = "mean".  Writes /scores in the schema of scan.h. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h> /* uses: MPI_Bcast, MPI_Allreduce */

#include "ddscan/app.h"      /* uses: app_load_config, app_bank_read, app_train_model_hashes */
#include "ddscan/detector.h" /* uses: det_model, det_bank_range */
#include "ddscan/image.h"    /* uses: img_renderer, img_render */
#include "ddscan/io.h"       /* uses: io_stage_begin, io_stage_is_current */
#include "ddscan/nn.h"       /* uses: nn_model, nn_checkpoint_load */
#include "ddscan/scan.h"     /* uses: scan_score_record, scan_scores_write */
#include "ddscan/stats.h"    /* uses: stats_hb_from_logit */

typedef struct sc_ctx {
  cfg_doc *cfg;
  app_params *p; /* owned */
  det_model *det;
  img_renderer *rend;
  nn_model model[2];       /* [0] CVAE, [1] CNN, max_batch = score.batch_size */
  float *x;                /* owned (batch, C, H, W) */
  uint32_t *key;           /* owned (batch): noise keys (event indices) */
  det_event *ev;           /* owned: this rank's records of one bank */
  scan_score_record *rows; /* owned: this rank's scores of one bank */
  char *config_text;
  char results[APP_PATH_MAX + 64];
} sc_ctx;

static void sc_free(sc_ctx *c) {
  cfg_free(c->cfg);
  free(c->p);
  free(c->det);
  free(c->rend);
  nn_model_free(&c->model[0]);
  nn_model_free(&c->model[1]);
  dd_free_aligned(c->x);
  free(c->key);
  free(c->ev);
  free(c->rows);
  free(c->config_text);
}

/* Rank 0 loads the finished checkpoint of model k and broadcasts the
 * parameters.  A missing, unfinished or foreign checkpoint is an error that
 * says which stage to run. */
static dd_status load_model(const par_world *w, sc_ctx *c, int k, uint64_t hash) {
  const app_params *p = c->p;
  char ckpt[APP_PATH_MAX + 64];
  app_train_paths(p, k, ckpt, NULL, sizeof ckpt);
  const int epochs = k == 0 ? p->train.cvae.epochs : p->train.cnn.epochs;
  nn_model *m = &c->model[k];
  dd_status st = DD_OK;
  if (w->rank == 0) {
    if (!dd_path_exists(ckpt)) {
      st = DD_FAIL(DD_ERR_IO, "no checkpoint '%s': run `ddscan train %s` first", ckpt,
                   cfg_filename(c->cfg));
    } else {
      nn_ckpt_info want = {hash, p->run.seed, 0, 0}, got;
      st = nn_checkpoint_load(m, ckpt, &want, &got);
      if (st == DD_ERR_ARG) {
        char msg[768];
        snprintf(msg, sizeof msg, "%s", dd_error_message());
        st = DD_FAIL(DD_ERR_CONFIG, "%s: run `ddscan train %s` for this configuration", msg,
                     cfg_filename(c->cfg));
      } else if (st == DD_OK && got.epoch != (uint64_t)epochs) {
        st = DD_FAIL(DD_ERR_CONFIG,
                     "checkpoint '%s' stopped after epoch %llu of %d: finish it with `ddscan "
                     "train %s --resume`",
                     ckpt, (unsigned long long)got.epoch, epochs, cfg_filename(c->cfg));
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
  const app_params *p = c->p;
  uint64_t first, n;
  det_bank_range(&p->detector.bank, cls, DET_SPLIT_ANALYSIS, &first, &n);
  const int B = p->train.score_batch_size;
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
  DD_TRY(app_bank_read(in, cls, (long long)first + r0, nl, c->ev), "score");
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
                   NULL,          p->train.score_noise == TRAIN_SCORE_MEAN};
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

dd_status app_cmd_score(const par_world *w, const app_opts *o) {
  sc_ctx c;
  memset(&c, 0, sizeof c);
  io_file *in = NULL, *out = NULL;
  dd_status st = dd_calloc((void **)&c.p, 1, sizeof *c.p, "parameters");
  if (st == DD_OK) st = app_load_config(w, o, &c.cfg, c.p);
  if (st == DD_OK) st = cfg_resolved_text(c.cfg, &c.config_text);
  if (st == DD_OK) st = io_results_path(c.p->run.output_dir, -1, -1, c.results, sizeof c.results);
  if (st == DD_OK) st = app_banks_check(w, c.cfg, c.results);
  if (st != DD_OK) goto done;
  const app_params *p = c.p;
  /* the models this configuration trains, identified by their hashes */
  uint64_t mh[2] = {0, 0};
  st = io_file_open(w, c.results, IO_READ, &in);
  if (st == DD_OK) st = app_train_model_hashes(w, c.cfg, p, in, mh);
  io_file_close(&in);
  if (st != DD_OK) goto done;
  static const char *const keys[] = {"run.seed", "detector", "physics", "image", "score"};
  uint64_t hash = dd_hash_str(DD_HASH_INIT, "ddscan-score-1");
  hash = dd_hash_bytes(hash, mh, sizeof mh);
  const uint64_t ch = cfg_hash(c.cfg, keys, 5);
  hash = dd_hash_bytes(hash, &ch, sizeof ch);
  int current = 0;
  st = io_stage_is_current(w, c.results, "score", hash, &current);
  if (st == DD_OK && current) {
    char hex[17];
    io_hash_hex(hash, hex);
    dd_info("score: '%s' /scores is current for this configuration (hash %s): nothing to do",
            c.results, hex);
    goto done;
  }
  const int B = p->train.score_batch_size;
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
          p->train.score_noise == TRAIN_SCORE_MEAN
              ? "z = mu"
              : "sample z = mu + sigma*eps, eps from DD_STREAM_SCORE_EPS (a = bank, b = event)");
  static const char *const owned[] = {"/scores"};
  io_stage s = {"score",      owned,        1,  c.results, c.results, c.config_text, hash,
                o->argc_orig, o->argv_orig, -1, -1,        0,         NULL};
  /* the input stays open read-only beside the stage's .tmp (records are read
   * bank by bank, each rank its own rows) */
  st = io_file_open(w, c.results, IO_READ, &in);
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
      st = scan_scores_write(out, cls == DET_ER ? SCAN_BANK_ER : SCAN_BANK_NR, c.rows, nl, &info);
    if (st == DD_OK)
      log_bank(w, &c, cls, nl, (long long)p->detector.bank.n[cls][DET_SPLIT_ANALYSIS]);
  }
  io_file_close(&in);
  if (st == DD_OK) {
    st = io_stage_commit(&out);
    if (st == DD_OK) dd_info("score: wrote %s", c.results);
  } else {
    io_file_close(&out);
  }
done:
  sc_free(&c);
  return st == DD_OK ? DD_OK : DD_CONTEXT(st, "score");
}
