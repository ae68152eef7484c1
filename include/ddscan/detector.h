/* detector.h - the dual-phase xenon TPC response: presets (xent_sr0, xent_design,
 * x1t_pax), NEST v2 / laidbax quanta, S1 and S2 detection on PMT arrays, the
 * waveform summaries the event images need, corrections and acceptance, the
 * event banks and the information ceilings on (cS1, cS2) and on (cS1, cS2,
 * S1 pulse shape).  Specification:
 * specs/detector_image.md (section numbers below refer to it).  No MPI, HDF5 or
 * libconfig: parameters come through det_params_load and the cfg getters. */
#ifndef DDSCAN_DETECTOR_H
#define DDSCAN_DETECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "ddscan/cfg.h"  /* uses: cfg_doc, cfg getters */
#include "ddscan/core.h" /* uses: dd_status, dd_rng, dd_sampler */

/* ------------------------------------------------------------------------ */
/* Constants                                                                 */
/* ------------------------------------------------------------------------ */

enum { DET_ER = 0, DET_NR = 1 }; /* event classes (truth label) */

#define DET_MAX_PMT_TOP 253    /* XENONnT top array (spec §3) */
#define DET_MAX_PMT_BOTTOM 241 /* XENONnT bottom array */
#define DET_PMT_CAP 256        /* array storage, padded for fixed-length loops */
#define DET_WF_COLS 37         /* waveform columns of one image panel (spec §6.3) */
#define DET_SAMPLE_NS 10.0     /* digitiser sampling (spec §1) */
#define DET_MAX_S1_PHD 4096    /* detected S1 photons beyond this: rejected (cS1 > 2000) */
#define DET_MAX_ELECTRONS 8192 /* extracted electrons beyond this: rejected (cS2 > 1e5) */
#define DET_MAX_S1_BINS 1024   /* longest displayed S1 window, 10-ns bins */

typedef enum det_preset {
  DET_PRESET_XENT_SR0 = 0,    /* XENONnT SR0-like, 23 V/cm (default) */
  DET_PRESET_XENT_DESIGN = 1, /* the same detector at 200 V/cm */
  DET_PRESET_X1T_PAX = 2      /* Khosa et al.'s XENON1T laidbax + pax chain */
} det_preset;

typedef enum det_yield_model {
  DET_YIELD_NEST2 = 0,  /* NEST v2 beta / NR models with fluctuations (§2.3) */
  DET_YIELD_LAIDBAX = 1 /* XENON1T laidbax lin-log ER and Lenardo NR (§2.3 end) */
} det_yield_model;

typedef enum det_layout_kind {
  DET_LAYOUT_XENT = 0, /* hexagonal 8.01 cm, 253 top / 241 bottom */
  DET_LAYOUT_X1T = 1   /* rings 127 top / hexagonal 121 bottom */
} det_layout_kind;

typedef enum det_s1_timing {
  DET_S1_NEST2 = 0,        /* NEST v2 singlet/triplet + recombination + transport */
  DET_S1_PAX_SIMPLE = 1,   /* one exponential for ER and NR (pax 'simple') */
  DET_S1_PAX_NEST2014 = 2, /* old FaX ER/NR model */
} det_s1_timing;

/* Bank sizes per class and split (train, test, analysis), as contiguous index
 * ranges of the class's event stream: train = [0, n_train), test follows, then
 * analysis.  Key group detector.bank. */
enum { DET_SPLIT_TRAIN = 0, DET_SPLIT_TEST = 1, DET_SPLIT_ANALYSIS = 2, DET_N_SPLITS = 3 };
typedef struct det_bank {
  uint64_t n[2][DET_N_SPLITS]; /* [class][split] */
} det_bank;

/* Proposal of the importance-biased ER tail (key group detector.er_bias,
 * docs/detector.md §11).  An ER attempt is drawn from the true model with
 * probability 1 - fraction and from a tilted model with probability
 * fraction, whose standard normal z of the recombination fluctuation is
 * N(-tilt, width^2): more recombination, so fewer electrons, more photons and
 * a lower cS2/cS1; with s1_tilt > 0 its detected S1 photons are drawn from a
 * binomial shifted up by s1_tilt standard deviations as well (more light for
 * the same quanta, the other half of the ER band's width).  The event
 * carries the exact weight p/q <= 1/(1 - fraction).  tilt = 0 switches it
 * off. */
