/* run.c - the scan stage: reads /scores, computes the bank weights (ER
 * background; NR reweighted per mass through physics, with its effective
 * sample size), writes the grid axes, the method conventions, /spectra and
 * every dataset up front, hands the (mass, R) work units out from rank 0
 * (unit.c computes one), then the R band (band.c) and the commit.
 * Layout: docs/format.md; the reweighting: docs/physics.md §8. */
#define _POSIX_C_SOURCE 200809L
#include "scan_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h> /* uses: MPI_Allreduce, MPI_Bcast */

static const char *const k_unit_axes[2] = {"/axes/mass_gev", "/axes/r"};

/* ------------------------------------------------------------------ events */

void scan_mass_weights(const scan_state *s, int im, double *w) {
  const scan_job *j = s->job;
  phys_weights_nr(j->phys, &s->q_nr, j->grid->mass_gev[im], j->phys->sigma_ref_cm2, s->nr_e,
                  (size_t)s->n_nr, w);
  for (long i = 0; i < s->n_nr; i++) w[i] /= s->nr_draws;
}

static dd_status alloc_doubles(double **p, long n, const char *what) {
  return dd_calloc((void **)p, (size_t)(n > 0 ? n : 1), sizeof(double), what);
}

/* From both banks (every rank holds all rows) fills the per-event arrays: TS components, (cS1,
 * cS2), ER weights and, when the NR background is a nuisance, the NR-background weights. */
static dd_status events_load(scan_state *s, const scan_scores *er, const scan_scores *nr,
                             const scan_scores *sg) {
  const scan_job *j = s->job;
  s->n_er = (long)er->n;
  s->n_nr = (long)nr->n;
  double **er_arr[] = {&s->er_ltot, &s->er_hb, &s->er_w, &s->er_cs1, &s->er_cs2};
  double **nr_arr[] = {&s->nr_ltot, &s->nr_hb, &s->nr_e, &s->nr_cs1, &s->nr_cs2, &s->nr_w_sig};
  for (size_t k = 0; k < sizeof er_arr / sizeof er_arr[0]; k++)
    DD_TRY(alloc_doubles(er_arr[k], s->n_er, "ER events"), "scan");
  for (size_t k = 0; k < sizeof nr_arr / sizeof nr_arr[0]; k++)
    DD_TRY(alloc_doubles(nr_arr[k], s->n_nr, "NR events"), "scan");
  phys_sampler q_er;
  memset(&q_er, 0, sizeof q_er);
  DD_TRY(phys_sampler_init_er(&q_er, j->phys), "ER bank sampler");
  double er_draws = (double)er->info.n_draws_total;
  for (long i = 0; i < s->n_er; i++) {
    const scan_score_record *r = &er->rows[i];
    s->er_ltot[i] = stats_lrec(r->l_rec, r->kl, er->info.beta);
    s->er_hb[i] = r->h_b;
    s->er_cs1[i] = r->cs1;
    s->er_cs2[i] = r->cs2;
    /* times the importance weight of the biased ER tail (docs/detector.md §11) */
    s->er_w[i] = phys_weight_er(j->phys, &q_er, r->energy_kev) / er_draws * r->weight;
  }
  phys_sampler_free(&q_er);
  DD_TRY(phys_sampler_init_nr_ref(&s->q_nr, j->phys), "NR reference sampler");
  s->nr_draws = (double)nr->info.n_draws_total;
  for (long i = 0; i < s->n_nr; i++) {
    const scan_score_record *r = &nr->rows[i];
    s->nr_ltot[i] = stats_lrec(r->l_rec, r->kl, nr->info.beta);
    s->nr_hb[i] = r->h_b;
    s->nr_e[i] = r->energy_kev;
    s->nr_cs1[i] = r->cs1;
    s->nr_cs2[i] = r->cs2;
  }
  s->sig_mass = -1;
  if (sg) { /* a non-WIMP signal: weight 1/n_draws at 1 interaction per t*y */
    s->n_sg = (long)sg->n;
    double **sg_arr[] = {&s->sg_ltot, &s->sg_hb, &s->sg_cs1, &s->sg_cs2, &s->sg_w};
    for (size_t k = 0; k < sizeof sg_arr / sizeof sg_arr[0]; k++)
      DD_TRY(alloc_doubles(sg_arr[k], s->n_sg, "signal events"), "scan");
    const double draws = (double)sg->info.n_draws_total;
    for (long i = 0; i < s->n_sg; i++) {
      const scan_score_record *r = &sg->rows[i];
      s->sg_ltot[i] = stats_lrec(r->l_rec, r->kl, sg->info.beta);
      s->sg_hb[i] = r->h_b;
      s->sg_cs1[i] = r->cs1;
      s->sg_cs2[i] = r->cs2;
      s->sg_w[i] = r->weight / draws;
    }
  }
  if (s->nr_bkg) {
    DD_TRY(alloc_doubles(&s->nr_w_bg, s->n_nr, "NR background weights"), "scan");
    for (long i = 0; i < s->n_nr; i++)
      s->nr_w_bg[i] = phys_weight_nr_bg(j->phys, &s->q_nr, s->nr_e[i]) / s->nr_draws;
  }
  return DD_OK;
}

