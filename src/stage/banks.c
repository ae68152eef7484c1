/* banks.c - what later stages read of the simulate and train stages, in one
 * place: the io_field table of the event banks (/banks/er, /banks/nr), the
 * hash that says whether the banks are current, reading records back, and
 * the identity of the trained networks (model hashes over the training keys
 * and the records they train on; checkpoint paths).  The train and score
 * stages both go through here, never through each other. */
#include "ddscan/stage.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_model[STAGE_N_MODELS] = {"cvae", "cnn"};

#define EV(m) offsetof(det_event, m)
static const io_field k_bank_fields[] = {
    {"cls", IO_I32, 1, "1", "class (truth): 0 = ER, 1 = NR", EV(cls), NULL},
    {"attempts", IO_I32, 1, "1", "draws it took, rejected ones included", EV(attempts), NULL},
    {"energy_kev", IO_F64, 1, "keV", "recoil energy (keVee for ER, keVnr for NR)", EV(energy_kev),
     NULL},
    {"x_cm", IO_F64, 1, "cm", "true x of the interaction", EV(x_cm), NULL},
    {"y_cm", IO_F64, 1, "cm", "true y of the interaction", EV(y_cm), NULL},
    {"depth_cm", IO_F64, 1, "cm", "true depth below the gate", EV(depth_cm), NULL},
    {"s1_pe", IO_F64, 1, "PE", "S1 area", EV(s1_pe), NULL},
    {"s2_pe", IO_F64, 1, "PE", "S2 area", EV(s2_pe), NULL},
    {"s2_top_pe", IO_F64, 1, "PE", "S2 area on the top array", EV(s2_top_pe), NULL},
    {"s2_bottom_pe", IO_F64, 1, "PE", "S2 area on the bottom array", EV(s2_bottom_pe), NULL},
    {"cs1_pe", IO_F64, 1, "PE", "S1 corrected for the light yield at the reconstructed depth",
     EV(cs1_pe), NULL},
    {"cs2_pe", IO_F64, 1, "PE", "S2 corrected for electron lifetime and radial yield", EV(cs2_pe),
     NULL},
    {"cs2_bottom_pe", IO_F64, 1, "PE", "bottom-array S2 with the same corrections",
     EV(cs2_bottom_pe), NULL},
    {"drift_time_us", IO_F64, 1, "us", "S2 centre minus S1 start", EV(drift_time_us), NULL},
    {"s2_width_us", IO_F64, 1, "us", "RMS of the S2 photon arrival times", EV(s2_width_us), NULL},
    {"s1_aft", IO_F64, 1, "1", "S1 area fraction on the top array", EV(s1_aft), NULL},
    {"s2_aft", IO_F64, 1, "1", "S2 area fraction on the top array", EV(s2_aft), NULL},
    {"x_rec_cm", IO_F64, 1, "cm", "reconstructed x", EV(x_rec_cm), NULL},
    {"y_rec_cm", IO_F64, 1, "cm", "reconstructed y", EV(y_rec_cm), NULL},
    {"depth_rec_cm", IO_F64, 1, "cm", "depth from the drift time", EV(depth_rec_cm), NULL},
    {"weight", IO_F64, 1, "1", "importance weight p/q (detector.er_bias; 1 when unbiased)",
     EV(weight), NULL},
    {"n_ph", IO_I32, 1, "1", "produced photons", EV(n_ph), NULL},
    {"n_e", IO_I32, 1, "1", "produced electrons (after recombination)", EV(n_e), NULL},
    {"n_s1_phd", IO_I32, 1, "1", "detected S1 photons", EV(n_s1_phd), NULL},
    {"n_e_ext", IO_I32, 1, "1", "electrons extracted into the gas", EV(n_e_ext), NULL},
    {"n_pmts_hit", IO_I32, 1, "1", "PMTs in the S1 coincidence window", EV(n_pmts_hit), NULL},
    {"n_pmt_top", IO_I32, 1, "1", "PMTs of the top array", EV(n_pmt_top), NULL},
    {"n_pmt_bottom", IO_I32, 1, "1", "PMTs of the bottom array", EV(n_pmt_bottom), NULL},
    {"s1_window_ns", IO_F32, 1, "ns", "length of the displayed S1 window", EV(s1_window_ns), NULL},
    {"s2_window_ns", IO_F32, 1, "ns", "length of the displayed S2 window", EV(s2_window_ns), NULL},
    {"s1_wf", IO_F32, DET_WF_COLS, "PE",
     "S1 sum waveform: mean PE per 10-ns sample in each of 37 columns of the window", EV(s1_wf),
     "wf_col"},
    {"s2_wf", IO_F32, DET_WF_COLS, "PE",
     "S2 sum waveform: mean PE per 10-ns sample in each of 37 columns of the window", EV(s2_wf),
     "wf_col"},
    {"s1_pmt_bottom_pe", IO_F32, DET_MAX_PMT_BOTTOM, "PE", "S1 area per bottom-array PMT",
     EV(s1_pmt_bottom_pe), "pmt_bottom"},
    {"s2_pmt_top_pe", IO_F32, DET_MAX_PMT_TOP, "PE", "S2 area per top-array PMT", EV(s2_pmt_top_pe),
     "pmt_top"},
};
#undef EV
static const int k_n_bank_fields = (int)(sizeof k_bank_fields / sizeof k_bank_fields[0]);

const io_field *stage_bank_fields(int *n) {
  *n = k_n_bank_fields;
  return k_bank_fields;
}

uint64_t stage_simulate_hash(const cfg_doc *cfg) {
  /* the keys the stage depends on: a change in any of them redoes it */
  static const char *const hash_keys[] = {"run.seed", "detector", "physics", "scan.mass_gev"};
  return cfg_hash(cfg, hash_keys, 4);
}