typedef struct det_bias {
  double tilt;     /* shift of the recombination normal (>= 0; 0: no bias at all) */
  double width;    /* its standard deviation in the tilted model (> 0) */
  double fraction; /* share of the attempts drawn from the tilted model, in [0, 1] */
  double s1_tilt;  /* the tilted model also shifts the detected S1 photons' binomial up by
                    * this many of its standard deviations (>= 0; 0: S1 untilted) */
} det_bias;
/* The recommended proposal when the bias is on (docs/detector.md §11: the
 * tail gain it gives on xent_sr0, tools/bench/bench_er_bias.c); width,
 * fraction and s1_tilt are the key defaults, the tilt's default is 0 (off). */
#define DET_BIAS_TILT 2.5
#define DET_BIAS_WIDTH 0.9
#define DET_BIAS_FRACTION 0.8
#define DET_BIAS_S1_TILT 0.7

/* Every tunable of the response; defaults from the preset, each one
 * overridable as detector.<name>.  Units are in the names. */
typedef struct det_params {
  int preset; /* det_preset */
  char preset_name[32];
  /* geometry (§1, §2.2) */
  double tpc_radius_cm;
  double drift_length_cm;      /* gate to cathode */
  double bottom_pmt_offset_cm; /* bottom PMT plane below the cathode */
  double top_pmt_offset_cm;    /* top PMT plane above the gate (S1 light) */
  double fv_radius_cm;         /* truth positions are drawn uniformly in the FV */
  double fv_depth_min_cm;
  double fv_depth_max_cm;
  int layout;       /* det_layout_kind */
  int dead_pmts;    /* random dead PMTs per array (same for both classes) */
  double qe_spread; /* per-PMT relative QE spread (Gauss(1, qe_spread)) */
  /* drift (§2.5) */
  double drift_field_v_cm;
  double drift_velocity_cm_us;
  double gate_time_us; /* drift time of the gate-anode region */
  double electron_lifetime_us;
  double diffusion_long_cm2_s;  /* D_L */
  double diffusion_trans_cm2_s; /* D_T */
  double trapping_time_ns;      /* electron trapping at the liquid surface */
  /* liquid xenon */
  double temperature_k;
  double density_g_cm3;
  int yield_model; /* det_yield_model */
  /* S1 (§2.4, §4.3, §5.1) */
  double g1_pe;       /* PE per produced photon, DPE included */
  double p_dpe;       /* double-PE emission probability */
  double spe_res;     /* single-PE area resolution */
  double hit_eff;     /* per-PE hit acceptance (coincidence counting) */
  int s1_coincidence; /* PMTs needed within the window */
  double coincidence_window_ns;
  double s1_max_gap_ns;     /* gap that ends the displayed S1 cluster (pax 350 ns) */
  double ly_rel[3];         /* LY_rel(u) = c0 + c1 u + c2 u^2, u = depth/L */
  double s1_aft[3];         /* AFT_S1(u) polynomial */
  double s1_diffuse_bottom; /* beta: diffuse fraction of the bottom-array pattern */
  double s1_diffuse_top;
  int s1_timing;             /* det_s1_timing */
  double tts_ns;             /* PMT transit-time spread (sigma) */
  double s1_simple_decay_ns; /* pax_simple decay time */
  /* S2 (§2.5, §4.2, §5.2) */
  double extraction_eff;
  double se_gain_pe; /* PE per extracted electron, DPE included */
  double s2_aft;     /* mean S2 area fraction top */
  double s2_rel[2];  /* S2_rel(r) = c0 + c1 (r/R)^2 */
  double s2_lce_p, s2_lce_d_cm, s2_lce_a_per_cm, s2_lce_b; /* top-array LCE (§4.1) */
  double gas_gap_time_ns;                                  /* luminescence duration tau_gap */
  double gas_singlet_fraction;
  double gas_singlet_ns;
  double gas_triplet_ns;
  /* reconstruction, windows, cuts (§2.6, §2.7, §5.4) */
  double pos_res_cm;
  double s2_threshold_pe; /* on the uncorrected S2 area */
  double roi_cs1_min_pe;  /* accepted: roi_cs1_min_pe < cS1 <= roi_cs1_max_pe */
  double roi_cs1_max_pe;
  double roi_cs2_min_pe; /* accepted: min <= cS2 (or cS2_b) <= max */
  double roi_cs2_max_pe;
  int cs2_bottom;        /* cut on cS2_b (bottom array only) instead of cS2 */
  int s1_pad_bins;       /* displayed S1 window padding */
  int s2_pad_small_bins; /* S2 padding when the peak <= s2_pad_threshold */
  int s2_pad_large_bins;
  double s2_pad_threshold_pe; /* PE per 10-ns bin */
  double s2_quantile_min_pe;  /* above: 0.1 %/99.9 % quantiles define the S2 edges */
  int max_attempts;           /* draws per event before giving up */
  /* banks and ceiling */
  det_bank bank;
  uint64_t ceiling_events; /* per class, half builds the densities, half tests */
  double ceiling_cs1_min_pe;
  double ceiling_cs1_max_pe;
  /* importance-biased ER tail for the ER events of the analysis split and
   * beyond (det_event_bias); er_bias.tilt = 0 (default): off, every event
   * bit-identical to an unbiased build, weight 1 */
  det_bias er_bias;
} det_params;

