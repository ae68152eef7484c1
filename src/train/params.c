/* params.c - group `train` (the training loop of each network: epochs,
 * global minibatch, evaluation batch, checkpoints, checksum interval, stored
 * examples).  The defaults live here only; configs/example.cfg documents
 * them.  The score stage's group `score` is loaded by src/stage/score.c. */
#include "ddscan/train.h"

#include <stdio.h>
#include <string.h>

/* The paper (arXiv:2110.12248 §3): minibatch 100, CVAE 200 epochs.  The CNN's
 * epoch count is not given there; 30 reaches a plateau on 2x16000 images. */
#define TRAIN_DEF_CVAE_EPOCHS 200
#define TRAIN_DEF_CNN_EPOCHS 30
#define TRAIN_DEF_CHECKSUM_EVERY 100
#define TRAIN_DEF_EXAMPLES 4
#define TRAIN_MAX_EPOCHS 1000000
#define TRAIN_MAX_EXAMPLES 64

static dd_status int_in(cfg_doc *cfg, const char *path, long long def, long long lo, long long hi,
                        int *out) {
  long long v;
  DD_TRY(cfg_get_int_range(cfg, path, def, lo, hi, &v), "%s", path);
  *out = (int)v;
  return DD_OK;
}

static dd_status model_load(cfg_doc *cfg, const char *group, int def_epochs,
                            train_model_params *m) {
  char path[64];
  snprintf(path, sizeof path, "%s.epochs", group);
  DD_TRY(int_in(cfg, path, def_epochs, 1, TRAIN_MAX_EPOCHS, &m->epochs), "%s", group);
  snprintf(path, sizeof path, "%s.batch_size", group);
  DD_TRY(int_in(cfg, path, TRAIN_DEF_BATCH, 1, TRAIN_MAX_BATCH, &m->batch_size), "%s", group);
  return DD_OK;
}

dd_status train_params_load(cfg_doc *cfg, train_params *p) {
  memset(p, 0, sizeof *p);
  DD_TRY(model_load(cfg, "train.cvae", TRAIN_DEF_CVAE_EPOCHS, &p->cvae), "train");
  DD_TRY(model_load(cfg, "train.cnn", TRAIN_DEF_CNN_EPOCHS, &p->cnn), "train");
  DD_TRY(int_in(cfg, "train.eval_batch_size", TRAIN_DEF_BATCH, 1, TRAIN_MAX_BATCH,
                &p->eval_batch_size),
         "train");
  DD_TRY(
      cfg_get_string(cfg, "train.checkpoint_dir", "", p->checkpoint_dir, sizeof p->checkpoint_dir),
      "train");
  DD_TRY(int_in(cfg, "train.checksum_every", TRAIN_DEF_CHECKSUM_EVERY, 0, 1000000000,
                &p->checksum_every),
         "train");
  DD_TRY(int_in(cfg, "train.examples", TRAIN_DEF_EXAMPLES, 0, TRAIN_MAX_EXAMPLES, &p->examples),
         "train");
  return DD_OK;
}
