/* score.c - the score stage (`ddscan score CONFIG`), stage 3 of the
 * pipeline.  Loads the finished CVAE and CNN checkpoints of this
 * configuration and, for every event of the analysis sample of each class,
 * simulates the event, renders it and computes the components of the
 * anomaly score (paper Eqs. 8, 10, 11): L_rec (MSE), KL, the CNN logit and
 * H_B = -log(1 - p) from it, beside cS1, cS2, the true energy and the draws
 * the event took.
 *
 * Why it streams: the analysis sample must be as large as the physics needs
 * (10^6-10^7 background events on a cluster, issue 14), far more than any
 * bank held in memory.  Events are keyed by (seed, class, index) and are
 * simulated where they are scored, block by block; a block is
 * score.block_batches fixed batches of score.batch_size events, and block b
 * goes to rank b mod np in round b / np.  A rank holds one block (records,
 * images of one batch, scores) and two inference-only networks, whatever the
 * sample size.  Every network call sees the same batch at any rank count, so
 * every output byte is the same for any np.  After each round the rows are
 * flushed and then marked in /scores/done, so a killed stage continues with
 * --resume at any rank count and redoes only unmarked blocks.  The analysis
 * sample starts at the bank's analysis split (the same events, the same
 * scores), and may run past it.  The CVAE's latent sample uses
 * DD_STREAM_SCORE_EPS (a = bank, b = event index), or z = mu with
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

struct stage_scorer {
  stage_ctx *ctx;          /* borrowed */
  const stage_params *p;   /* borrowed: x->p */
  det_model *det;          /* owned */
  img_renderer *rend;      /* owned */
  nn_model model[2];       /* [0] CVAE, [1] CNN, inference only, max_batch = score.batch_size */
  float *x;                /* owned (batch, C, H, W) */
  uint32_t *key;           /* owned (batch): noise keys (event indices) */
  det_event *ev;           /* owned (block): the records of one block */
  scan_score_record *rows; /* owned (block): their scores */
  long long block_events;  /* score.batch_size x score.block_batches */
  MPI_Comm busy;           /* the ranks that own a block (rank 0 among them); MPI_COMM_NULL
                              on a rank that scores nothing and holds no network */
};

void stage_scorer_free(stage_scorer **sp) {
  stage_scorer *c = *sp;
  if (!c) return;
  free(c->det);
  free(c->rend);
  nn_model_free(&c->model[0]);
  nn_model_free(&c->model[1]);
  dd_free_aligned(c->x);
  free(c->key);
  free(c->ev);
  free(c->rows);
  if (c->busy != MPI_COMM_NULL) MPI_Comm_free(&c->busy);
  free(c);
  *sp = NULL;
}

const det_model *stage_scorer_detector(const stage_scorer *s) {
  return s->det;
}

/* Rank 0 loads the finished checkpoint of model k and broadcasts the
 * parameters.  A missing, unfinished or foreign checkpoint is an error that
 * says which stage to run. */
static dd_status load_model(const par_world *w, stage_scorer *c, int k, uint64_t hash) {
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
  if (c->busy != MPI_COMM_NULL) MPI_Bcast(m->params, (int)m->n_params, MPI_FLOAT, 0, c->busy);
  return DD_OK;
}