/* Reads group `detector` (preset first, then every key with the preset's
 * default) and validates it; errors name file:line and the key. */
dd_status det_params_load(cfg_doc *cfg, det_params *p);
/* Fills p with the defaults of a preset without any configuration. */
void det_params_preset(det_params *p, det_preset preset);
/* Checks ranges and consistency (g1 in (0,1], lifetime > 0, non-empty ROI,
 * FV inside the TPC, ...).  cfg may be NULL (then the message names the key
 * without file:line). */
dd_status det_params_validate(const det_params *p, const cfg_doc *cfg);
/* Logs the parameter table (rank-0 INFO). */
void det_params_print(const det_params *p);

/* NEST v2 helpers (exposed for tests and documentation). */
double det_nest_density(double temperature_k);      /* g/cm^3, NEST GetDensity */
double det_nest_w_ev(double density_g_cm3);         /* W in eV (OldW13eV) */
double det_nest_diffusion_long(double field_v_cm);  /* cm^2/s */
double det_nest_diffusion_trans(double field_v_cm); /* cm^2/s */

/* Mean yields: quanta per keV. */
typedef struct det_yield {
  double qy, ly;        /* electrons/keV, photons/keV */
  double nq;            /* mean total quanta Ne + Nph */
  double exciton_ratio; /* Nex/Ni */
} det_yield;
/* NEST v2 mean yields of an ER (keVee) or NR (keVnr) at the given field and
 * density (spec §2.3 table). */
det_yield det_nest_yield(int cls, double energy_kev, double field_v_cm, double density_g_cm3);

/* ------------------------------------------------------------------------ */
/* The model: parameters plus precomputed tables (layouts, LCE, kernels)      */
/* ------------------------------------------------------------------------ */

/* One PMT array (top or bottom). */
typedef struct det_array {
  int n;                   /* number of PMTs */
  float x_cm[DET_PMT_CAP]; /* (n), padding far outside the TPC */
  float y_cm[DET_PMT_CAP]; /* (n) */
  float qe[DET_PMT_CAP];   /* (n) relative QE, 0 for a dead PMT */
  double pitch_cm;         /* nominal spacing; render radius = pitch/2 */
} det_array;

enum { DET_TOP = 0, DET_BOTTOM = 1 };

