/* train.c - the train stage (`ddscan train CONFIG [--resume]`), stage 2 of
 * the pipeline.
 * Reads the train and test splits of /banks/er and /banks/nr, trains the CVAE
 * on ER and the CNN on the balanced ER/NR split (src/train: data-parallel,
 * a checkpoint and loss history per epoch), reuses checkpoints of this
 * configuration, measures the CNN against the information ceilings of
 * /banks/ceiling (NR reweighted per WIMP mass, as the ceilings; judged
 * against the one with the S1 pulse shape when the S1 timing model can carry
 * class information, docs/training.md §5), and writes
 * /training (curves per epoch, metrics, example images with their
 * reconstructions) and PNGs to <run.output_dir>/training.  docs/training.md. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h> /* uses: MPI_Bcast */

#include "ddscan/stage.h"    /* uses: stage_ctx, stage_def, stage_bank_read_training */
#include "ddscan/detector.h" /* uses: det_model, det_bank_range */
#include "ddscan/image.h"    /* uses: img_renderer, img_png_write_sheet */
#include "ddscan/io.h"       /* uses: io_stage_begin, io_dataset_create, io_write_root */
#include "ddscan/physics.h"  /* uses: phys_sampler, phys_weight_nr */
#include "ddscan/train.h"    /* uses: train_trainer, train_set, train_history */

enum { M_CVAE = STAGE_CVAE, M_CNN = STAGE_CNN, N_MODELS = STAGE_N_MODELS };

/* Everything the stage holds, freed in one place. */
typedef struct tr_ctx {
  stage_ctx *x;          /* borrowed: configuration, parameters, paths */
  const stage_params *p; /* borrowed: x->p */
  det_model *det;
  img_renderer *rend;
  phys_sampler q_nr;  /* the NR bank's reference spectrum, for the weights */
  det_event *er, *nr; /* owned: train then test split of each class */
  long long n_er_train, n_er_test, n_nr_train, n_nr_test, n_bal;
  train_set cvae_train, cvae_test, cvae_test_nr, cnn_train, cnn_test;
  char ckpt[N_MODELS][STAGE_PATH_MAX + 64], hist_path[N_MODELS][STAGE_PATH_MAX + 64];
  uint64_t hash[N_MODELS];
  train_history hist[N_MODELS];
  train_start start[N_MODELS];
  uint64_t steps[N_MODELS];
  size_t n_params[N_MODELS];
  /* examples (rank 0 fills them) */
  int n_ex;
  float *ex_img[2], *ex_rec[2]; /* [class] (n_ex, C, H, W) */
  double *ex_val[2];            /* [class] (n_ex, 3): l_rec, kl, logit */
  int64_t *ex_event[2];         /* [class] (n_ex) */
  /* CNN metrics */
  double *logit; /* (n_er_test + n_nr_test) */
  double accuracy, auc;
  int n_mass;
  double *mass, *acc_w, *auc_w, *ceil_acc, *ceil_auc; /* (n_mass) each */
  double *ceil_acc_shape, *ceil_auc_shape;            /* (n_mass) each: with the S1 shape */
  double *ceil_acc_ref, *ceil_auc_ref;                /* (n_mass) each: the reference one */
  int ceil_shape_ref;                                 /* 1: the reference is the shape ceiling */
} tr_ctx;

static void tr_free(tr_ctx *c) {
  free(c->det);
  free(c->rend);
  phys_sampler_free(&c->q_nr);
  free(c->er);
  free(c->nr);
  train_set_free(&c->cvae_train);
  train_set_free(&c->cvae_test);
  train_set_free(&c->cvae_test_nr);
  train_set_free(&c->cnn_train);
  train_set_free(&c->cnn_test);
  for (int k = 0; k < N_MODELS; k++) train_history_free(&c->hist[k]);
  for (int k = 0; k < 2; k++) {
    free(c->ex_img[k]);
    free(c->ex_rec[k]);
    free(c->ex_val[k]);
    free(c->ex_event[k]);
  }
  free(c->logit);
  free(c->mass);
  free(c->acc_w);
  free(c->auc_w);
  free(c->ceil_acc);
  free(c->ceil_auc);
  free(c->ceil_acc_shape);
  free(c->ceil_auc_shape);
  free(c->ceil_acc_ref);
  free(c->ceil_auc_ref);
}

static uint64_t stage_hash(tr_ctx *c) {
  static const char *const keys[] = {"train", "scan.mass_gev", "detector.ceiling", "physics"};
  uint64_t h = dd_hash_str(DD_HASH_INIT, "ddscan-train-stage-1");
  h = dd_hash_bytes(h, c->hash, sizeof c->hash);
  const uint64_t ch = cfg_hash(c->x->cfg, keys, 4);
  return dd_hash_bytes(h, &ch, sizeof ch);
}