dd_status stage_scorer_init(stage_ctx *x, long long n_blocks, stage_scorer **out) {
  const par_world *w = x->w;
  *out = NULL;
  stage_scorer *c = NULL;
  DD_TRY(dd_calloc((void **)&c, 1, sizeof *c, "scorer"), "score");
  c->ctx = x;
  c->p = x->p;
  c->busy = MPI_COMM_NULL;
  const stage_params *p = c->p;
  /* Block b goes to rank b mod np: a rank at or beyond n_blocks scores
   * nothing and allocates neither the networks nor the detector, renderer
   * or block buffers (issue 18: 62 of 64 ranks of a 64-rank tiny.cfg run). */
  const int busy = n_blocks < 0 || w->rank < n_blocks;
  MPI_Comm_split(w->comm, busy ? 0 : MPI_UNDEFINED, w->rank, &c->busy);
  uint64_t mh[STAGE_N_MODELS] = {0, 0};
  io_file *in = NULL;
  dd_status st = io_file_open(w, x->results, IO_READ, &in);
  if (st == DD_OK) {
    st = stage_model_hashes(x, in, mh);
    dd_status st2 = io_file_close(&in);
    if (st == DD_OK) st = st2;
  }
  const int B = p->score.batch_size;
  c->block_events = (long long)B * p->score.block_batches;
  if (st == DD_OK && busy) st = nn_model_init_inference(&c->model[0], &p->nn.cvae, B);
  if (st == DD_OK && busy) st = nn_model_init_inference(&c->model[1], &p->nn.cnn, B);
  if (st == DD_OK) st = load_model(w, c, 0, mh[0]);
  if (st == DD_OK) st = load_model(w, c, 1, mh[1]);
  if (st == DD_OK && busy)
    st = dd_alloc_aligned((void **)&c->x, (size_t)B * IMG_SIZE * sizeof *c->x, "image batch");
  if (st == DD_OK && busy)
    st = dd_calloc((void **)&c->key, (size_t)B, sizeof *c->key, "noise keys");
  if (st == DD_OK && busy)
    st = dd_calloc((void **)&c->ev, (size_t)c->block_events, sizeof *c->ev, "block records");
  if (st == DD_OK)
    st = dd_calloc((void **)&c->rows, (size_t)(busy ? c->block_events : 1), sizeof *c->rows,
                   "block scores");
  if (st == DD_OK && busy) st = dd_calloc((void **)&c->det, 1, sizeof *c->det, "detector model");
  if (st == DD_OK && busy) st = det_model_init(c->det, &p->detector, p->run.seed);
  if (st == DD_OK && busy) st = dd_calloc((void **)&c->rend, 1, sizeof *c->rend, "renderer");
  if (st == DD_OK && busy) st = img_renderer_init(c->rend, &p->image, c->det);
  st = par_agree(w, st);
  if (st != DD_OK) {
    stage_scorer_free(&c);
    return DD_CONTEXT(st, "score");
  }
  *out = c;
  return DD_OK;
}

/* Renders and scores the n records of c->ev into c->rows, batch by batch;
 * the CVAE's latent noise is keyed by (bank, event index). */
static dd_status score_records(stage_scorer *c, uint32_t bank, long long n) {
  const stage_params *p = c->p;
  const int B = p->score.batch_size;
  for (long long i = 0; i < n; i += B) {
    const int bn = (int)(n - i < B ? n - i : B);
    for (int j = 0; j < bn; j++) {
      img_render(c->rend, &c->ev[i + j], c->x + (size_t)j * IMG_SIZE);
      c->key[j] = (uint32_t)c->ev[i + j].index;
    }
    nn_noise nz = {
        p->run.seed, DD_STREAM_SCORE_EPS, bank, c->key, NULL, p->score.noise == STAGE_SCORE_MEAN};
    DD_TRY(nn_model_forward(&c->model[0], c->x, NULL, bn, &nz, NULL), "CVAE");
    DD_TRY(nn_model_forward(&c->model[1], c->x, NULL, bn, NULL, NULL), "CNN");
    for (int j = 0; j < bn; j++) {
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
      r->weight = ev->weight;
      if (!isfinite(r->l_rec) || !isfinite(r->kl) || !isfinite(r->logit))
        return DD_FAIL(DD_ERR_NUMERIC, "score: event %llu of bank %u has a non-finite score",
                       (unsigned long long)ev->index, bank);
    }
  }
  return DD_OK;
}

dd_status stage_score_blocks(const par_world *w, stage_scorer *c, uint32_t bank, long long n_events,
                             const unsigned char *done, const stage_block_io *io,
                             const char *label) {
  const long long bs = c->block_events;
  const long long nb = (n_events + bs - 1) / bs;
  long long todo = 0;
  for (long long b = 0; b < nb; b++) todo += !(done && done[b]);
  dd_progress prog;
  dd_progress_start(&prog, label, "blocks", (double)nb);
  long long n_done = nb - todo;
  const long long rounds = (nb + w->size - 1) / w->size;
  dd_status st = DD_OK;
  for (long long r = 0; r < rounds && st == DD_OK; r++) {
    const long long b = r * w->size + w->rank;
    const int mine = b < nb && !(done && done[b]);
    const long long first = mine ? b * bs : 0;
    const long long cnt = mine ? (first + bs <= n_events ? bs : n_events - first) : 0;
    dd_status local = io->fill(io->ctx, first, cnt, c->ev);
    if (local == DD_OK && cnt > 0) local = score_records(c, bank, cnt);
    DD_TRY(par_agree(w, local), "%s block %lld", label, b);
    st = io->sink(io->ctx, mine ? b : -1, first, cnt, c->rows);
    long long in_round = 0;
    for (long long k = r * w->size; k < (r + 1) * w->size && k < nb; k++)
      in_round += !(done && done[k]);
    n_done += in_round;
    dd_progress_update(&prog, (double)n_done);
  }
  dd_progress_end(&prog, (double)nb);
  return st;
}