/* Effective NR sample size and accepted signal rate per mass: rank r does the
 * masses im = r (mod size); the others add exact zeros, so the sums are the
 * owner's bits whatever the rank count. */
static dd_status mass_summary(scan_state *s, double *ess, double *rate) {
  const scan_params *g = s->job->grid;
  int n = g->n_mass;
  double *loc = NULL, *tot = NULL;
  DD_TRY(alloc_doubles(&loc, 3L * n, "mass summary"), "scan");
  dd_status st = alloc_doubles(&tot, 3L * n, "mass summary");
  for (int im = s->w->rank; st == DD_OK && im < n; im += s->w->size) {
    const double *w = s->nr_w_sig;
    long nw = s->n_nr;
    if (s->n_sg > 0) { /* the signal sample: one point, its acceptance at 1/(t*y) */
      w = s->sg_w;
      nw = s->n_sg;
    } else {
      scan_mass_weights(s, im, s->nr_w_sig);
    }
    double sw = 0.0, sw2 = 0.0;
    for (long i = 0; i < nw; i++) {
      sw += w[i];
      sw2 += w[i] * w[i];
    }
    loc[im] = sw;
    loc[n + im] = sw2;
    loc[2 * n + im] = phys_effective_sample_size(w, (size_t)nw);
  }
  s->sig_mass = -1;
  st = par_agree(s->w, st);
  if (st == DD_OK) {
    MPI_Allreduce(loc, tot, 3 * n, MPI_DOUBLE, MPI_SUM, s->w->comm);
    for (int im = 0; im < n; im++) {
      rate[im] = tot[im];
      ess[im] = tot[2 * n + im];
    }
  }
  free(loc);
  free(tot);
  return st;
}

/* ------------------------------------------------------------------ layout */

/* Creates the rows [first, last) of the schema that this scan has (the
 * per-unit rows the state enabled, every other row). */
static dd_status create_rows(scan_state *s, int first, int last) {
  for (int k = first; k < last; k++) {
    if (k < UD_N && s->ud_k[k] < 0) continue;
    DD_TRY(io_spec_create(s->f, &scan_datasets[k]), "scan layout");
  }
  return DD_OK;
}

static const char *k_conventions =
    "paper: chi^2_P = sum_i (b_i - n_i)^2/(b_i + n_i) between the background-only and the "
    "background+signal Asimov TS histograms (arXiv:2110.12248 Eq. 12; see paper_bkg); "
    "p = erfc(sqrt(chi^2_P/2)), chi^2 with 1 dof (Eq. 13, a two-sided normal tail); "
    "z = Phibar^-1(p) (one-sided label); 5 sigma at chi^2_P = paper_threshold.\n"
    "sound: q0,A = -2 ln lambda(0) of the binned profile likelihood on the Asimov data "
    "(Cowan et al. 2011), one-sided (q0 = 0 when mu_hat <= 0), nuisances er_norm, mc_stat (full "
    "Barlow-Beeston: the ER, NR and signal templates of each bin constrained by Poisson auxiliary "
    "counts, their effective MC counts (sum w)^2/sum w^2), "
    "nr_bkg as set; p = Phibar(sqrt(q0,A)) (half chi^2_1 null); z = sqrt(q0,A), the median Z "
    "under the signal; 5 sigma at q0,A = 25 (a 50 % chance of a 5-sigma discovery).\n"
    "toys: p = P(q0 >= q0,A | H0) from toys_count pseudo-experiments per point (importance "
    "sampled in the tail when toys_importance); z = Phibar^-1(p); 5 sigma where the median q0 "
    "under the signal reaches the toy-calibrated 5-sigma threshold.\n"
    "classical: the sound engine on the (cS1, log10 cS2/cS1) histogram of the same events; it "
    "does not depend on R (its R slices are equal).";

static const char *k_limit_conventions =
    "upper limits at CL = limit_cl from the one-sided q~mu of Cowan, Cranmer, Gross, Vitells, "
    "EPJC 71 (2011) 1554, eq. 16, under each method's nuisance model; expected limits: the "
    "median and the +-1/2 sigma quantiles of the background-only distribution. limit_clsb: "
    "CLs+b (reject mu when p_mu <= 1 - CL); sound and classical asymptotic: band N is the mu "
    "with sqrt(q~mu,A) = Phi^-1(CL) + N on the background-only Asimov data (eqs. 32, 89-90; "
    "N = -2 at 90 % CL is negative: -0.72 sigma(mu_med), spurious exclusion); toys: the "
    "Phi(N) quantile of the toy limits, where the toy power P(q~mu >= qcrit(mu) | 0) crosses "
    "Phi(N) (0 below the toy grid), MC error in limit_clsb_err. limit_cls: CLs = p_mu/(1 - p_b), "
    "asymptotic, z_N = Phi^-1(1 - (1 - CL) Phi(N)) + N. power_constraint > 0: CLs+b bands below "
    "the mu of that power are raised to it (Cowan et al. arXiv:1105.3166; 0.1587 = the -1 sigma "
    "rule; 0 = off). paper: no likelihood, NaN.";

