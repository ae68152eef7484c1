/* scores.c - the /scores schema: the io_field table of scan_score_record, the
 * bank attributes, writing a bank (the score stage's side of the contract)
 * and reading it back with every check the scan relies on (docs/format.md). */
#include "ddscan/scan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const io_field scan_score_fields[] = {
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
};
const int scan_n_score_fields = (int)(sizeof scan_score_fields / sizeof scan_score_fields[0]);

static const char *const k_groups[SCAN_N_BANKS] = {"/scores/er", "/scores/nr"};
static const char *const k_names[SCAN_N_BANKS] = {"er", "nr"};
static const char *const k_units[SCAN_N_BANKS] = {"keVee", "keVnr"};
static const char *const k_sampler[SCAN_N_BANKS] = {"physics.er_background",
                                                    "physics.nr_reference"};
static const char *const k_rows[SCAN_N_BANKS] = {
    "event row in the scored ER (background) analysis split",
    "event row in the scored NR (signal reference) analysis split"};

const char *scan_bank_group(scan_bank b) {
  return b >= 0 && b < SCAN_N_BANKS ? k_groups[b] : "?";
}

const char *scan_bank_name(scan_bank b) {
  return b >= 0 && b < SCAN_N_BANKS ? k_names[b] : "?";
}

dd_status scan_scores_write(io_file *f, scan_bank b, const scan_score_record *rows,
                            long long n_local, const scan_bank_info *info) {
  if (b < 0 || b >= SCAN_N_BANKS) return DD_FAIL(DD_ERR_ARG, "scores: bank %d", (int)b);
  const char *g = k_groups[b];
  DD_TRY(io_table_write(f, g, scan_score_fields, scan_n_score_fields, k_rows[b], rows, sizeof *rows,
                        n_local),
         "writing the %s scores", k_names[b]);
  DD_TRY(io_attr_write_double(f, g, "beta", info->beta), "scores '%s'", g);
  DD_TRY(io_attr_write_int(f, g, "n_draws_total", info->n_draws_total), "scores '%s'", g);
  DD_TRY(io_attr_write_int(f, g, "seed", info->seed), "scores '%s'", g);
  DD_TRY(io_attr_write_string(f, g, "detector_preset", info->detector_preset), "scores '%s'", g);
  DD_TRY(io_attr_write_string(f, g, "energy_units", k_units[b]), "scores '%s'", g);
  DD_TRY(io_attr_write_string(f, g, "energy_sampler", k_sampler[b]), "scores '%s'", g);
  DD_TRY(
      io_attr_write_string(
          f, g, "description",
          b == SCAN_BANK_ER
              ? "per-event scores of the ER (background) analysis events; weights "
                "w = ER rate(E)/q_er(E)/n_draws_total"
              : "per-event scores of the NR analysis events drawn from the reference "
                "spectrum q(E); weights for a WIMP of mass m: w = dR/dE_m(E)/q(E)/n_draws_total"),
      "scores '%s'", g);
  return DD_OK;
}

void scan_scores_free(scan_scores *s) {
  if (!s) return;
  free(s->rows);
  memset(s, 0, sizeof *s);
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
static const char *row_problem(const scan_score_record *r) {
  if (!isfinite(r->l_rec)) return "l_rec is not finite";
  if (!isfinite(r->kl)) return "kl is not finite";
  if (!(r->h_b >= 0.0) || isinf(r->h_b)) return "h_b is not finite and >= 0";
  if (isnan(r->logit)) return "logit is NaN";
  if (!isfinite(r->cs1)) return "cs1 is not finite";
  if (!isfinite(r->cs2)) return "cs2 is not finite";
  if (!(r->energy_kev >= 0.0) || isinf(r->energy_kev)) return "energy_kev is not finite and >= 0";
  if (r->attempts < 1) return "attempts is < 1";
  return NULL;
}

dd_status scan_scores_read(io_file *f, scan_bank b, scan_scores *s) {
  memset(s, 0, sizeof *s);
  if (b < 0 || b >= SCAN_N_BANKS) return DD_FAIL(DD_ERR_ARG, "scores: bank %d", (int)b);
  const char *g = k_groups[b], *path = io_file_disk_path(f);
  if (!io_exists(f, "/scores"))
    return DD_FAIL(DD_ERR_IO,
                   "'%s' has no /scores (the per-event scores of the analysis split); %s", path,
                   SCORE_HINT);
  if (!io_exists(f, g))
    return DD_FAIL(DD_ERR_IO, "'%s' has no %s (the %s bank's scores); %s", path, g, k_names[b],
                   SCORE_HINT);
  char ds[IO_PATH_MAX];
  for (int i = 0; i < scan_n_score_fields; i++) {
    snprintf(ds, sizeof ds, "%s/%s", g, scan_score_fields[i].path);
    if (!io_exists(f, ds))
      return DD_FAIL(DD_ERR_IO, "'%s' has no dataset %s (%s); %s", path, ds,
                     scan_score_fields[i].description, SCORE_HINT);
  }
  static const char *const attrs[] = {"beta", "n_draws_total", "seed", "detector_preset"};
  for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
    DD_TRY(need_attr(f, g, attrs[i]), "reading the %s scores", k_names[b]);
  DD_TRY(check_string_attr(f, g, "energy_units", k_units[b]), "reading the %s scores", k_names[b]);
  DD_TRY(check_string_attr(f, g, "energy_sampler", k_sampler[b]), "reading the %s scores",
         k_names[b]);
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
  DD_TRY(io_table_length(f, g, scan_score_fields, scan_n_score_fields, &n), "'%s': %s", path, g);
  if (n < 1) return DD_FAIL(DD_ERR_IO, "'%s': %s holds no events; %s", path, g, SCORE_HINT);
  DD_TRY(dd_calloc((void **)&s->rows, (size_t)n, sizeof *s->rows, "scores"), "bank %s", k_names[b]);
  s->n = n;
  dd_status st =
      io_table_read(f, g, scan_score_fields, scan_n_score_fields, 0, n, s->rows, sizeof *s->rows);
  long long sum = 0;
  for (long long i = 0; st == DD_OK && i < n; i++) {
    const char *why = row_problem(&s->rows[i]);
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
    return DD_CONTEXT(st, "reading the %s scores", k_names[b]);
  }
  return DD_OK;
}
