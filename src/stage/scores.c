/* scores.c - the /scores schema, owned by the score stage: the io_field
 * table of scan_score_record, the bank attributes, writing a bank and
 * reading it back with every check the scan relies on (docs/format.md §7),
 * and the synthetic banks that tests and benchmarks score-free scan on. */
#include "ddscan/stage.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h> /* uses: MPI_Allreduce */

const io_field stage_score_fields[] = {
    {"event", IO_I64, 1, "1",
     "event index in the bank (the key of its simulation and image random streams)",
     offsetof(scan_score_record, event), NULL},
    {"l_rec", IO_F64, 1, "1",
     "CVAE reconstruction term: mean squared error between the image and its reconstruction "
     "(Eq. 8 of arXiv:2110.12248; the loss is l_rec + beta*kl)",
     offsetof(scan_score_record, l_rec), NULL},
    {"kl", IO_F64, 1, "1",
     "CVAE KL term sum_j (sigma_j^2 + mu_j^2 - log sigma_j - 1) over the latent dimensions (Eq. 8)",
     offsetof(scan_score_record, kl), NULL},
    {"logit", IO_F64, 1, "1", "CNN output logit z; p_CNN = 1/(1 + exp(-z))",
     offsetof(scan_score_record, logit), NULL},
    {"h_b", IO_F64, 1, "1",
     "H_B = -log(1 - p_CNN) = softplus(logit) (Eq. 11), computed from the logit without "
     "cancellation; TS(R) = l_rec + beta*kl + R*h_b (Eq. 10)",
     offsetof(scan_score_record, h_b), NULL},
    {"cs1", IO_F64, 1, "PE", "corrected S1 (position-corrected prompt scintillation)",
     offsetof(scan_score_record, cs1), NULL},
    {"cs2", IO_F64, 1, "PE", "corrected S2 (position- and electron-lifetime-corrected)",
     offsetof(scan_score_record, cs2), NULL},
    {"energy_kev", IO_F64, 1, "keV",
     "true recoil energy (keVee in the ER bank, keVnr in the NR bank; see the bank's "
     "energy_units), used to reweight the bank",
     offsetof(scan_score_record, energy_kev), NULL},
    {"attempts", IO_I64, 1, "1",
     "energy draws this event took until it passed the detector acceptance, rejected ones "
     "included (their sum is the bank's n_draws_total)",
     offsetof(scan_score_record, attempts), NULL},
    {"weight", IO_F64, 1, "1",
     "importance weight p/q of the event (detector.er_bias, docs/detector.md §11; the "
     "/banks/er/weight of the same event), 1 when unbiased and always 1 in the NR bank; it "
     "multiplies the event's physics weight",
     offsetof(scan_score_record, weight), NULL},
};
const int stage_n_score_fields = (int)(sizeof stage_score_fields / sizeof stage_score_fields[0]);

/* [SCAN_BANK_SIGNAL]: the signal sample of a non-WIMP signal.model */
static const char *const k_units[SCAN_N_BANKS + 1] = {"keVee", "keVnr",
                                                      "keVee (ER signals), keVnr (cevns)"};
static const char *const k_sampler[SCAN_N_BANKS + 1] = {"physics.er_background",
                                                        "physics.nr_reference", "signal.model"};
static const char *const k_rows[SCAN_N_BANKS + 1] = {
    "event row in the scored ER (background) analysis split",
    "event row in the scored NR (signal reference) analysis split",
    "event row in the scored signal sample (signal.model)"};

const char *stage_scores_row_description(scan_bank b) {
  return b >= 0 && b <= SCAN_BANK_SIGNAL ? k_rows[b] : "?";
}

dd_status stage_scores_write(io_file *f, scan_bank b, const scan_score_record *rows,
                             long long n_local, const scan_bank_info *info) {
  if (b < 0 || b >= SCAN_N_BANKS) return DD_FAIL(DD_ERR_ARG, "scores: bank %d", (int)b);
  const char *g = scan_bank_group(b);
  DD_TRY(io_table_write(f, g, stage_score_fields, stage_n_score_fields, k_rows[b], rows,
                        sizeof *rows, n_local),
         "writing the %s scores", scan_bank_name(b));
  return stage_scores_write_info(f, b, info);
}