static dd_status write_conventions(scan_state *s, const scan_scores *er, const scan_scores *nr,
                                   const char *score_hash, double bkg_rate) {
  const scan_job *j = s->job;
  const stats_params *p = j->stats;
  io_file *f = s->f;
  char methods[128] = "";
  for (int i = 0; i < j->grid->n_methods; i++) {
    size_t len = strlen(methods);
    snprintf(methods + len, sizeof methods - len, "%s%s", i ? ", " : "",
             stats_method_name(j->grid->methods[i]));
  }
  struct {
    const char *name, *value;
  } strs[] = {
      {"description",
       "discovery p-values and significances per method, WIMP mass, cross-section, exposure and "
       "R, with the work-unit mask; every method's convention is in `conventions`"},
      {"methods", methods},
      {"conventions", k_conventions},
      {"paper_bkg", p->paper_bkg == STATS_PAPER_SHARED ? "shared" : "independent"},
      {"five_sigma", p->five_sigma == STATS_FIVE_P_ONE_SIDED ? "p_one_sided" : "chi2_25"},
      {"ts_binning", p->binning.rule == STATS_BIN_UNIFORM ? "uniform" : "quantile"},
      {"zero_bkg", p->zero_bkg == STATS_ZERO_BKG_FLOOR ? "floor" : "error"},
      {"scores_config_hash", score_hash},
      {"detector_preset", er->info.detector_preset},
  };
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
    DD_TRY(io_attr_write_string(f, "/scan", strs[i].name, strs[i].value), "scan attributes");
  struct {
    const char *name;
    double value;
  } nums[] = {
      {"sigma_ref_cm2", j->phys->sigma_ref_cm2},
      {"paper_threshold", stats_threshold5(p, STATS_METHOD_PAPER)},
      {"q0_threshold", stats_threshold5(p, STATS_METHOD_SOUND)},
      {"er_norm_width", p->nuis.er_norm ? p->nuis.er_norm_width : 0.0},
      {"nr_bkg_width", p->nuis.nr_bkg ? p->nuis.nr_bkg_width : 0.0},
      {"background_rate", bkg_rate},
      {"beta_er", er->info.beta},
      {"beta_nr", nr->info.beta},
      {"mc_ratio_min", p->mc_ratio_min},
  };
  for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
    DD_TRY(io_attr_write_double(f, "/scan", nums[i].name, nums[i].value), "scan attributes");
  struct {
    const char *name;
    long long value;
  } ints[] = {
      {"ts_bins", p->binning.bins},
      {"er_norm", p->nuis.er_norm},
      {"mc_stat", p->nuis.mc_stat},
      {"nr_bkg", p->nuis.nr_bkg},
      {"toys_count", p->toys},
      {"toys_importance", p->toys_importance},
      {"seed", j->seed},
      {"n_er_events", er->n},
      {"n_nr_events", nr->n},
  };
  for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
    DD_TRY(io_attr_write_int(f, "/scan", ints[i].name, ints[i].value), "scan attributes");
  DD_TRY(io_attr_write_string(f, "/contours", "description",
                              "5-sigma discovery and 3-sigma evidence contours sigma5(E), "
                              "sigma3(E) per method, mass and R, their R band (spec §6.5), and "
                              "the expected upper limits (limit_clsb, limit_cls) with their bands"),
         "contour attributes");
  DD_TRY(io_attr_write_double(f, "/contours", "limit_cl", p->limit_cl), "contour attributes");
  DD_TRY(io_attr_write_double(f, "/contours", "power_constraint", p->limit_power_min),
         "contour attributes");
  DD_TRY(io_attr_write_string(f, "/contours", "limit_conventions", k_limit_conventions),
         "contour attributes");
  DD_TRY(io_attr_write_double(f, "/contours", "r_band_lo", p->r_band[0]), "contour attributes");
  DD_TRY(io_attr_write_double(f, "/contours", "r_band_hi", p->r_band[1]), "contour attributes");
  DD_TRY(io_attr_write_string(f, "/templates", "description",
                              "Asimov templates of every unit: expected events per t*y per bin "
                              "(background; signal at sigma_ref), sums of squared weights, bin "
                              "edges; b_i = E beta_i, s_i = E (sigma/sigma_ref) alpha_i"),
         "template attributes");
  DD_TRY(io_attr_write_double(f, "/templates", "sigma_ref_cm2", j->phys->sigma_ref_cm2),
         "template attributes");
  return DD_OK;
}

/* /spectra: dR/dE at sigma_ref for the scan's masses and the backgrounds,
 * on its own axes (a stage keeps its scales inside its groups). */