#define DET_LCE_TABLE 4096 /* S2 LCE table over rho^2 */
#define DET_KERNEL_NS 4096 /* S2 single-photon kernel table length (1 ns steps) */
#define DET_PULSE_PHASES 10
#define DET_PULSE_BINS 24 /* 10-ns bins a single-PE pulse reaches */

#define DET_AREA_Q 2048  /* quantiles of the tabulated area distributions */
#define DET_AREA_EXACT 8 /* S2 photons per PMT with a tabulated area (n < 8) */

typedef struct det_model {
  det_params p;
  dd_sampler smp;   /* tables of the ziggurat, Poisson and binomial samplers */
  det_array arr[2]; /* [DET_TOP], [DET_BOTTOM] */
  uint32_t seed;    /* detector seed (per-PMT QE, dead PMTs) */
  /* derived constants */
  double g1_phd;         /* detection probability per photon (DPE removed) */
  double se_photons;     /* detected S2 photons per extracted electron */
  double td_max_us;      /* drift time at the cathode (image scale) */
  double w_ev;           /* work function (NEST or laidbax 1/73 keV) */
  double spe_norm;       /* 1/mean of the truncated Gaussian SPE area */
  double spe_sigma_eff;  /* std of the normalised truncated SPE area */
  double s2_photon_mean; /* mean area per S2 photon (1 + P_dpe) */
  double s2_photon_var;  /* its variance (DPE and SPE spread) */
  /* inverse CDFs at DET_AREA_Q quantiles (u = (j + 1/2)/Q): the area of k
   * PEs (k = 1, 2; S1 photons) and of n S2 photons (n = 1..7, double-PE
   * emission included), from the truncated-Gaussian SPE by convolution */
  float pe_area_q[3][DET_AREA_Q];
  float photon_area_q[DET_AREA_EXACT][DET_AREA_Q];
  /* S2 top LCE f(rho^2) = (1-b)(1 + rho^2/d^2)^-p on a rho^2 grid */
  double lce_step_cm2;
  float lce_tab[DET_LCE_TABLE + 1];
  /* S2 per-photon delay (luminescence + gas excimer + TTS): CDF at 1 ns from
   * kernel_t0_ns, without (arr) and with (pulse) the single-PE pulse */
  double kernel_t0_ns;
  float kernel_arr[DET_KERNEL_NS];
  float kernel_pulse[DET_KERNEL_NS];
  double kernel_reach_ns; /* beyond this delay both CDFs are 1 (to 1e-6) */
  double kernel_mean_ns;  /* mean arrival delay (no pulse) */
  double kernel_var_ns2;  /* its variance */
  /* single-PE pulse integrated over 10-ns bins for each sub-sample phase */
  float pulse_bins[DET_PULSE_PHASES][DET_PULSE_BINS];
  int pulse_lead_bins; /* bins of the pulse before the PE's own bin */
} det_model;

/* Builds the model (layouts, per-PMT QE and dead mask from DD_STREAM_DETECTOR
 * with `seed`, tables).  The struct is large (about 60 KB) but owns no heap
 * memory; det_model_free exists for symmetry. */
dd_status det_model_init(det_model *m, const det_params *p, uint32_t seed);
void det_model_free(det_model *m);

/* LY_rel, AFT_S1, S2_rel at normalised depth u / radius r. */
double det_ly_rel(const det_params *p, double u);
double det_s1_aft(const det_params *p, double u);
double det_s2_rel(const det_params *p, double r_cm);

/* ------------------------------------------------------------------------ */
/* Event records                                                             */
/* ------------------------------------------------------------------------ */

/* One simulated event: plain data of fixed size so arrays of events are flat
 * and can be written as one table.  Everything an image needs is here, so
 * rendering is a pure function of (record, parameters).  Fields are ordered
 * 8-byte, then 4-byte, so the layout has no padding. */