dd_status stage_scores_write_info(io_file *f, scan_bank b, const scan_bank_info *info) {
  if (b < 0 || b > SCAN_BANK_SIGNAL) return DD_FAIL(DD_ERR_ARG, "scores: bank %d", (int)b);
  const char *g = scan_bank_group(b);
  DD_TRY(io_attr_write_double(f, g, "beta", info->beta), "scores '%s'", g);
  DD_TRY(io_attr_write_int(f, g, "n_draws_total", info->n_draws_total), "scores '%s'", g);
  DD_TRY(io_attr_write_int(f, g, "seed", info->seed), "scores '%s'", g);
  DD_TRY(io_attr_write_string(f, g, "detector_preset", info->detector_preset), "scores '%s'", g);
  DD_TRY(io_attr_write_string(f, g, "energy_units", k_units[b]), "scores '%s'", g);
  DD_TRY(io_attr_write_string(f, g, "energy_sampler", k_sampler[b]), "scores '%s'", g);
  DD_TRY(
      io_attr_write_string(
          f, g, "description",
          b == SCAN_BANK_SIGNAL
              ? "per-event scores of the signal sample of signal.model (its own spectrum and "
                "recoil type, DD_STREAM_SIGNAL); weight per event at a rate of 1 interaction "
                "per t*y before selection: 1/n_draws_total"
          : b == SCAN_BANK_ER
              ? "per-event scores of the ER (background) analysis events; weights "
                "w = ER rate(E)/q_er(E)/n_draws_total x weight (the importance weight of the "
                "biased ER tail, detector.er_bias; 1 when unbiased)"
              : "per-event scores of the NR analysis events drawn from the reference "
                "spectrum q(E); weights for a WIMP of mass m: w = dR/dE_m(E)/q(E)/n_draws_total"),
      "scores '%s'", g);
  return DD_OK;
}

/* The hint every "not there" message ends with. */
#define SCORE_HINT "run the score stage first (`ddscan score CONFIG`, or `ddscan CONFIG`)"

static dd_status need_attr(io_file *f, const char *g, const char *name) {
  if (!io_attr_exists(f, g, name))
    return DD_FAIL(DD_ERR_IO, "'%s': '%s' has no attribute '%s' (written by the score stage); %s",
                   io_file_disk_path(f), g, name, SCORE_HINT);
  return DD_OK;
}

static dd_status check_string_attr(io_file *f, const char *g, const char *name, const char *want) {
  char *v = NULL;
  DD_TRY(need_attr(f, g, name), "scores");
  DD_TRY(io_attr_read_string(f, g, name, &v), "scores");
  int same = strcmp(v, want) == 0;
  dd_status st = DD_OK;
  if (!same)
    st = DD_FAIL(DD_ERR_IO, "'%s': %s@%s is \"%s\", the scan expects \"%s\"", io_file_disk_path(f),
                 g, name, v, want);
  free(v);
  return st;
}

/* Every value of row i is usable; returns the name of the first bad field. */
static const char *row_problem(const scan_score_record *r, scan_bank b) {
  if (!isfinite(r->l_rec)) return "l_rec is not finite";
  if (!isfinite(r->kl)) return "kl is not finite";
  if (!(r->h_b >= 0.0) || isinf(r->h_b)) return "h_b is not finite and >= 0";
  if (isnan(r->logit)) return "logit is NaN";
  if (!isfinite(r->cs1)) return "cs1 is not finite";
  if (!isfinite(r->cs2)) return "cs2 is not finite";
  if (!(r->energy_kev >= 0.0) || isinf(r->energy_kev)) return "energy_kev is not finite and >= 0";
  if (r->attempts < 1) return "attempts is < 1";
  /* the signal sample's importance weights (cevns) vanish past its endpoint */
  if (b == SCAN_BANK_SIGNAL ? !(r->weight >= 0.0) : !(r->weight > 0.0))
    return "weight is not finite and > 0";
  if (isinf(r->weight)) return "weight is not finite and > 0";
  return NULL;
}