static dd_status write_spectra(scan_state *s) {
  const scan_job *j = s->job;
  io_file *f = s->f;
  phys_spectra sp;
  memset(&sp, 0, sizeof sp);
  /* the configured masses (a non-WIMP scan has one mass point, 0: none) */
  const scan_params *mg = j->wimp_grid ? j->wimp_grid : j->grid;
  dd_status st = phys_spectra_init(&sp, j->phys, mg->mass_gev, (size_t)mg->n_mass);
  st = par_agree(s->w, st);
  if (st != DD_OK) return DD_CONTEXT(st, "/spectra");
  long long nm = (long long)sp.n_mass, ne = (long long)sp.n_energy;
  const char *am = "/spectra/mass_gev", *ae = "/spectra/e_kev";
  const void *r0 = NULL; /* rank 0 passes the data */
  int root = s->w->rank == 0;
  st = io_axis_write(f, am, IO_F64, nm, sp.mass_gev, "GeV/c^2", "WIMP mass of the spectra");
  if (st == DD_OK)
    st = io_axis_write(f, ae, IO_F64, ne, sp.e_kev, "keV",
                       "recoil energy (keVnr for WIMP and NR background, keVee for ER)");
  if (st == DD_OK) st = create_rows(s, SD_SPECTRA_DRDE, SD_N);
  if (st == DD_OK) st = io_write_root(f, "/spectra/dRdE", IO_F64, root ? sp.dRdE : r0);
  if (st == DD_OK)
    st = io_write_root(f, "/spectra/endpoint_kev", IO_F64, root ? sp.endpoint_kev : r0);
  if (st == DD_OK)
    st = io_write_root(f, "/spectra/counts_window", IO_F64, root ? sp.counts_window : r0);
  if (st == DD_OK) st = io_write_root(f, "/spectra/er_dRdE", IO_F64, root ? sp.er_dRdE : r0);
  if (st == DD_OK) st = io_write_root(f, "/spectra/nr_bg_dRdE", IO_F64, root ? sp.nr_bg_dRdE : r0);
  if (st == DD_OK)
    st = io_attr_write_string(f, "/spectra", "description",
                              "WIMP and background recoil spectra of the scan's masses "
                              "(docs/physics.md)");
  if (st == DD_OK) st = io_attr_write_double(f, "/spectra", "sigma_cm2", sp.sigma_cm2);
  if (st == DD_OK) st = io_attr_write_doubles(f, "/spectra", "window_kev", sp.window_kev, 2);
  if (st == DD_OK)
    st = io_attr_write_double(f, "/spectra", "er_counts_window", sp.er_counts_window);
  if (st == DD_OK)
    st = io_attr_write_double(f, "/spectra", "nr_bg_counts_window", sp.nr_bg_counts_window);
  phys_spectra_free(&sp);
  return st;
}

/* What the classical templates were built from (/templates/classical attributes). */
static dd_status classical_attrs(scan_state *s) {
  io_file *f = s->f;
  const char *g = "/templates/classical";
  const char *src = s->cl_mc_on ? "detector_mc" : "scores";
  DD_TRY(io_attr_write_string(f, g, "source", src), "classical template attributes");
  DD_TRY(
      io_attr_write_string(
          f, g, "source_description",
          s->cl_mc_on ? "own detector-level MC (stats.classical.mc_events ER and NR events, stream "
                        "DD_STREAM_CLASSICAL_MC; energy -> quanta -> cS1, cS2 with the banks' "
                        "acceptance and ROI, no images); NR reweighted per mass and to the NR "
                        "backgrounds as the scored NR events"
                      : "the scored analysis events of /scores/er and /scores/nr"),
      "classical template attributes");
  long long n_er = s->cl_mc_on ? s->cl_n_er : s->n_er, n_nr = s->cl_mc_on ? s->cl_n_nr : s->n_nr;
  DD_TRY(io_attr_write_int(f, g, "n_er_events", n_er), "classical template attributes");
  DD_TRY(io_attr_write_int(f, g, "n_nr_events", n_nr), "classical template attributes");
  DD_TRY(io_attr_write_int(f, g, "n_er_draws", s->cl_mc_on ? s->cl_er_draws : 0),
         "classical template attributes");
  DD_TRY(io_attr_write_int(f, g, "n_nr_draws", s->cl_mc_on ? s->cl_nr_draws : 0),
         "classical template attributes");
  return DD_OK;
}

/* What the signal axis is: /scan attributes signal_model, signal_units,
 * signal_ref (and signal_energy_kev for the line); for a non-WIMP model the
 * units attribute of every dataset in signal-axis units says so too. */