typedef struct det_event {
  /* identity */
  uint64_t index;   /* event index within its class stream */
  int32_t attempts; /* draws it took (>= 1, the accepted one included) */
  int32_t cls;      /* DET_ER or DET_NR (truth; never read by acceptance or rendering) */
  /* truth */
  double energy_kev; /* keVee (ER) or keVnr (NR) */
  double x_cm, y_cm, depth_cm;
  /* observables (PE = photoelectrons incl. double-PE emission) */
  double s1_pe, s2_pe; /* uncorrected areas */
  double s2_top_pe, s2_bottom_pe;
  double cs1_pe, cs2_pe, cs2_bottom_pe;
  double drift_time_us;  /* t_S2(centre) - t_S1(start) */
  double s2_width_us;    /* RMS of the S2 photon arrival times */
  double s1_aft, s2_aft; /* area fraction top */
  double x_rec_cm, y_rec_cm, depth_rec_cm;
  /* importance weight p/q of the accepted draw (det_bias: the recombination
   * normal's density ratio), 1 when unbiased.  A rate is estimated by
   * (sum over accepted events of weight x ...)/n_draws, exactly as for
   * unbiased events (docs/detector.md §11). */
  double weight;
  /* quanta bookkeeping (truth) */
  int32_t n_ph, n_e;  /* produced photons, electrons */
  int32_t n_s1_phd;   /* detected S1 photons */
  int32_t n_e_ext;    /* extracted electrons */
  int32_t n_pmts_hit; /* PMTs in the S1 coincidence */
  int32_t n_pmt_top, n_pmt_bottom;
  int32_t reserved; /* 0; keeps the record free of padding bytes */
  /* waveform summaries: displayed window length and the 37 column means w_k
   * (PE per 10-ns bin) of the S1 and S2 sum waveforms (spec §5.4, §6.3) */
  float s1_window_ns, s2_window_ns;
  float s1_wf[DET_WF_COLS];
  float s2_wf[DET_WF_COLS];
  /* per-PMT areas shown in the hit-pattern panels */
  float s1_pmt_bottom_pe[DET_MAX_PMT_BOTTOM]; /* (n_pmt_bottom) S1, bottom array */
  float s2_pmt_top_pe[DET_MAX_PMT_TOP];       /* (n_pmt_top) S2, top array */
} det_event;

/* Maps a uniform u in (0,1) to an energy in keV (inverse CDF of a spectrum).
 * Same signature as physics' phys_sampler_draw, so a bank can wire it. */
typedef double (*det_energy_fn)(void *ctx, double u);

typedef struct det_energy_flat_ctx {
  double lo_kev, hi_kev;
} det_energy_flat_ctx;
/* Flat on [lo, hi] (lo == hi: a fixed energy).  ctx: det_energy_flat_ctx. */
double det_energy_flat(void *ctx, double u);
typedef struct det_energy_exp_ctx {
  double lo_kev, hi_kev, scale_kev;
} det_energy_exp_ctx;
/* exp(-E/scale) truncated to [lo, hi].  ctx: det_energy_exp_ctx. */
double det_energy_exponential(void *ctx, double u);

/* The bias of event `index` of class cls: &p->er_bias for an ER whose index
 * lies in the analysis split or beyond (index >= er_train + er_test) when
 * er_bias.tilt > 0, else NULL (unbiased).  The train and test splits stay
 * unbiased, so the networks learn from and are judged on the true ER
 * distribution; only the sample that fills the templates is biased, and it
 * carries its weights. */
const det_bias *det_event_bias(const det_params *p, int cls, uint64_t index);

/* Simulates event `index` of class cls (DET_ER/DET_NR) from the streams
 * DD_STREAM_EVENT_ER/NR (a = index, b = retry): draws an energy, simulates
 * the detector response, applies the acceptance and re-draws with the next
 * retry counter until accepted.  *out is complete on success, out->weight
 * the p/q of the accepted draw under det_event_bias (1 when unbiased).  Fails
 * with DD_ERR_NUMERIC after p.max_attempts draws (acceptance too low). */
dd_status det_event_sample(const det_model *m, int cls, uint32_t seed, uint64_t index,
                           det_energy_fn draw_energy, void *ctx, det_event *out);