/* Loads banks, renderer and sample sets. */
static dd_status prepare(const par_world *w, tr_ctx *c) {
  const stage_params *p = c->p;
  const char *results = c->x->results;
  DD_TRY(stage_banks_check(c->x), "checking the banks");
  io_file *f = NULL;
  DD_TRY(io_file_open(w, results, IO_READ, &f), "train");
  dd_status st =
      stage_bank_read_training(f, &p->detector.bank, DET_ER, &c->er, &c->n_er_train, &c->n_er_test);
  if (st == DD_OK)
    st = stage_bank_read_training(f, &p->detector.bank, DET_NR, &c->nr, &c->n_nr_train,
                                  &c->n_nr_test);
  /* the ceiling, when simulate computed one */
  int nm = p->scan.n_mass, have = st == DD_OK && io_exists(f, "/banks/ceiling/accuracy");
  c->n_mass = nm;
  if (st == DD_OK) st = dd_calloc((void **)&c->mass, (size_t)nm, sizeof(double), "masses");
  if (st == DD_OK) st = dd_calloc((void **)&c->acc_w, (size_t)nm, sizeof(double), "metrics");
  if (st == DD_OK) st = dd_calloc((void **)&c->auc_w, (size_t)nm, sizeof(double), "metrics");
  if (st == DD_OK) st = dd_calloc((void **)&c->ceil_acc, (size_t)nm, sizeof(double), "ceiling");
  if (st == DD_OK) st = dd_calloc((void **)&c->ceil_auc, (size_t)nm, sizeof(double), "ceiling");
  double **shape_ref[4] = {&c->ceil_acc_shape, &c->ceil_auc_shape, &c->ceil_acc_ref,
                           &c->ceil_auc_ref};
  for (int q = 0; q < 4 && st == DD_OK; q++)
    st = dd_calloc((void **)shape_ref[q], (size_t)nm, sizeof(double), "ceiling");
  if (st == DD_OK) {
    memcpy(c->mass, p->scan.mass_gev, sizeof(double) * (size_t)nm);
    for (int k = 0; k < nm; k++)
      c->ceil_acc[k] = c->ceil_auc[k] = c->ceil_acc_shape[k] = c->ceil_auc_shape[k] = NAN;
  }
  /* a results file of an older simulate has no shape ceiling: then the
   * (cS1, cS2) one is the only reference */
  const int have_shape = have && io_exists(f, "/banks/ceiling/accuracy_shape");
  if (st == DD_OK && have) {
    int rank = 0;
    long long dims[IO_MAX_RANK];
    st = io_dataset_shape(f, "/banks/ceiling/accuracy", &rank, dims);
    if (st == DD_OK && (rank != 1 || dims[0] != nm))
      st = DD_FAIL(DD_ERR_IO, "'%s' /banks/ceiling has %lld masses, scan.mass_gev %d", results,
                   dims[0], nm);
    if (st == DD_OK) st = io_read_all(f, "/banks/ceiling/accuracy", IO_F64, c->ceil_acc);
    if (st == DD_OK) st = io_read_all(f, "/banks/ceiling/auc", IO_F64, c->ceil_auc);
    if (st == DD_OK && have_shape)
      st = io_read_all(f, "/banks/ceiling/accuracy_shape", IO_F64, c->ceil_acc_shape);
    if (st == DD_OK && have_shape)
      st = io_read_all(f, "/banks/ceiling/auc_shape", IO_F64, c->ceil_auc_shape);
  }
  /* the ceiling that matches the information in the image: with the S1
   * panel carrying class-dependent timing, the one with the pulse shape */
  c->ceil_shape_ref = have_shape && det_s1_shape_informative(&p->detector);
  if (st == DD_OK)
    for (int k = 0; k < nm; k++) {
      c->ceil_acc_ref[k] = c->ceil_shape_ref ? c->ceil_acc_shape[k] : c->ceil_acc[k];
      c->ceil_auc_ref[k] = c->ceil_shape_ref ? c->ceil_auc_shape[k] : c->ceil_auc[k];
    }
  if (st == DD_OK && have && !have_shape && det_s1_shape_informative(&p->detector) && w->rank == 0)
    dd_warn(
        "train: '%s' has no /banks/ceiling/accuracy_shape (an older simulate): the CNN is "
        "compared with the (cS1, cS2) ceiling only, although the S1 panel carries pulse-shape "
        "information; rerun `ddscan simulate`",
        results);
  dd_status cst = io_file_close(&f);
  if (st == DD_OK) st = cst;
  DD_TRY(st, "train: reading '%s'", results);
  if (c->n_er_train < 1 || c->n_nr_train < 1)
    return cfg_error(c->x->cfg, "detector.bank", "training needs er_train >= 1 and nr_train >= 1");
  c->n_bal = c->n_er_train < c->n_nr_train ? c->n_er_train : c->n_nr_train;
  if (c->n_er_train != c->n_nr_train)
    dd_warn("train: the CNN uses %lld events of each class (er_train %lld, nr_train %lld)",
            c->n_bal, c->n_er_train, c->n_nr_train);
  DD_TRY(train_set_init(&c->cvae_train, c->er, c->n_er_train, NULL, 0), "train");
  DD_TRY(train_set_init(&c->cvae_test, c->er + c->n_er_train, c->n_er_test, NULL, 0), "train");
  DD_TRY(train_set_init(&c->cvae_test_nr, NULL, 0, c->nr + c->n_nr_train, c->n_nr_test), "train");
  DD_TRY(train_set_init(&c->cnn_train, c->er, c->n_bal, c->nr, c->n_bal), "train");
  DD_TRY(train_set_init(&c->cnn_test, c->er + c->n_er_train, c->n_er_test, c->nr + c->n_nr_train,
                        c->n_nr_test),
         "train");
  DD_TRY(dd_calloc((void **)&c->det, 1, sizeof *c->det, "detector model"), "train");
  DD_TRY(det_model_init(c->det, &p->detector, p->run.seed), "train");
  DD_TRY(dd_calloc((void **)&c->rend, 1, sizeof *c->rend, "renderer"), "train");
  DD_TRY(img_renderer_init(c->rend, &p->image, c->det), "train");
  DD_TRY(phys_sampler_init_nr_ref(&c->q_nr, &p->phys), "train");
  for (int k = 0; k < N_MODELS; k++) {
    c->hash[k] = stage_model_hash(c->x->cfg, k, c->er, c->n_er_train, c->n_er_test, c->nr,
                                  c->n_nr_train, c->n_nr_test);
    const int ep = k == M_CVAE ? p->train.cvae.epochs : p->train.cnn.epochs;
    DD_TRY(train_history_init(&c->hist[k], c->hash[k], ep), "train");
  }
  c->n_ex = p->train.examples;
  if (c->n_ex > c->n_er_test) c->n_ex = (int)c->n_er_test;
  if (c->n_ex > c->n_nr_test) c->n_ex = (int)c->n_nr_test;
  for (int k = 0; k < 2 && c->n_ex > 0; k++) {
    const size_t ni = (size_t)c->n_ex * IMG_SIZE;
    DD_TRY(dd_calloc((void **)&c->ex_img[k], ni, sizeof(float), "examples"), "train");
    DD_TRY(dd_calloc((void **)&c->ex_rec[k], ni, sizeof(float), "examples"), "train");
    DD_TRY(dd_calloc((void **)&c->ex_val[k], (size_t)c->n_ex * 3, sizeof(double), "examples"),
           "train");
    DD_TRY(dd_calloc((void **)&c->ex_event[k], (size_t)c->n_ex, sizeof(int64_t), "examples"),
           "train");
  }
  const long long nt = c->n_er_test + c->n_nr_test;
  DD_TRY(dd_calloc((void **)&c->logit, (size_t)(nt > 0 ? nt : 1), sizeof(double), "logits"),
         "train");
  return DD_OK;
}