static dd_status write_signal_attrs(scan_state *s) {
  const scan_params *g = s->job->grid;
  const int wimp = g->signal_model == SCAN_SIGNAL_WIMP;
  const char *units = wimp ? "cm^2" : SCAN_RATE_UNITS;
  io_file *f = s->f;
  DD_TRY(io_attr_write_string(f, "/scan", "signal_model", scan_signal_name(g->signal_model)),
         "signal attributes");
  DD_TRY(io_attr_write_string(f, "/scan", "signal_units", units), "signal attributes");
  DD_TRY(io_attr_write_double(f, "/scan", "signal_ref", s->sig_ref), "signal attributes");
  DD_TRY(io_attr_write_double(f, "/scan", "signal_energy_kev",
                              g->signal_model == SCAN_SIGNAL_ER_LINE ? g->signal_energy_kev : NAN),
         "signal attributes");
  DD_TRY(io_attr_write_int(f, "/scan", "n_signal_events", s->n_sg), "signal attributes");
  if (wimp) return DD_OK;
  static const char *const in_signal_units[] = {
      "/contours/sigma5",     "/contours/sigma3",    "/contours/sigma5_err",
      "/contours/limit_clsb", "/contours/limit_cls", "/contours/limit_clsb_err",
      "/contours/band_lo",    "/contours/band_hi",   "/contours/sigma5_best_r"};
  for (size_t i = 0; i < sizeof in_signal_units / sizeof in_signal_units[0]; i++)
    if (io_exists(f, in_signal_units[i]))
      DD_TRY(io_attr_write_string(f, in_signal_units[i], "units", units), "%s", in_signal_units[i]);
  DD_TRY(io_attr_write_string(f, "/scan/signal_rate", "units", "1"), "signal attributes");
  DD_TRY(io_attr_write_string(f, "/scan/signal_rate", "description",
                              "the signal's detector acceptance: accepted events per t*y at 1 "
                              "interaction per t*y (sum of the signal sample's weights)"),
         "signal attributes");
  return DD_OK;
}

static dd_status write_layout(scan_state *s, const scan_scores *er, const scan_scores *nr,
                              const char *score_hash) {
  const scan_job *j = s->job;
  const scan_params *g = j->grid;
  io_file *f = s->f;
  const char *names[STATS_N_METHODS];
  for (int i = 0; i < g->n_methods; i++) names[i] = stats_method_name(g->methods[i]);
  DD_TRY(io_axis_write_labels(
             f, "/axes/analysis", g->n_methods, names,
             "statistical method of the analysis (scan.methods; conventions: /scan attributes)"),
         "scan axes");
  const int wimp = g->signal_model == SCAN_SIGNAL_WIMP;
  char mdesc[160], sdesc[200];
  snprintf(mdesc, sizeof mdesc,
           "WIMP mass; signal.model = \"%s\" has none: one point, 0 (not a mass)",
           scan_signal_name(g->signal_model));
  snprintf(sdesc, sizeof sdesc,
           "signal rate of signal.model = \"%s\": interactions per t*y before the detector "
           "acceptance (the /contours values of this scan are rates in these units)",
           scan_signal_name(g->signal_model));
  DD_TRY(io_axis_write(f, "/axes/mass_gev", IO_F64, g->n_mass, g->mass_gev, "GeV/c^2",
                       wimp ? "WIMP mass" : mdesc),
         "scan axes");
  DD_TRY(io_axis_write(f, "/axes/sigma_cm2", IO_F64, g->n_sigma, g->sigma_cm2,
                       wimp ? "cm^2" : SCAN_RATE_UNITS,
                       wimp ? "SI WIMP-nucleon cross-section" : sdesc),
         "scan axes");
  DD_TRY(io_axis_write(f, "/axes/exposure_ty", IO_F64, g->n_exposure, g->exposure_ty, "t*y",
                       "exposure (fiducial mass x live time)"),
         "scan axes");
  DD_TRY(io_axis_write(f, "/axes/r", IO_F64, g->n_r, g->r, "1",
                       "supervision weight R of TS = L_CVAE + R*H_B"),
         "scan axes");
  const double bands[STATS_N_BAND] = {-2.0, -1.0, 0.0, 1.0, 2.0};
  DD_TRY(io_axis_write(f, "/axes/band", IO_F64, STATS_N_BAND, bands, "1",
                       "band of an expected limit in standard deviations of its background-only "
                       "distribution (0: the median)"),
         "scan axes");
  DD_TRY(io_axis_write_index(f, "/templates/ts/bin", s->ts_kmax, "TS bin index (0-based)"),
         "scan axes");
  DD_TRY(
      io_axis_write_index(f, "/templates/ts/edge", s->ts_kmax + 1, "TS bin edge index (0-based)"),
      "scan axes");
  if (s->has_classical) {
    DD_TRY(
        io_axis_write_index(f, "/templates/classical/cs1_bin", s->cl_nx, "cS1 bin index (0-based)"),
        "scan axes");
    DD_TRY(io_axis_write_index(f, "/templates/classical/cs1_edge", s->cl_nx + 1,
                               "cS1 bin edge index (0-based)"),
           "scan axes");
    DD_TRY(io_axis_write_index(f, "/templates/classical/y_bin", s->cl_ny,
                               "log10(cS2/cS1) bin index within a cS1 slice (0-based)"),
           "scan axes");
    DD_TRY(io_axis_write_index(f, "/templates/classical/y_edge", s->cl_ny + 1,
                               "log10(cS2/cS1) bin edge index (0-based)"),
           "scan axes");
  }
  DD_TRY(create_rows(s, 0, SD_SPECTRA_DRDE), "scan layout");
  if (s->has_classical) DD_TRY(classical_attrs(s), "scan layout");
  long long nm = g->n_mass;
  double bkg_rate = 0.0;
  for (long i = 0; i < s->n_er; i++) bkg_rate += s->er_w[i];
  DD_TRY(write_conventions(s, er, nr, score_hash, bkg_rate), "scan layout");
  DD_TRY(write_signal_attrs(s), "scan layout");
  DD_TRY(write_spectra(s), "scan layout");

  double *ess = NULL, *rate = NULL;
  DD_TRY(alloc_doubles(&ess, nm, "ESS"), "scan");
  dd_status st = alloc_doubles(&rate, nm, "signal rate");
  if (st == DD_OK) st = mass_summary(s, ess, rate);
  int root = s->w->rank == 0;
  if (st == DD_OK) st = io_write_root(f, "/scan/effective_events", IO_F64, root ? ess : NULL);
  if (st == DD_OK) st = io_write_root(f, "/scan/signal_rate", IO_F64, root ? rate : NULL);
  if (st == DD_OK) {
    dd_info("scan: %ld ER events (%.4g background events per t*y), %ld NR events", s->n_er,
            bkg_rate, s->n_nr);
    for (long long im = 0; s->n_sg > 0 && im < nm; im++)
      dd_info(
          "scan: %s signal: acceptance %.4g (accepted events per t*y at 1 interaction per "
          "t*y), %ld events",
          scan_signal_name(g->signal_model), rate[im], s->n_sg);
    for (long long im = 0; s->n_sg == 0 && im < nm; im++) {
      dd_info(
          "scan: %g GeV: %.4g signal events per t*y at %g cm^2, effective sample size %.0f "
          "of %ld NR events",
          g->mass_gev[im], rate[im], j->phys->sigma_ref_cm2, ess[im], s->n_nr);
      if (ess[im] < g->min_effective_events && s->w->rank == 0)
        dd_warn(
            "scan: %g GeV: effective sample size %.0f < scan.min_effective_events = %g: its "
            "signal templates rest on few NR events (simulate more, or put a "
            "physics.nr_reference mass near it)",
            g->mass_gev[im], ess[im], g->min_effective_events);
    }
  }
  free(ess);
  free(rate);
  return st;
}