/* The same rejection loop on the classical baseline's own stream
 * DD_STREAM_CLASSICAL_MC (a = index, b = retry, c = cls), for the
 * high-statistics (cS1, cS2) templates of the scan: an ER draw carries the
 * analysis split's ER bias (detector.er_bias) and its weight as in
 * det_event_sample; independent of the banks' events. */
dd_status det_event_sample_mc(const det_model *m, int cls, uint32_t seed, uint64_t index,
                              det_energy_fn draw_energy, void *ctx, det_event *out);

/* One draw without acceptance (tests, efficiency curves, the ceiling
 * sample): simulates the response for a given stream and counter (a, b, c),
 * energy drawn from draw_energy; never biased (weight 1).  Returns 1 if the event passes the
 * acceptance.  Events with no S1 photon or too many quanta have s1_pe = 0 or s2_pe = 0. */
int det_event_simulate(const det_model *m, int cls, uint32_t seed, dd_stream stream, uint32_t a,
                       uint32_t b, uint32_t c, det_energy_fn draw_energy, void *ctx,
                       det_event *out);

/* The acceptance (spec §2.7): S1 coincidence, S2 threshold, ROI on cS1 and
 * cS2 (or cS2_b).  Reads only observables, never the class. */
int det_event_accepted(const det_model *m, const det_event *ev);

/* Simulates events first .. first+count-1 of class cls into out (count
 * records).  Deterministic per index: any split over ranks gives the same
 * records.  *draws_out (may be NULL) receives the sum of attempts. */
dd_status det_events_simulate(const det_model *m, int cls, uint32_t seed, uint64_t first,
                              uint64_t count, det_energy_fn draw_energy, void *ctx, det_event *out,
                              uint64_t *draws_out);

/* Index range of a bank split. */
void det_bank_range(const det_bank *b, int cls, int split, uint64_t *first, uint64_t *count);
/* Total events of a class (all splits). */
uint64_t det_bank_total(const det_bank *b, int cls);
/* "train", "test", "analysis". */
const char *det_split_name(int split);

/* ------------------------------------------------------------------------ */
/* Information ceiling (spec §7) and band statistics (§8.4, §8.5)            */
/* ------------------------------------------------------------------------ */

/* The S1 pulse-shape feature: the prompt fraction of the S1 as the image
 * shows it (panel C: the 37 columns s1_wf over s1_window_ns).  Column k
 * covers [k, k+1) T/37 of the displayed window T with the constant height
 * w_k (its area w_k T/370 PE); the pulse start t_s is where the cumulative
 * area reaches DET_S1_PROMPT_START of the total (linear inside the column),
 * and the prompt fraction is the share of the total area before
 * t_s + DET_S1_PROMPT_NS.  A quantile start, unlike the first PE, does not
 * move with the earliest photon's transit-time and jitter tails, and stays
 * defined for a 3-PE S1 (it lies inside the first PE's pulse); 90 ns is the
 * window that separates NEST v2 ER and NR pulses best (docs/detector.md §7:
 * the ceiling is flat within 0.2 point from 80 to 120 ns).  Value in
 * [DET_S1_PROMPT_START, 1]; NaN for an event without S1 area. */
#define DET_S1_PROMPT_START 0.10 /* cumulative fraction that marks the start */
#define DET_S1_PROMPT_NS 90.0    /* prompt window after the start */
double det_s1_prompt_fraction(const det_event *ev);

/* Whether the S1 waveform panel can carry class information: 1 unless the
 * S1 timing model is pax_simple (one decay time for ER and NR).  Decides
 * which ceiling a classifier on the images is judged against. */
int det_s1_shape_informative(const det_params *p);

#define DET_BAND_BINS 10 /* cS1 bins 3-5-7-10-15-20-30-40-50-70-100 PE */
extern const double det_band_edges_pe[DET_BAND_BINS + 1];

/* Median and standard deviation of log10(cS2/cS1) in cS1 bins (edges: nb+1
 * values), each event weighted by w[i] (w may be NULL: all 1); empty bins
 * get NaN.  count (may be NULL) gets the events per bin. */