/* ------------------------------------------------------- the score stage */

/* The energy callback of the detector on top of a physics sampler. */
static double sampler_draw(void *ctx, double u) {
  return phys_sampler_draw((const phys_sampler *)ctx, u);
}

/* Blocks of one class: their size in events and how many. */
static void class_blocks(const stage_params *p, int cls, long long *bs, long long *nb) {
  *bs = (long long)p->score.batch_size * p->score.block_batches;
  *nb = (p->score.n_events[cls] + *bs - 1) / *bs;
}

/* The score stage's source and sink of class cls: events simulated from
 * the analysis split on (local), rows written, flushed, then marked. */
typedef struct class_io {
  const stage_params *p;
  const det_model *det;
  phys_sampler *q; /* borrowed: the class's energy sampler */
  int cls;
  uint64_t base; /* first event of the analysis sample in the class stream */
  io_file *f;
  long long done_off;
} class_io;

static dd_status class_fill(void *ctx, long long first, long long n, det_event *ev) {
  class_io *c = ctx;
  if (n == 0) return DD_OK;
  DD_TRY(det_events_simulate(c->det, c->cls, c->p->run.seed, c->base + (uint64_t)first, (uint64_t)n,
                             sampler_draw, c->q, ev, NULL),
         "simulating events");
  return DD_OK;
}

static dd_status class_sink(void *ctx, long long block, long long first, long long n,
                            const scan_score_record *rows) {
  class_io *c = ctx;
  const char *group = scan_bank_group(c->cls == DET_ER ? SCAN_BANK_ER : SCAN_BANK_NR);
  dd_status st = io_table_write_at(c->f, group, stage_score_fields, stage_n_score_fields, first, n,
                                   rows, sizeof *rows);
  /* the rows reach the disk before the mark that says they are there */
  if (st == DD_OK) st = io_file_flush(c->f);
  const unsigned char one = 1;
  const long long start = c->done_off + (block >= 0 ? block : 0), count = block >= 0 ? 1 : 0;
  if (st == DD_OK) st = io_write_slab(c->f, "/scores/done", IO_U8, &start, &count, &one);
  if (st == DD_OK) st = io_file_flush(c->f);
  return st;
}

/* Class cls: every round, each rank scores its block (b = round * np +
 * rank) unless /scores/done marks it, then all write their rows (a rank
 * without a block writes none), flush, and mark the blocks done. */
static dd_status score_class(const par_world *w, stage_scorer *c, phys_sampler *q, io_file *f,
                             int cls, const unsigned char *done, long long done_off) {
  const stage_params *p = c->p;
  uint64_t base, n_split;
  det_bank_range(&p->detector.bank, cls, DET_SPLIT_ANALYSIS, &base, &n_split);
  class_io cio = {p, c->det, q, cls, base, f, done_off};
  stage_block_io io = {class_fill, class_sink, &cio};
  char label[64];
  snprintf(label, sizeof label, "score %s", cls == DET_ER ? "ER" : "NR");
  return stage_score_blocks(w, c, (uint32_t)cls, p->score.n_events[cls], done + done_off, &io,
                            label);
}

/* After every block is scored: the bank attributes (n_draws_total is the sum
 * of attempts over the table, read back in blocks because blocks scored
 * before a resume are not in memory) and the means for the log. */