dd_status stage_scores_read(io_file *f, scan_bank b, scan_scores *s) {
  memset(s, 0, sizeof *s);
  if (b < 0 || b > SCAN_BANK_SIGNAL) return DD_FAIL(DD_ERR_ARG, "scores: bank %d", (int)b);
  const char *g = scan_bank_group(b), *path = io_file_disk_path(f);
  if (b != SCAN_BANK_SIGNAL && !io_exists(f, "/scores"))
    return DD_FAIL(DD_ERR_IO,
                   "'%s' has no /scores (the per-event scores of the analysis split); %s", path,
                   SCORE_HINT);
  if (!io_exists(f, g))
    return DD_FAIL(DD_ERR_IO, "'%s' has no %s (the %s bank's scores); %s", path, g,
                   scan_bank_name(b), SCORE_HINT);
  char ds[IO_PATH_MAX];
  for (int i = 0; i < stage_n_score_fields; i++) {
    snprintf(ds, sizeof ds, "%s/%s", g, stage_score_fields[i].path);
    if (!io_exists(f, ds))
      return DD_FAIL(DD_ERR_IO, "'%s' has no dataset %s (%s); %s", path, ds,
                     stage_score_fields[i].description, SCORE_HINT);
  }
  static const char *const attrs[] = {"beta", "n_draws_total", "seed", "detector_preset"};
  for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
    DD_TRY(need_attr(f, g, attrs[i]), "reading the %s scores", scan_bank_name(b));
  DD_TRY(check_string_attr(f, g, "energy_units", k_units[b]), "reading the %s scores",
         scan_bank_name(b));
  DD_TRY(check_string_attr(f, g, "energy_sampler", k_sampler[b]), "reading the %s scores",
         scan_bank_name(b));
  char *preset = NULL;
  DD_TRY(io_attr_read_double(f, g, "beta", &s->info.beta), "scores '%s'", g);
  DD_TRY(io_attr_read_int(f, g, "n_draws_total", &s->info.n_draws_total), "scores '%s'", g);
  DD_TRY(io_attr_read_int(f, g, "seed", &s->info.seed), "scores '%s'", g);
  DD_TRY(io_attr_read_string(f, g, "detector_preset", &preset), "scores '%s'", g);
  snprintf(s->info.detector_preset, sizeof s->info.detector_preset, "%s", preset);
  free(preset);
  if (!(s->info.beta >= 0.0) || isinf(s->info.beta))
    return DD_FAIL(DD_ERR_IO, "'%s': %s@beta = %g must be finite and >= 0", path, g, s->info.beta);

  long long n = 0;
  DD_TRY(io_table_length(f, g, stage_score_fields, stage_n_score_fields, &n), "'%s': %s", path, g);
  if (n < 1) return DD_FAIL(DD_ERR_IO, "'%s': %s holds no events; %s", path, g, SCORE_HINT);
  DD_TRY(dd_calloc((void **)&s->rows, (size_t)n, sizeof *s->rows, "scores"), "bank %s",
         scan_bank_name(b));
  s->n = n;
  dd_status st =
      io_table_read(f, g, stage_score_fields, stage_n_score_fields, 0, n, s->rows, sizeof *s->rows);
  long long sum = 0;
  for (long long i = 0; st == DD_OK && i < n; i++) {
    const char *why = row_problem(&s->rows[i], b);
    if (why)
      st = DD_FAIL(DD_ERR_IO, "'%s': %s row %lld (event %lld): %s", path, g, i,
                   (long long)s->rows[i].event, why);
    sum += s->rows[i].attempts;
  }
  if (st == DD_OK && sum != s->info.n_draws_total)
    st = DD_FAIL(DD_ERR_IO,
                 "'%s': %s@n_draws_total = %lld but the attempts of its %lld events sum to %lld "
                 "(the reweighting needs every draw of the scored events)",
                 path, g, s->info.n_draws_total, n, sum);
  if (st != DD_OK) {
    scan_scores_free(s);
    return DD_CONTEXT(st, "reading the %s scores", scan_bank_name(b));
  }
  return DD_OK;
}