/* ------------------------------------------------------------------ state */

static dd_status state_init(scan_state *s) {
  const scan_job *j = s->job;
  const scan_params *g = j->grid;
  const stats_params *p = j->stats;
  for (int k = 0; k < UD_N; k++) s->ud_k[k] = -1;
  s->cl_mass = -1;
  for (int i = 0; i < g->n_methods; i++) {
    if (g->methods[i] == STATS_METHOD_CLASSICAL) s->has_classical = 1, s->cl_slot = i;
    if (g->methods[i] == STATS_METHOD_TOYS) s->has_toys = 1;
  }
  s->nr_bkg = p->nuis.nr_bkg;
  s->ts_kmax = p->binning.bins + 2;
  s->cl_nx = p->classical.cs1_bins;
  s->cl_ny =
      p->classical.y_rule == STATS_BIN_QUANTILE ? p->classical.y_bins : p->classical.y_bins + 2;
  s->n_points = (long long)g->n_mass * g->n_sigma * g->n_exposure * g->n_r;
  if (s->has_toys && s->n_points + 2 * scan_n_units(g) > (long long)UINT32_MAX)
    return DD_FAIL(DD_ERR_CONFIG,
                   "scan grid of %lld points is too large for the toy streams (at most 2^32 "
                   "points with method \"toys\")",
                   s->n_points);
  /* io_units numbers the per-unit datasets it is given 0, 1, ...: ud_k maps
   * a schema row to that number (-1 for rows this scan does not have) */
  int n = 0;
  for (int k = 0; k < UD_N; k++)
    if (scan_dataset_enabled(&scan_datasets[k], s->has_classical, s->nr_bkg)) s->ud_k[k] = n++;
  int kmax = s->ts_kmax;
  if (s->has_classical && s->cl_nx * s->cl_ny > kmax) kmax = s->cl_nx * s->cl_ny;
  DD_TRY(stats_work_init(&s->work, kmax, s->has_toys ? p->toys : 0), "scan workspace");
  long long nmse = (long long)g->n_methods * g->n_sigma * g->n_exposure;
  long long nme = (long long)g->n_methods * g->n_exposure;
  DD_TRY(alloc_doubles(&s->p, nmse, "unit p-values"), "scan");
  DD_TRY(alloc_doubles(&s->z, nmse, "unit Z"), "scan");
  DD_TRY(alloc_doubles(&s->logp, nmse, "unit log p"), "scan");
  DD_TRY(alloc_doubles(&s->perr, nmse, "unit toy p errors"), "scan");
  for (long long i = 0; i < nmse; i++) s->perr[i] = NAN;
  DD_TRY(alloc_doubles(&s->sig5, nme, "unit contours"), "scan");
  DD_TRY(dd_calloc((void **)&s->flags, (size_t)nme, sizeof *s->flags, "unit flags"), "scan");
  DD_TRY(alloc_doubles(&s->mcr, nme, "unit MC-to-data ratios"), "scan");
  DD_TRY(alloc_doubles(&s->mu5, g->n_exposure, "unit contour"), "scan");
  DD_TRY(alloc_doubles(&s->sig3, nme, "unit 3-sigma contours"), "scan");
  DD_TRY(alloc_doubles(&s->sig5err, nme, "unit contour errors"), "scan");
  DD_TRY(alloc_doubles(&s->err_e, g->n_exposure, "unit contour errors"), "scan");
  for (long long i = 0; i < nme; i++) s->sig5err[i] = NAN;
  DD_TRY(dd_calloc((void **)&s->flags3, (size_t)nme, sizeof *s->flags3, "unit flags"), "scan");
  DD_TRY(alloc_doubles(&s->lim, 3 * nme * STATS_N_BAND, "unit limits"), "scan");
  DD_TRY(dd_calloc((void **)&s->lim_flags, (size_t)nme, sizeof *s->lim_flags, "unit limit flags"),
         "scan");
  DD_TRY(alloc_doubles(&s->lim_mu, 3L * g->n_exposure * STATS_N_BAND, "unit limits"), "scan");
  DD_TRY(dd_calloc((void **)&s->lim_uflags, (size_t)g->n_exposure, sizeof *s->lim_uflags,
                   "unit limit flags"),
         "scan");
  DD_TRY(dd_calloc((void **)&s->uflags, (size_t)g->n_exposure, sizeof *s->uflags, "unit flags"),
         "scan");
  DD_TRY(alloc_doubles(&s->ts_buf, 7L * (s->ts_kmax + 1), "TS template"), "scan");
  DD_TRY(dd_calloc((void **)&s->ts_mc, (size_t)s->ts_kmax, sizeof *s->ts_mc, "TS template"),
         "scan");
  if (s->has_classical) {
    long nxy = (long)s->cl_nx * s->cl_ny;
    DD_TRY(alloc_doubles(&s->cl_buf, (s->cl_nx + 1) + (long)s->cl_nx * (s->cl_ny + 1) + 6 * nxy,
                         "classical template"),
           "scan");
    DD_TRY(dd_calloc((void **)&s->cl_mc, (size_t)nxy, sizeof *s->cl_mc, "classical template"),
           "scan");
    DD_TRY(alloc_doubles(&s->cl_cache, (3L * g->n_sigma + 3 + 3 * STATS_N_BAND) * g->n_exposure,
                         "classical cache"),
           "scan");
    DD_TRY(dd_calloc((void **)&s->cl_cache_flags, 3 * (size_t)g->n_exposure,
                     sizeof *s->cl_cache_flags, "classical cache"),
           "scan");
  }
  return DD_OK;
}