/* Rank 0: the example events of one class through a model, in chunks of the
 * model's batch.  CVAE: images, reconstructions, l_rec, kl; CNN: logits. */
static dd_status examples_forward(tr_ctx *c, train_trainer *t, const train_set *s, long long first,
                                  int cls, uint32_t noise_a) {
  const int cvae = t->job.arch->kind == NN_MODEL_CVAE;
  for (int i = 0; i < c->n_ex;) {
    const int n = c->n_ex - i < t->model.max_batch ? c->n_ex - i : t->model.max_batch;
    DD_TRY(train_forward_local(t, s, first + i, n, noise_a,
                               cvae ? c->ex_img[cls] + (size_t)i * IMG_SIZE : NULL,
                               cvae ? c->ex_rec[cls] + (size_t)i * IMG_SIZE : NULL),
           "examples");
    for (int j = 0; j < n; j++) {
      double *v = c->ex_val[cls] + (size_t)(i + j) * 3;
      if (cvae) {
        v[0] = t->model.rec[j];
        v[1] = t->model.kl[j];
        c->ex_event[cls][i + j] = (int64_t)s->ev[first + i + j]->index;
      } else {
        v[2] = t->model.logit[j];
      }
    }
    i += n;
  }
  return DD_OK;
}

/* The CNN against the ceiling: balanced accuracy at p = 0.5 and ROC area,
 * unweighted (NR as drawn from q(E)) and, for every scan mass, with the NR
 * events reweighted to that WIMP and both classes restricted to the
 * ceiling's cS1 window. */
static dd_status cnn_metrics(tr_ctx *c) {
  const stage_params *p = c->p;
  const long long ne = c->n_er_test, nn = c->n_nr_test;
  const double *le = c->logit, *ln = c->logit + ne;
  c->accuracy = train_balanced_accuracy(le, NULL, ne, ln, NULL, nn, 0.0);
  c->auc = train_weighted_auc(le, NULL, ne, ln, NULL, nn);
  double *we = NULL, *wn = NULL;
  dd_status st = dd_calloc((void **)&we, (size_t)(ne > 0 ? ne : 1), sizeof *we, "weights");
  if (st == DD_OK) st = dd_calloc((void **)&wn, (size_t)(nn > 0 ? nn : 1), sizeof *wn, "weights");
  const double lo = p->detector.ceiling_cs1_min_pe, hi = p->detector.ceiling_cs1_max_pe;
  const det_event *er = c->er + c->n_er_train, *nr = c->nr + c->n_nr_train;
  for (long long i = 0; i < ne && st == DD_OK; i++)
    we[i] = er[i].cs1_pe >= lo && er[i].cs1_pe <= hi ? 1.0 : 0.0;
  for (int k = 0; k < c->n_mass && st == DD_OK; k++) {
    for (long long i = 0; i < nn; i++)
      wn[i] = nr[i].cs1_pe >= lo && nr[i].cs1_pe <= hi
                  ? phys_weight_nr(&p->phys, &c->q_nr, c->mass[k], p->phys.sigma_ref_cm2,
                                   nr[i].energy_kev)
                  : 0.0;
    c->acc_w[k] = train_balanced_accuracy(le, we, ne, ln, wn, nn, 0.0);
    c->auc_w[k] = train_weighted_auc(le, we, ne, ln, wn, nn);
  }
  free(we);
  free(wn);
  return st;
}