dd_status stage_banks_check(stage_ctx *c) {
  int cur = 0;
  DD_TRY(io_stage_is_current(c->w, c->results, "simulate", stage_simulate_hash(c->cfg), &cur),
         "'%s'", c->results);
  if (!cur)
    return DD_FAIL(DD_ERR_IO,
                   "'%s' does not hold the event banks of this configuration (missing, "
                   "unfinished, or simulated with other detector/physics/seed keys): run `ddscan "
                   "simulate %s` first",
                   c->results, cfg_filename(c->cfg));
  return DD_OK;
}

dd_status stage_bank_read(io_file *f, int cls, long long first, long long count, det_event *out) {
  const char *group = cls == DET_ER ? "/banks/er" : "/banks/nr";
  long long n_rows = 0;
  DD_TRY(io_table_length(f, group, k_bank_fields, k_n_bank_fields, &n_rows), "reading %s of '%s'",
         group, io_file_final_path(f));
  if (first < 0 || first + count > n_rows)
    return DD_FAIL(DD_ERR_IO,
                   "'%s' %s holds %lld events, this configuration needs events [%lld, %lld): run "
                   "`ddscan simulate CONFIG` first",
                   io_file_final_path(f), group, n_rows, first, first + count);
  if (count > 0) memset(out, 0, (size_t)count * sizeof *out);
  DD_TRY(io_table_read(f, group, k_bank_fields, k_n_bank_fields, first, count, out, sizeof *out),
         "reading %s", group);
  /* the row index is the table's axis, not a field */
  for (long long i = 0; i < count; i++) out[i].index = (uint64_t)(first + i);
  return DD_OK;
}

dd_status stage_bank_read_training(io_file *f, const det_bank *b, int cls, det_event **out,
                                   long long *n_train, long long *n_test) {
  uint64_t f0, c0, f1, c1;
  det_bank_range(b, cls, DET_SPLIT_TRAIN, &f0, &c0);
  det_bank_range(b, cls, DET_SPLIT_TEST, &f1, &c1);
  *n_train = (long long)c0;
  *n_test = (long long)c1;
  const long long n = (long long)(c0 + c1);
  DD_TRY(dd_calloc((void **)out, (size_t)(n > 0 ? n : 1), sizeof **out, "bank records"),
         "bank records");
  /* the splits are contiguous: [train, test) from index 0 */
  if (f0 != 0 || f1 != c0) return DD_FAIL(DD_ERR_INTERNAL, "bank splits are not contiguous");
  return stage_bank_read(f, cls, 0, n, *out);
}

/* The hash covers the records' bytes, not only the keys that made them: a
 * change of the analysis split or of the scan masses leaves the train and
 * test records (and so the networks) as they are, while anything that
 * changes one record retrains. */
uint64_t stage_model_hash(const cfg_doc *cfg, int k, const det_event *er, long long n_er_train,
                          long long n_er_test, const det_event *nr, long long n_nr_train,
                          long long n_nr_test) {
  const char *keys[4] = {"run.seed", "image", k == STAGE_CVAE ? "nn.cvae" : "nn.cnn",
                         k == STAGE_CVAE ? "train.cvae.batch_size" : "train.cnn.batch_size"};
  uint64_t h =
      dd_hash_str(DD_HASH_INIT, k == STAGE_CVAE ? "ddscan-train-1 cvae" : "ddscan-train-1 cnn");
  const uint64_t ch = cfg_hash(cfg, keys, 4);
  h = dd_hash_bytes(h, &ch, sizeof ch);
  const size_t r = sizeof(det_event);
  const long long bal = n_er_train < n_nr_train ? n_er_train : n_nr_train;
  if (k == STAGE_CVAE) {
    h = dd_hash_bytes(h, er, (size_t)(n_er_train + n_er_test) * r);
    h = dd_hash_bytes(h, nr + n_nr_train, (size_t)n_nr_test * r);
  } else {
    h = dd_hash_bytes(h, er, (size_t)bal * r);
    h = dd_hash_bytes(h, nr, (size_t)bal * r);
    h = dd_hash_bytes(h, er + n_er_train, (size_t)n_er_test * r);
    h = dd_hash_bytes(h, nr + n_nr_train, (size_t)n_nr_test * r);
  }
  return h;
}

dd_status stage_model_hashes(stage_ctx *c, io_file *f, uint64_t hash[STAGE_N_MODELS]) {
  det_event *er = NULL, *nr = NULL;
  long long ner, ner_t, nnr, nnr_t;
  const det_bank *b = &c->p->detector.bank;
  dd_status st = stage_bank_read_training(f, b, DET_ER, &er, &ner, &ner_t);
  if (st == DD_OK) st = stage_bank_read_training(f, b, DET_NR, &nr, &nnr, &nnr_t);
  if (st == DD_OK)
    for (int k = 0; k < STAGE_N_MODELS; k++)
      hash[k] = stage_model_hash(c->cfg, k, er, ner, ner_t, nr, nnr, nnr_t);
  free(er);
  free(nr);
  return st;
}

const char *stage_model_name(int model) {
  return model >= 0 && model < STAGE_N_MODELS ? k_model[model] : "?";
}

void stage_model_paths(const stage_ctx *c, int model, char *ckpt, char *hist, size_t cap) {
  if (ckpt) snprintf(ckpt, cap, "%s/%s.ckpt", c->checkpoint_dir, stage_model_name(model));
  if (hist) snprintf(hist, cap, "%s/%s.hist", c->checkpoint_dir, stage_model_name(model));
}