static void state_free(scan_state *s) {
  double **arr[] = {&s->er_ltot,   &s->er_hb,     &s->er_w,      &s->er_cs1,      &s->er_cs2,
                    &s->nr_ltot,   &s->nr_hb,     &s->nr_e,      &s->nr_cs1,      &s->nr_cs2,
                    &s->nr_w_sig,  &s->nr_w_bg,   &s->p,         &s->z,           &s->logp,
                    &s->sig5,      &s->mu5,       &s->ts_buf,    &s->cl_buf,      &s->cl_cache,
                    &s->mcr,       &s->sig3,      &s->lim,       &s->lim_mu,      &s->perr,
                    &s->sig5err,   &s->err_e,     &s->cl_er_cs1, &s->cl_er_cs2,   &s->cl_er_w,
                    &s->cl_nr_cs1, &s->cl_nr_cs2, &s->cl_nr_e,   &s->cl_nr_w_sig, &s->cl_nr_w_bg};
  for (size_t k = 0; k < sizeof arr / sizeof arr[0]; k++) {
    free(*arr[k]);
    *arr[k] = NULL;
  }
  double **sg_arr[] = {&s->sg_ltot, &s->sg_hb, &s->sg_cs1, &s->sg_cs2, &s->sg_w};
  for (size_t k = 0; k < sizeof sg_arr / sizeof sg_arr[0]; k++) {
    free(*sg_arr[k]);
    *sg_arr[k] = NULL;
  }
  free(s->flags);
  free(s->uflags);
  free(s->flags3);
  free(s->lim_flags);
  free(s->lim_uflags);
  s->flags3 = s->lim_flags = NULL;
  s->lim_uflags = NULL;
  free(s->ts_mc);
  free(s->cl_mc);
  free(s->cl_cache_flags);
  s->cl_cache_flags = NULL;
  s->flags = NULL;
  s->uflags = NULL;
  s->ts_mc = s->cl_mc = NULL;
  phys_sampler_free(&s->q_nr);
  stats_work_free(&s->work);
}

/* ------------------------------------------------------------------ driver */

typedef struct progress_ctx {
  dd_progress bar;
  long long offset; /* units done before this session */
} progress_ctx;