/* One model: build, restore or train, evaluate, examples. */
static dd_status run_model(const par_world *w, tr_ctx *c, int k) {
  const stage_params *p = c->p;
  const train_params *tp = &p->train;
  train_job job;
  memset(&job, 0, sizeof job);
  job.name = stage_model_name(k);
  job.arch = k == M_CVAE ? &p->nn.cvae : &p->nn.cnn;
  job.renderer = c->rend;
  job.train = k == M_CVAE ? &c->cvae_train : &c->cnn_train;
  job.test = k == M_CVAE ? &c->cvae_test : &c->cnn_test;
  job.test_nr = k == M_CVAE ? &c->cvae_test_nr : NULL;
  job.seed = p->run.seed;
  job.epochs = k == M_CVAE ? tp->cvae.epochs : tp->cnn.epochs;
  job.batch_size = k == M_CVAE ? tp->cvae.batch_size : tp->cnn.batch_size;
  job.eval_batch_size = tp->eval_batch_size;
  job.checksum_every = tp->checksum_every;
  job.hash = c->hash[k];
  job.ckpt_path = c->ckpt[k];
  job.hist_path = c->hist_path[k];
  train_trainer t;
  DD_TRY(train_trainer_init(&t, w, &job, 1), "train %s", job.name);
  char hex[17];
  io_hash_hex(job.hash, hex);
  dd_info(
      "train %s: %lld training images (%s), %lld test, minibatch %d over %d rank(s), %d "
      "epochs, model hash %s",
      job.name, job.train->n, k == M_CVAE ? "ER" : "ER + NR", job.test->n, job.batch_size, w->size,
      job.epochs, hex);
  dd_status st = train_trainer_restore(&t, c->x->o.resume, &c->hist[k], &c->start[k]);
  if (st == DD_OK && c->start[k] != TRAIN_START_COMPLETE) st = train_trainer_fit(&t, &c->hist[k]);
  /* the final evaluation uses the noise keys of the last epoch's */
  const uint32_t a = (uint32_t)(job.epochs - 1);
  if (st == DD_OK && k == M_CNN) {
    const long long nt = c->cnn_test.n;
    st = train_evaluate(&t, &c->cnn_test, nt, a, NULL);
    for (long long i = 0; i < nt && st == DD_OK; i++)
      c->logit[i] = t.out[(size_t)i * TRAIN_OUT_N + TRAIN_OUT_LOGIT];
    if (st == DD_OK) st = cnn_metrics(c);
  }
  dd_status ex = DD_OK;
  if (st == DD_OK && w->rank == 0 && c->n_ex > 0) {
    if (k == M_CVAE) {
      ex = examples_forward(c, &t, &c->cvae_test, 0, DET_ER, a);
      if (ex == DD_OK) ex = examples_forward(c, &t, &c->cvae_test_nr, 0, DET_NR, a);
    } else {
      ex = examples_forward(c, &t, &c->cnn_test, 0, DET_ER, a);
      if (ex == DD_OK) ex = examples_forward(c, &t, &c->cnn_test, c->n_er_test, DET_NR, a);
    }
  }
  if (st == DD_OK) st = par_agree(w, ex);
  c->steps[k] = t.model.step;
  c->n_params[k] = t.model.n_weights;
  train_trainer_free(&t);
  return st == DD_OK ? DD_OK : DD_CONTEXT(st, "train %s", job.name);
}

/* ------------------------------------------------------------------------ */
/* Writing /training                                                         */
/* ------------------------------------------------------------------------ */

static dd_status put(io_file *f, const char *path, io_type type, int rank, const long long *dims,
                     const char *const *axes, const char *units, const char *desc,
                     const void *data) {
  DD_TRY(io_dataset_create(f, path, type, rank, dims, axes, units, desc), "%s", path);
  DD_TRY(io_write_root(f, path, type, data), "%s", path);
  return DD_OK;
}

typedef struct curve {
  const char *name, *units, *desc;
  size_t off; /* offsetof(train_epoch, member) */
  int models; /* bit 0: CVAE, bit 1: CNN */
} curve;

#define EP(m) offsetof(train_epoch, m)
static const curve k_curves[] = {
    {"train_loss", "1",
     "mean training loss over the epoch's minibatches (CVAE: l_rec + beta*kl, Eq. 8; CNN: binary "
     "cross-entropy)",
     EP(train_loss), 3},
    {"train_rec", "1", "mean reconstruction term (MSE) over the epoch", EP(train_rec), 1},
    {"train_kl", "1", "mean KL term over the epoch (the nn.cvae.kl form)", EP(train_kl), 1},
    {"train_accuracy", "1", "class-balanced accuracy (p > 0.5 = NR) over the epoch's minibatches",
     EP(train_accuracy), 2},
    {"test_loss", "1",
     "mean loss on the test split after the epoch (CVAE: ER test events; CNN: ER and NR test "
     "events)",
     EP(test_loss), 3},
    {"test_rec", "1", "mean reconstruction term (MSE) of the ER test events", EP(test_rec), 1},
    {"test_kl", "1", "mean KL term of the ER test events", EP(test_kl), 1},
    {"test_nr_loss", "1", "mean CVAE loss of the NR test events (anomalies)", EP(test_nr_loss), 1},
    {"test_nr_rec", "1", "mean reconstruction term (MSE) of the NR test events", EP(test_nr_rec),
     1},
    {"test_nr_kl", "1", "mean KL term of the NR test events", EP(test_nr_kl), 1},
    {"test_accuracy", "1", "class-balanced test accuracy at p = 0.5 (NR as drawn from q(E))",
     EP(test_accuracy), 2},
    {"test_auc", "1", "test ROC area (NR as drawn from q(E))", EP(test_auc), 2},
    {"wall_s", "s", "wall time of the epoch's training steps (rank 0's clock)", EP(wall_s), 3},
    {"images_per_s", "1/s", "training images per second, all ranks together", EP(images_per_s), 3},
    {"allreduce_share", "1",
     "share of the step time spent in the gradient MPI_Allreduce, mean over ranks (after a "
     "barrier, so waiting for slower ranks is not included)",
     EP(allreduce_share), 3},
    {"wait_share", "1",
     "share of the step time spent waiting for the slowest rank before the allreduce (load "
     "imbalance), mean over ranks",
     EP(wait_share), 3},
    {"eval_s", "s", "wall time of the evaluation after the epoch", EP(eval_s), 3},
};
#undef EP