void det_band_stats(const float *cs1 /* (n) */, const float *cs2 /* (n) */,
                    const double *w /* (n) or NULL */, size_t n, const double *edges, int nb,
                    double *median /* (nb) */, double *sigma /* (nb) */,
                    uint64_t *count /* (nb) */);

typedef struct det_ceiling {
  double accuracy;          /* balanced-class Bayes accuracy, independent half */
  double auc;               /* ROC area of the likelihood ratio */
  double accuracy_cs1_only; /* the same classifier on cS1 alone */
  double leakage;           /* ER fraction below the NR median, all bins */
  double leak_bin[DET_BAND_BINS];
  double er_median[DET_BAND_BINS], er_sigma[DET_BAND_BINS];
  double nr_median[DET_BAND_BINS], nr_sigma[DET_BAND_BINS];
  uint64_t n_er, n_nr; /* events inside the ceiling window */
  double ess_nr;       /* effective NR sample size (sum w)^2 / sum w^2 in the window */
  /* with the S1 pulse shape f (det_s1_prompt_fraction); NaN without shapes */
  double accuracy_shape;     /* likelihood ratio on (cS1, log10 cS2/cS1, f) */
  double auc_shape;          /* its ROC area */
  double accuracy_cs1_shape; /* likelihood ratio on (cS1, f) */
  double auc_cs1_shape;
  double psd_leak_bin[DET_BAND_BINS]; /* ER fraction above the NR median of f */
  /* the factorisation p(y, f | cS1, class) = p(y | cS1, class) p(f | cS1,
   * class): weighted correlation of y = log10(cS2/cS1) and f per band bin
   * (NaN below 100 events), and the largest |corr| over both classes and
   * the bins with at least 1000 effective events */
  double shape_corr_er[DET_BAND_BINS], shape_corr_nr[DET_BAND_BINS];
  double shape_corr_max;
} det_ceiling;

/* Simulates accepted (cS1, cS2) pairs for the ceiling from DD_STREAM_CEILING
 * (a = event, b = class, c = retry), events first .. first+count-1.  With
 * cs2_bottom set, cs2 holds cS2_b.  energy_kev (may be NULL) receives the
 * recoil energies (for reweighting), s1_shape (may be NULL) the S1 prompt
 * fractions (det_s1_prompt_fraction). */
dd_status det_ceiling_simulate(const det_model *m, int cls, uint32_t seed, uint64_t first,
                               uint64_t count, det_energy_fn draw_energy, void *ctx,
                               float *cs1 /* (count) */, float *cs2 /* (count) */,
                               float *energy_kev /* (count) or NULL */,
                               float *s1_shape /* (count) or NULL */);

/* The Bayes-optimal (likelihood-ratio) classifier on (cS1, log10 cS2/cS1):
 * class densities are histogrammed from the even-indexed events, accuracy
 * and AUC measured on the odd-indexed ones (classes weighted equally), inside
 * [cs1_min, cs1_max].  Also the cS1-only accuracy and the ER leakage below
 * the NR median per band bin.  Events carry weights w_er / w_nr (NULL: 1),
 * e.g. to reweight an NR sample drawn from q(E) to one WIMP mass.
 * With the S1 prompt fractions shape_er / shape_nr (both or neither may be
 * NULL; without them the shape fields are NaN), also the ceiling on (cS1,
 * log10 cS2/cS1, f): the likelihood ratio LR(cS1, y) p(f | cS1, NR) /
 * p(f | cS1, ER), i.e. f independent of y given class and cS1 (checked by
 * shape_corr_*), with p(f | cS1) from smoothed histograms of the same even
 * half, measured on the same odd half; a non-finite f adds no shape term.
 * Pure function of its inputs. */
dd_status det_ceiling_compute(const float *cs1_er, const float *cs2_er, const float *shape_er,
                              const double *w_er, size_t n_er, const float *cs1_nr,
                              const float *cs2_nr, const float *shape_nr, const double *w_nr,
                              size_t n_nr, double cs1_min, double cs1_max, det_ceiling *out);

#endif /* DDSCAN_DETECTOR_H */