static void on_progress(void *ctx, long long n_done, long long n_items) {
  progress_ctx *pc = ctx;
  (void)n_items;
  dd_progress_update(&pc->bar, (double)(pc->offset + n_done));
}

dd_status scan_compute(const par_world *w, const scan_job *job, io_file *f, int resumed,
                       scan_scores *er, scan_scores *nr, scan_scores *sg, const char *score_hash) {
  const scan_params *g = job->grid;
  scan_state s;
  memset(&s, 0, sizeof s);
  s.w = w;
  s.job = job;
  s.f = f;
  s.sig_ref = g->signal_model == SCAN_SIGNAL_WIMP ? job->phys->sigma_ref_cm2 : 1.0;
  scan_params_print(g);
  if (g->signal_model != SCAN_SIGNAL_WIMP)
    dd_info("scan: signal.model = \"%s\": the signal axis is its rate in %s (%ld signal events)",
            scan_signal_name(g->signal_model), SCAN_RATE_UNITS, sg ? (long)sg->n : 0L);

  dd_status st = state_init(&s);
  if (st == DD_OK && g->signal_model != SCAN_SIGNAL_WIMP && !(sg && sg->n > 0))
    st = DD_FAIL(DD_ERR_ARG, "scan: signal.model = \"%s\" needs its signal sample's scores",
                 scan_signal_name(g->signal_model));
  if (st == DD_OK) st = events_load(&s, er, nr, g->signal_model != SCAN_SIGNAL_WIMP ? sg : NULL);
  /* the per-event arrays hold what the scan needs: the rows (72 bytes an
   * event, on every rank) go now; n and info stay for the attributes */
  free(er->rows);
  free(nr->rows);
  er->rows = nr->rows = NULL;
  if (sg) {
    free(sg->rows);
    sg->rows = NULL;
  }
  st = par_agree(w, st);
  /* the classical baseline's own detector MC; synthetic scores (tests,
   * benchmarks) are no detector's events, so their templates stay on /scores */
  if (st == DD_OK && s.has_classical && job->stats->classical.mc_events > 0 && job->det) {
    if (strcmp(er->info.detector_preset, "synthetic") != 0)
      st = scan_classical_mc(&s);
    else
      dd_info(
          "scan: synthetic scores: the classical templates are built from /scores "
          "(stats.classical.mc_events needs scores from the detector)");
  }
  if (st == DD_OK) st = write_layout(&s, er, nr, score_hash);

  long long *todo = NULL, n_todo = 0;
  if (st == DD_OK) {
    const char *ds[UD_N];
    int n_ds = 0;
    for (int k = 0; k < UD_N; k++)
      if (s.ud_k[k] >= 0) ds[s.ud_k[k]] = scan_datasets[k].path, n_ds++;
    st = io_units_begin(s.f, "/scan/done", 2, k_unit_axes, n_ds, ds,
                        job->shard_count > 0 ? job->shard_index : 0,
                        job->shard_count > 0 ? job->shard_count : 1, &s.units, &todo, &n_todo);
  }
  long long n_mine = 0;
  for (long long u = 0; u < scan_n_units(g); u++)
    n_mine += io_shard_owns(u, job->shard_count > 0 ? job->shard_index : 0,
                            job->shard_count > 0 ? job->shard_count : 1);
  if (st == DD_OK) {
    if (resumed)
      dd_info("scan: resuming: %lld of %lld units already done, %lld to do", n_mine - n_todo,
              n_mine, n_todo);
    else
      dd_info("scan: %lld work units (mass, R) on %d rank(s)", n_todo, w->size);
  }
  progress_ctx pc;
  dd_progress_start(&pc.bar, "scan", "units", (double)n_mine);
  pc.offset = n_mine - n_todo;
  double t0 = dd_time_now();
  if (st == DD_OK) st = par_dispatch_progress(w, n_todo, todo, scan_unit_run, &s, on_progress, &pc);
  free(todo);
  long long n_done = 0;
  if (s.units) {
    dd_status st2 = io_units_end(&s.units, &n_done);
    if (st == DD_OK) st = st2;
  }
  if (st == DD_OK) {
    double dt = dd_time_now() - t0;
    dd_progress_end(&pc.bar, (double)n_mine);
    long long pts = n_todo * g->n_methods * g->n_sigma * g->n_exposure;
    dd_info("scan: %lld units, %lld grid points x methods in %.2f s (%.0f points/s)", n_todo, pts,
            dt, dt > 0 ? pts / dt : 0.0);
  }
  if (st == DD_OK && s.n_toy_err > 0)
    dd_warn(
        "scan: %ld toy p-values on rank %d have a relative MC error above "
        "stats.toys.max_rel_err = %g (/scan/p_value_err): raise stats.toys.count",
        s.n_toy_err, w->rank, job->stats->toys_max_rel_err);
  if (st == DD_OK && job->shard_count <= 0) st = scan_rband_write(s.f);
  if (st == DD_OK && job->shard_count <= 0) st = scan_flags_report(s.f);
  state_free(&s);
  return st;
}