/* The CNN's metrics per scan mass beside the ceilings (/training/cnn). */
static const io_spec k_mass_specs[8] = {
    {"/training/cnn/accuracy_weighted",
     IO_F64,
     {"/training/cnn/mass_gev"},
     "1",
     "CNN class-balanced test accuracy at p = 0.5, NR reweighted to this WIMP mass, both classes "
     "in the ceiling's cS1 window",
     0},
    {"/training/cnn/auc_weighted",
     IO_F64,
     {"/training/cnn/mass_gev"},
     "1",
     "CNN test ROC area with the same weights and window",
     0},
    {"/training/cnn/ceiling_accuracy",
     IO_F64,
     {"/training/cnn/mass_gev"},
     "1",
     "information ceiling of /banks/ceiling: Bayes accuracy on (cS1, log10 cS2/cS1)",
     0},
    {"/training/cnn/ceiling_auc",
     IO_F64,
     {"/training/cnn/mass_gev"},
     "1",
     "information ceiling of /banks/ceiling: ROC area",
     0},
    {"/training/cnn/ceiling_accuracy_shape",
     IO_F64,
     {"/training/cnn/mass_gev"},
     "1",
     "information ceiling of /banks/ceiling with the S1 pulse shape: accuracy on (cS1, log10 "
     "cS2/cS1, S1 prompt fraction); NaN if simulate did not compute it",
     0},
    {"/training/cnn/ceiling_auc_shape",
     IO_F64,
     {"/training/cnn/mass_gev"},
     "1",
     "the same ceiling's ROC area",
     0},
    {"/training/cnn/ceiling_reference_accuracy",
     IO_F64,
     {"/training/cnn/mass_gev"},
     "1",
     "the ceiling the CNN is judged against (attribute ceiling_reference): the shape one "
     "unless detector.s1_timing is pax_simple",
     0},
    {"/training/cnn/ceiling_reference_auc",
     IO_F64,
     {"/training/cnn/mass_gev"},
     "1",
     "its ROC area",
     0},
};

static dd_status write_model(io_file *f, tr_ctx *c, int k) {
  const stage_params *p = c->p;
  const train_history *h = &c->hist[k];
  char g[64], ax[96], path[160];
  snprintf(g, sizeof g, "/training/%s", stage_model_name(k));
  snprintf(ax, sizeof ax, "%s/epoch", g);
  const long long n = h->n;
  int32_t *ep = NULL;
  double *v = NULL;
  dd_status st = dd_calloc((void **)&ep, (size_t)(n > 0 ? n : 1), sizeof *ep, "epochs");
  if (st == DD_OK) st = dd_calloc((void **)&v, (size_t)(n > 0 ? n : 1), sizeof *v, "curve");
  for (long long i = 0; i < n && st == DD_OK; i++) ep[i] = (int32_t)(i + 1);
  if (st == DD_OK)
    st = io_axis_write(f, ax, IO_I32, n, ep, "1",
                       "epoch number: values are measured after that many passes over the "
                       "training split");
  const char *const axes[1] = {ax};
  for (size_t q = 0; q < sizeof k_curves / sizeof *k_curves && st == DD_OK; q++) {
    if (!(k_curves[q].models & (1 << k))) continue;
    for (long long i = 0; i < n; i++)
      memcpy(&v[i], (const char *)&h->e[i] + k_curves[q].off, sizeof(double));
    snprintf(path, sizeof path, "%s/%s", g, k_curves[q].name);
    st = put(f, path, IO_F64, 1, &n, axes, k_curves[q].units, k_curves[q].desc, v);
  }
  free(ep);
  free(v);
  DD_TRY(st, "writing %s", g);
  const nn_arch *a = k == M_CVAE ? &p->nn.cvae : &p->nn.cnn;
  const train_model_params *mp = k == M_CVAE ? &p->train.cvae : &p->train.cnn;
  static const char *const starts[] = {"trained", "resumed", "reused"};
  char hex[17];
  io_hash_hex(c->hash[k], hex);
  DD_TRY(io_attr_write_int(f, g, "epochs", mp->epochs), "%s", g);
  DD_TRY(io_attr_write_int(f, g, "batch_size", mp->batch_size), "%s", g);
  DD_TRY(io_attr_write_double(f, g, "learning_rate", a->adam.learning_rate), "%s", g);
  DD_TRY(io_attr_write_int(f, g, "steps", (long long)c->steps[k]), "%s", g);
  DD_TRY(io_attr_write_int(f, g, "n_weights", (long long)c->n_params[k]), "%s", g);
  DD_TRY(io_attr_write_int(f, g, "n_train", k == M_CVAE ? c->cvae_train.n : c->cnn_train.n), "%s",
         g);
  DD_TRY(io_attr_write_string(f, g, "checkpoint", c->ckpt[k]), "%s", g);
  DD_TRY(io_attr_write_string(f, g, "model_hash", hex), "%s", g);
  DD_TRY(io_attr_write_string(f, g, "start", starts[c->start[k]]), "%s", g);
  if (k == M_CVAE) {
    DD_TRY(io_attr_write_double(f, g, "beta", a->beta), "%s", g);
    DD_TRY(io_attr_write_string(f, g, "kl", a->kl == NN_KL_PAPER ? "paper" : "standard"), "%s", g);
    DD_TRY(io_attr_write_string(f, g, "reconstruction", a->rec == NN_REC_SUM ? "sum" : "mean"),
           "%s", g);
    DD_TRY(io_attr_write_int(f, g, "n_test", c->cvae_test.n), "%s", g);
    DD_TRY(io_attr_write_int(f, g, "n_test_nr", c->cvae_test_nr.n), "%s", g);
    DD_TRY(io_attr_write_string(f, g, "description",
                                "CVAE trained on ER images (paper Fig. 3): loss curves per epoch"),
           "%s", g);
    return DD_OK;
  }
  DD_TRY(io_attr_write_int(f, g, "n_test_er", c->n_er_test), "%s", g);
  DD_TRY(io_attr_write_int(f, g, "n_test_nr", c->n_nr_test), "%s", g);
  DD_TRY(io_attr_write_double(f, g, "accuracy", c->accuracy), "%s", g);
  DD_TRY(io_attr_write_double(f, g, "auc", c->auc), "%s", g);
  DD_TRY(io_attr_write_string(f, g, "description",
                              "CNN trained on ER (label 0) vs NR (label 1): loss curves per "
                              "epoch; held-out accuracy and ROC area (attributes accuracy, auc: "
                              "NR as drawn from q(E)) and per WIMP mass beside the ceiling"),
         "%s", g);
  char mx[96];
  snprintf(mx, sizeof mx, "%s/mass_gev", g);
  const long long nm = c->n_mass;
  DD_TRY(io_axis_write(f, mx, IO_F64, nm, c->mass, "GeV/c^2",
                       "WIMP mass of the NR reweighting (the scan masses)"),
         "%s", g);
  const double *src[8] = {c->acc_w,          c->auc_w,          c->ceil_acc,     c->ceil_auc,
                          c->ceil_acc_shape, c->ceil_auc_shape, c->ceil_acc_ref, c->ceil_auc_ref};
  for (int q = 0; q < 8; q++) {
    DD_TRY(io_spec_create(f, &k_mass_specs[q]), "%s", g);
    DD_TRY(io_write_root(f, k_mass_specs[q].path, IO_F64, src[q]), "%s", g);
  }
  const double win[2] = {p->detector.ceiling_cs1_min_pe, p->detector.ceiling_cs1_max_pe};
  DD_TRY(io_attr_write_doubles(f, g, "cs1_window_pe", win, 2), "%s", g);
  DD_TRY(io_attr_write_string(f, g, "ceiling_reference", c->ceil_shape_ref ? "shape" : "cs1_cs2"),
         "%s", g);
  return DD_OK;
}