/* ---------------------------------------------------------------- synthetic */

/* A bank of scan_synthetic_event records, each rank a block of rows. */
static dd_status synthetic_bank(const par_world *w, io_file *f, const phys_sampler *q,
                                const dd_sampler *smp, scan_bank b, uint32_t seed, long long n) {
  long long first, count;
  io_rows_split(n, w->rank, w->size, &first, &count);
  scan_score_record *rows = NULL;
  DD_TRY(
      dd_calloc((void **)&rows, (size_t)(count > 0 ? count : 1), sizeof *rows, "synthetic scores"),
      "bank %s", scan_bank_name(b));
  long long draws = 0, total = 0;
  for (long long i = 0; i < count; i++) {
    scan_synthetic_event(q, smp, b, seed, first + i, &rows[i]);
    draws += rows[i].attempts;
  }
  /* integer sum: exact in any order */
  MPI_Allreduce(&draws, &total, 1, MPI_LONG_LONG, MPI_SUM, w->comm);
  scan_bank_info info = {0.5, total, seed, "synthetic"};
  dd_status st = stage_scores_write(f, b, rows, count, &info);
  free(rows);
  return st;
}

dd_status stage_score_write_synthetic(const par_world *w, const phys_params *phys, uint32_t seed,
                                      long long n_er, long long n_nr, const char *dir,
                                      const char *config_text, uint64_t config_hash, int argc,
                                      char *const *argv) {
  if (n_er < 1 || n_nr < 1)
    return DD_FAIL(DD_ERR_ARG, "synthetic scores: %lld ER and %lld NR events", n_er, n_nr);
  char path[2048];
  DD_TRY(io_results_path(dir, -1, -1, path, sizeof path), "synthetic scores");
  const char *owned[] = {"/scores"};
  io_stage s = {.name = "score",
                .owned = owned,
                .n_owned = 1,
                .input_path = path,
                .output_path = path,
                .config_text = config_text,
                .config_hash = config_hash,
                .argc = argc,
                .argv = argv,
                .shard_index = -1,
                .shard_count = -1};
  io_file *f = NULL;
  DD_TRY(io_stage_begin(w, &s, &f, NULL), "synthetic scores");
  phys_sampler q_er, q_nr;
  memset(&q_er, 0, sizeof q_er);
  memset(&q_nr, 0, sizeof q_nr);
  dd_sampler *smp = NULL;
  /* every rank builds the same samplers from the same parameters */
  dd_status st = phys_sampler_init_er(&q_er, phys);
  if (st == DD_OK) st = phys_sampler_init_nr_ref(&q_nr, phys);
  if (st == DD_OK) st = dd_calloc((void **)&smp, 1, sizeof *smp, "synthetic sampler tables");
  if (st == DD_OK) dd_sampler_init(smp);
  st = par_agree(w, st);
  if (st == DD_OK) st = synthetic_bank(w, f, &q_er, smp, SCAN_BANK_ER, seed, n_er);
  if (st == DD_OK) st = synthetic_bank(w, f, &q_nr, smp, SCAN_BANK_NR, seed, n_nr);
  free(smp);
  if (st == DD_OK)
    st = io_attr_write_string(f, "/scores", "description",
                              "synthetic per-event scores (tests and benchmarks: toy detector, "
                              "Gaussian score components), not a simulation");
  phys_sampler_free(&q_er);
  phys_sampler_free(&q_nr);
  if (st != DD_OK) {
    io_file_close(&f);
    return DD_CONTEXT(st, "writing synthetic scores into '%s'", path);
  }
  return io_stage_commit(&f);
}