static dd_status finish_class(const par_world *w, stage_scorer *c, io_file *f, int cls) {
  const stage_params *p = c->p;
  const scan_bank bank = cls == DET_ER ? SCAN_BANK_ER : SCAN_BANK_NR;
  const char *group = scan_bank_group(bank);
  const long long n = p->score.n_events[cls];
  long long bs, nb;
  class_blocks(p, cls, &bs, &nb);
  long long draws = 0, all = 0;
  double s[3] = {0, 0, 0}, t[3] = {0, 0, 0};
  const long long rounds = (nb + w->size - 1) / w->size;
  dd_status st = DD_OK;
  for (long long r = 0; r < rounds && st == DD_OK; r++) {
    const long long b = r * w->size + w->rank;
    const long long first = b < nb ? b * bs : 0;
    const long long cnt = b < nb ? (first + bs <= n ? bs : n - first) : 0;
    st = io_table_read(f, group, stage_score_fields, stage_n_score_fields, first, cnt, c->rows,
                       sizeof *c->rows);
    for (long long i = 0; i < cnt && st == DD_OK; i++) {
      draws += c->rows[i].attempts;
      s[0] += c->rows[i].l_rec;
      s[1] += c->rows[i].kl;
      s[2] += c->rows[i].h_b;
    }
  }
  DD_TRY(par_agree(w, st), "reading back %s", group);
  /* integer sum: exact in any order */
  MPI_Allreduce(&draws, &all, 1, MPI_LONG_LONG, MPI_SUM, w->comm);
  MPI_Reduce(s, t, 3, MPI_DOUBLE, MPI_SUM, 0, w->comm);
  scan_bank_info info;
  memset(&info, 0, sizeof info);
  info.beta = p->nn.cvae.beta;
  info.n_draws_total = all;
  info.seed = p->run.seed;
  snprintf(info.detector_preset, sizeof info.detector_preset, "%s", p->detector.preset_name);
  DD_TRY(stage_scores_write_info(f, bank, &info), "%s", group);
  dd_info("score: %s analysis sample, %lld events: mean l_rec %.5g, KL %.4g, H_B %.4g",
          cls == DET_ER ? "ER" : "NR", n, t[0] / (double)n, t[1] / (double)n, t[2] / (double)n);
  return DD_OK;
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

/* The resume mask of the streamed blocks. */
static const io_spec k_done_spec = {
    "/scores/done",
    IO_U8,
    {"/scores/block"},
    "1",
    "streamed-block completion mask: 1 = the block's rows are written (--resume skips it)",
    1}; /* need = 1: synthetic score banks (tests, benchmarks) are not streamed */

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

/* /scores/done: one flag per streamed block, ER blocks then NR blocks. */
static dd_status done_mask(const par_world *w, const stage_params *p, io_file *f, int resumed,
                           unsigned char **done, long long *n_er_blocks) {
  long long bs, nb[2];
  class_blocks(p, DET_ER, &bs, &nb[0]);
  class_blocks(p, DET_NR, &bs, &nb[1]);
  const long long n = nb[0] + nb[1];
  *n_er_blocks = nb[0];
  DD_TRY(dd_calloc((void **)done, (size_t)n, 1, "block mask"), "score");
  if (!resumed) {
    DD_TRY(io_axis_write_index(f, "/scores/block", n,
                               "streamed block: ER blocks 0..n_er_blocks-1, then NR blocks"),
           "score");
    DD_TRY(io_spec_create(f, &k_done_spec), "score");
    DD_TRY(io_attr_write_int(f, "/scores", "n_er_blocks", nb[0]), "score");
    DD_TRY(io_attr_write_int(f, "/scores", "block_events", bs), "score");
    return DD_OK;
  }
  long long got = -1, got_bs = -1;
  dd_status st = io_attr_read_int(f, "/scores", "n_er_blocks", &got);
  if (st == DD_OK) st = io_attr_read_int(f, "/scores", "block_events", &got_bs);
  if (st == DD_OK && (got != nb[0] || got_bs != bs))
    st = DD_FAIL(DD_ERR_IO, "the unfinished scores were cut into other blocks");
  if (st == DD_OK) st = io_read_all(f, "/scores/done", IO_U8, *done);
  (void)w;
  return st;
}

static dd_status score_run(stage_ctx *x) {
  const par_world *w = x->w;
  stage_scorer *c = NULL;
  phys_sampler q[2]; /* energy samplers: [DET_ER] ER, [DET_NR] the NR reference */
  memset(q, 0, sizeof q);
  io_file *out = NULL;
  unsigned char *done = NULL;
  const stage_params *p = x->p;
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
  for (int cls = 0; cls < 2 && st == DD_OK; cls++) {
    uint64_t base, n_split;
    det_bank_range(&p->detector.bank, cls, DET_SPLIT_ANALYSIS, &base, &n_split);
    if (base + (uint64_t)p->score.n_events[cls] > (uint64_t)UINT32_MAX)
      st = cfg_error(x->cfg, cls == DET_ER ? "score.er_events" : "score.nr_events",
                     "%lld events after index %llu run past the 2^32 event keys",
                     p->score.n_events[cls], (unsigned long long)base);
  }
  const int B = p->score.batch_size;
  const long long bs = (long long)B * p->score.block_batches;
  long long nb_er, nb_nr, bsz;
  class_blocks(p, DET_ER, &bsz, &nb_er);
  class_blocks(p, DET_NR, &bsz, &nb_nr);
  if (st == DD_OK) st = stage_scorer_init(x, nb_er > nb_nr ? nb_er : nb_nr, &c);
  if (st != DD_OK) goto done;
  st = phys_sampler_init_er(&q[DET_ER], &p->phys);
  if (st == DD_OK) st = phys_sampler_init_nr_ref(&q[DET_NR], &p->phys);
  st = par_agree(w, st);
  if (st != DD_OK) goto done;
  dd_info(
      "score: analysis samples of %lld ER and %lld NR events, streamed in blocks of %lld (%d "
      "batches of %d), %.0f MB of networks per rank, latent %s",
      p->score.n_events[DET_ER], p->score.n_events[DET_NR], bs, p->score.block_batches, B,
      (double)(nn_model_bytes(&c->model[0]) + nn_model_bytes(&c->model[1])) / 1e6,
      p->score.noise == STAGE_SCORE_MEAN
          ? "z = mu"
          : "sample z = mu + sigma*eps, eps from DD_STREAM_SCORE_EPS (a = bank, b = event)");
  io_stage s = {"score",   k_owned,   1,  x->results, x->results,  x->config_text, hash,
                x->o.argc, x->o.argv, -1, -1,         x->o.resume, "/scores/done"};
  int resumed = 0;
  st = stage_begin_checked(w, &s, &stage_score, &out, &resumed);
  if (st == DD_OK && !resumed)
    for (int cls = 0; cls < 2 && st == DD_OK; cls++)
      st =
          io_table_create(out, scan_bank_group(cls == DET_ER ? SCAN_BANK_ER : SCAN_BANK_NR),
                          stage_score_fields, stage_n_score_fields,
                          stage_scores_row_description(cls == DET_ER ? SCAN_BANK_ER : SCAN_BANK_NR),
                          p->score.n_events[cls]);
  long long n_er_blocks = 0;
  if (st == DD_OK) st = done_mask(w, p, out, resumed, &done, &n_er_blocks);
  if (st == DD_OK) st = io_file_flush(out);
  if (st == DD_OK && resumed) {
    long long n_done = 0, n_all = 0;
    long long bs_, nb[2];
    class_blocks(p, DET_ER, &bs_, &nb[0]);
    class_blocks(p, DET_NR, &bs_, &nb[1]);
    n_all = nb[0] + nb[1];
    for (long long i = 0; i < n_all; i++) n_done += done[i];
    dd_info("score: resuming: %lld of %lld blocks already scored", n_done, n_all);
  }
  for (int cls = 0; cls < 2 && st == DD_OK; cls++)
    st = score_class(w, c, &q[cls], out, cls, done, cls == DET_ER ? 0 : n_er_blocks);
  for (int cls = 0; cls < 2 && st == DD_OK; cls++) st = finish_class(w, c, out, cls);
  if (st == DD_OK) {
    /* what a cluster user sizes a node by: the largest rank */
    double rss = dd_peak_rss_bytes(), rss_max = 0.0;
    MPI_Allreduce(&rss, &rss_max, 1, MPI_DOUBLE, MPI_MAX, w->comm);
    dd_info("score: peak memory %.0f MB per rank (largest of %d)", rss_max / 1e6, w->size);
  }
  if (st == DD_OK) {
    st = io_stage_commit(&out);
    if (st == DD_OK) dd_info("score: wrote %s", x->results);
  } else {
    io_file_close(&out);
  }
done:
  free(done);
  phys_sampler_free(&q[0]);
  phys_sampler_free(&q[1]);
  stage_scorer_free(&c);
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
  out->specs = &k_done_spec;
  out->n_specs = 1;
}

const stage_def stage_score = {
    "score",      "the anomaly-score components of every analysis event -> /scores",
    k_owned,      1,
    score_schema, score_is_current,
    score_run,
};