/* The example events (/training/examples), per class: the image, its
 * reconstruction, the event index and the three values.  need = 1: only
 * with train.examples > 0. */
#define EXA                                                                               \
  {                                                                                       \
    "/training/examples/example", "/training/examples/channel", "/training/examples/row", \
        "/training/examples/col"                                                          \
  }
#define EX1 \
  { "/training/examples/example" }
static const io_spec k_example_specs[12] = {
    {"/training/examples/er_image", IO_F32, EXA, "1",
     "ER test event rendered as the networks see it, (C, H, W), values in [0, 1] (paper Fig. 1)",
     1},
    {"/training/examples/er_reconstruction", IO_F32, EXA, "1",
     "CVAE reconstruction of er_image (latent sample with the last epoch's test noise keys; "
     "paper Fig. 4)",
     1},
    {"/training/examples/er_event", IO_I64, EX1, "1", "index of the event in /banks/er", 1},
    {"/training/examples/er_l_rec", IO_F64, EX1, "1", "CVAE reconstruction term (MSE) of the event",
     1},
    {"/training/examples/er_kl", IO_F64, EX1, "1", "CVAE KL term of the event", 1},
    {"/training/examples/er_logit", IO_F64, EX1, "1",
     "CNN logit of the event, p = 1/(1 + exp(-logit))", 1},
    {"/training/examples/nr_image", IO_F32, EXA, "1",
     "NR test event rendered as the networks see it, (C, H, W), values in [0, 1] (paper Fig. 1)",
     1},
    {"/training/examples/nr_reconstruction", IO_F32, EXA, "1",
     "CVAE reconstruction of nr_image (latent sample with the last epoch's test noise keys; "
     "paper Fig. 4)",
     1},
    {"/training/examples/nr_event", IO_I64, EX1, "1", "index of the event in /banks/nr", 1},
    {"/training/examples/nr_l_rec", IO_F64, EX1, "1", "CVAE reconstruction term (MSE) of the event",
     1},
    {"/training/examples/nr_kl", IO_F64, EX1, "1", "CVAE KL term of the event", 1},
    {"/training/examples/nr_logit", IO_F64, EX1, "1",
     "CNN logit of the event, p = 1/(1 + exp(-logit))", 1},
};
#undef EXA
#undef EX1

static dd_status write_examples(io_file *f, tr_ctx *c) {
  const char *g = "/training/examples";
  const long long k = c->n_ex;
  int32_t *idx = calloc((size_t)(IMG_H > k ? IMG_H : k), sizeof *idx);
  if (!idx) return DD_FAIL(DD_ERR_NOMEM, "example axes");
  for (int i = 0; i < IMG_H || i < k; i++) idx[i] = i;
  dd_status st = io_axis_write(f, "/training/examples/example", IO_I32, k, idx, "1",
                               "example number (the first test events of each bank)");
  if (st == DD_OK)
    st = io_axis_write(f, "/training/examples/channel", IO_I32, IMG_C, idx, "1",
                       "image channel (docs/detector.md §5)");
  if (st == DD_OK)
    st = io_axis_write(f, "/training/examples/row", IO_I32, IMG_H, idx, "1", "image row, 0 = top");
  if (st == DD_OK)
    st = io_axis_write(f, "/training/examples/col", IO_I32, IMG_W, idx, "1", "image column");
  free(idx);
  DD_TRY(st, "writing %s", g);
  double *col = NULL;
  DD_TRY(dd_calloc((void **)&col, (size_t)k, sizeof *col, "example values"), "examples");
  for (int cls = 0; cls < 2 && st == DD_OK; cls++) {
    const io_spec *sp = &k_example_specs[6 * cls];
    const void *data[3] = {c->ex_img[cls], c->ex_rec[cls], c->ex_event[cls]};
    for (int q = 0; q < 3 && st == DD_OK; q++) {
      st = io_spec_create(f, &sp[q]);
      if (st == DD_OK) st = io_write_root(f, sp[q].path, sp[q].type, data[q]);
    }
    for (int q = 0; q < 3 && st == DD_OK; q++) {
      for (long long i = 0; i < k; i++) col[i] = c->ex_val[cls][(size_t)i * 3 + q];
      st = io_spec_create(f, &sp[3 + q]);
      if (st == DD_OK) st = io_write_root(f, sp[3 + q].path, IO_F64, col);
    }
  }
  free(col);
  if (st == DD_OK)
    st = io_attr_write_string(f, g, "description",
                              "the first test events of each bank, their images and CVAE "
                              "reconstructions (paper Fig. 1 and Fig. 4)");
  return st == DD_OK ? DD_OK : DD_CONTEXT(st, "writing %s", g);
}

/* Rank 0: images.png (ER row, NR row) and reconstructions.png (rows: ER,
 * its reconstruction, NR, its reconstruction). */
static dd_status write_pngs(tr_ctx *c) {
  const int k = c->n_ex, scale = c->p->image.png_scale;
  char dir[STAGE_PATH_MAX + 32], path[STAGE_PATH_MAX + 64];
  snprintf(dir, sizeof dir, "%s/training", c->p->run.output_dir);
  DD_TRY(dd_mkdir_p(dir), "creating '%s'", dir);
  float *sheet = NULL;
  DD_TRY(dd_calloc((void **)&sheet, (size_t)4 * k * IMG_SIZE, sizeof *sheet, "PNG sheet"), "png");
  const size_t b = (size_t)k * IMG_SIZE * sizeof *sheet;
  memcpy(sheet, c->ex_img[0], b);
  memcpy((char *)sheet + b, c->ex_img[1], b);
  snprintf(path, sizeof path, "%s/images.png", dir);
  dd_status st = img_png_write_sheet(path, sheet, 2 * k, 2, k, scale, 2);
  float *dst = sheet;
  const float *src[4] = {c->ex_img[0], c->ex_rec[0], c->ex_img[1], c->ex_rec[1]};
  for (int r = 0; r < 4; r++)
    for (int i = 0; i < k; i++, dst += IMG_SIZE)
      memcpy(dst, src[r] + (size_t)i * IMG_SIZE, IMG_SIZE * sizeof *dst);
  snprintf(path, sizeof path, "%s/reconstructions.png", dir);
  if (st == DD_OK) st = img_png_write_sheet(path, sheet, 4 * k, 4, k, scale, 2);
  free(sheet);
  if (st == DD_OK)
    dd_info(
        "train: %d ER and %d NR test images with their reconstructions in %s "
        "(images.png, reconstructions.png: rows ER, reconstruction, NR, reconstruction)",
        k, k, dir);
  return st;
}

static void log_summary(const tr_ctx *c, int rank) {
  const train_history *h = &c->hist[M_CVAE];
  if (h->n > 0) {
    const train_epoch *e = &h->e[h->n - 1];
    dd_info(
        "train: CVAE test reconstruction loss ER %.5g, NR %.5g (NR/ER %.3f); KL ER %.4g, NR "
        "%.4g",
        e->test_rec, e->test_nr_rec, e->test_nr_rec / e->test_rec, e->test_kl, e->test_nr_kl);
  }
  dd_info(
      "train: CNN held-out accuracy %.4f, ROC AUC %.4f (%lld ER + %lld NR test events, NR from "
      "the reference spectrum q(E), p > 0.5 = NR)",
      c->accuracy, c->auc, c->n_er_test, c->n_nr_test);
  for (int k = 0; k < c->n_mass; k++) {
    const double diff = 100.0 * (c->acc_w[k] - c->ceil_acc_ref[k]);
    dd_info(
        "train: CNN at %g GeV (NR reweighted, cS1 %g-%g PE): accuracy %.4f, AUC %.4f | ceilings "
        "(cS1, cS2) %.4f, %.4f; with the S1 shape %.4f, %.4f | %.1f points %s the %s ceiling",
        c->mass[k], c->p->detector.ceiling_cs1_min_pe, c->p->detector.ceiling_cs1_max_pe,
        c->acc_w[k], c->auc_w[k], c->ceil_acc[k], c->ceil_auc[k], c->ceil_acc_shape[k],
        c->ceil_auc_shape[k], fabs(diff), diff > 0.0 ? "above" : "below",
        c->ceil_shape_ref ? "shape" : "(cS1, cS2)");
    if (diff > 1.0 && rank == 0)
      dd_warn(
          "train: at %g GeV the CNN is %.1f points above the ceiling of the information in its "
          "images: label leakage? (docs/detector.md §7; %lld + %lld test events)",
          c->mass[k], diff, c->n_er_test, c->n_nr_test);
  }
  if (c->n_mass > 0 && isfinite(c->ceil_acc_ref[0]))
    dd_info("train: reference ceiling: %s",
            c->ceil_shape_ref
                ? "with the S1 pulse shape (the S1 waveform panel carries class-dependent timing)"
                : "(cS1, cS2) (pax_simple S1 timing: the waveform panel has no class information)");
}

static const char *const k_owned[] = {"/training"};

static dd_status train_run(stage_ctx *x) {
  const par_world *w = x->w;
  const double t_begin = dd_time_now(); /* the stage's wall time includes the training */
  tr_ctx c;
  memset(&c, 0, sizeof c);
  c.x = x;
  c.p = x->p;
  io_file *f = NULL;
  for (int k = 0; k < N_MODELS; k++)
    stage_model_paths(x, k, c.ckpt[k], c.hist_path[k], sizeof c.ckpt[k]);
  dd_status st = prepare(w, &c);
  if (st == DD_OK && w->rank == 0) st = dd_mkdir_p(x->checkpoint_dir);
  st = par_agree(w, st);
  for (int k = 0; k < N_MODELS && st == DD_OK; k++) st = run_model(w, &c, k);
  if (st != DD_OK) goto done;
  log_summary(&c, w->rank);
  const uint64_t hs = stage_hash(&c);
  int current = 0;
  st = io_stage_is_current(w, x->results, "train", hs, &current);
  if (st == DD_OK && current && c.start[M_CVAE] == TRAIN_START_COMPLETE &&
      c.start[M_CNN] == TRAIN_START_COMPLETE) {
    dd_info(
        "train: '%s' /training and both checkpoints are current for this configuration: "
        "nothing to do",
        x->results);
    goto done;
  }
  io_stage s = {"train",   k_owned, 1,  x->results, x->results, x->config_text, hs, x->o.argc,
                x->o.argv, -1,      -1, 0,          NULL};
  if (st == DD_OK) st = io_stage_begin(w, &s, &f, NULL);
  if (st == DD_OK) io_stage_started_at(f, t_begin);
  if (st == DD_OK) st = io_group_create(f, "/training");
  for (int k = 0; k < N_MODELS && st == DD_OK; k++) st = write_model(f, &c, k);
  if (st == DD_OK && c.n_ex > 0) st = write_examples(f, &c);
  if (st == DD_OK) st = io_attr_write_string(f, "/training", "checkpoint_dir", x->checkpoint_dir);
  if (st == DD_OK)
    st = io_attr_write_string(f, "/training", "description",
                              "training of the CVAE (ER) and the CNN (ER vs NR): curves per "
                              "epoch, metrics, examples (docs/training.md)");
  if (st == DD_OK && c.n_ex > 0) {
    dd_status pst = w->rank == 0 ? write_pngs(&c) : DD_OK;
    st = par_agree(w, pst);
  }
  if (st == DD_OK) {
    st = io_stage_commit(&f);
    if (st == DD_OK) dd_info("train: wrote %s", x->results);
  } else {
    io_file_close(&f);
  }
done:
  tr_free(&c);
  return st == DD_OK ? DD_OK : DD_CONTEXT(st, "train");
}

/* Current when /training was written for these model hashes and both
 * checkpoints are finished (the run itself also reuses finished
 * checkpoints when /training is stale). */
static dd_status train_is_current(stage_ctx *x, int *current) {
  *current = 0;
  int banks = 0;
  DD_TRY(io_stage_is_current(x->w, x->results, "simulate", stage_simulate_hash(x->cfg), &banks),
         "train");
  if (!banks) return DD_OK;
  tr_ctx c;
  memset(&c, 0, sizeof c);
  c.x = x;
  io_file *f = NULL;
  DD_TRY(io_file_open(x->w, x->results, IO_READ, &f), "train");
  dd_status st = stage_model_hashes(x, f, c.hash);
  dd_status st2 = io_file_close(&f);
  DD_TRY(st == DD_OK ? st2 : st, "train");
  DD_TRY(io_stage_is_current(x->w, x->results, "train", stage_hash(&c), current), "train");
  for (int k = 0; k < N_MODELS && *current; k++) {
    char ckpt[STAGE_PATH_MAX + 64];
    stage_model_paths(x, k, ckpt, NULL, sizeof ckpt);
    int ok = x->w->rank == 0 ? dd_path_exists(ckpt) : 0;
    MPI_Bcast(&ok, 1, MPI_INT, 0, x->w->comm);
    *current = ok;
  }
  return DD_OK;
}

/* /training: the loss curves of each model on its epoch axis, the CNN's
 * metrics per scan mass beside the ceilings, the example images. */
static void train_schema(stage_schema *out) {
  enum { NC = sizeof k_curves / sizeof k_curves[0], NM = 8, NE = 12 };
  static io_spec specs[2 * NC + NM + NE];
  static int n = 0;
  if (n == 0) {
    static char paths[2 * NC][64];
    for (int k = 0; k < N_MODELS; k++)
      for (int q = 0; q < NC; q++) {
        if (!(k_curves[q].models & (1 << k))) continue;
        snprintf(paths[n], sizeof paths[n], "/training/%s/%s", stage_model_name(k),
                 k_curves[q].name);
        specs[n] = (io_spec){paths[n],
                             IO_F64,
                             {k == M_CVAE ? "/training/cvae/epoch" : "/training/cnn/epoch"},
                             k_curves[q].units,
                             k_curves[q].desc,
                             0};
        n++;
      }
    for (int q = 0; q < NM; q++) specs[n++] = k_mass_specs[q];
    for (int q = 0; q < NE; q++) specs[n++] = k_example_specs[q];
  }
  out->tables = NULL;
  out->n_tables = 0;
  out->specs = specs;
  out->n_specs = n;
}

const stage_def stage_train = {
    "train",      "the CVAE on ER and the CNN on ER vs NR (data-parallel, checkpoints), /training",
    k_owned,      1,
    train_schema, train_is_current,
    train_run,
};
