/* physics.h - WIMP and background recoil spectra on xenon: the standard halo
 * model (truncated Maxwellian), the Helm form factor, the spin-independent
 * elastic rate dR/dE, integrated rates, background spectra (ER flat, optional
 * NR components), a tabulated inverse-CDF sampler and the bank reweighting
 * convention.  Formulas and sources: docs/physics.md, specs/physics.md. */
#ifndef DDSCAN_PHYSICS_H
#define DDSCAN_PHYSICS_H

#include <stddef.h>

#include "ddscan/cfg.h"  /* uses: cfg_doc */
#include "ddscan/core.h" /* uses: dd_status */

/* ------------------------------------------------------------------------ */
/* Units and constants                                                       */
/* ------------------------------------------------------------------------ */
/* Conventions used by every function below (docs/physics.md §1):
 *   recoil energy E in keV: keVnr for nuclear recoils, keVee for electron
 *     recoils; WIMP mass in GeV/c^2; speeds in km/s; eta in s/km;
 *   sigma_cm2 is the spin-independent WIMP-NUCLEON cross-section at zero
 *     momentum transfer (isospin-conserving, f_p = f_n), in cm^2;
 *   rates are per TONNE (1000 kg) of target per YEAR (365.25 d by default,
 *     physics.year) per keV: "events/(t y keV)"; integrated rates are
 *     events/(t y). */
#define PHYS_C_KM_S 299792.458          /* speed of light [km/s] (exact, SI) */
#define PHYS_C_M_S 299792458.0          /* speed of light [m/s] (exact, SI) */
#define PHYS_CM_PER_KM 1.0e5            /* [cm/km] */
#define PHYS_J_PER_GEV 1.602176634e-10  /* exact (SI 2019): 1 GeV in joule */
#define PHYS_AMU_GEV 0.93149410         /* atomic mass unit u [GeV/c^2] (specs/physics.md §2) */
#define PHYS_PROTON_GEV 0.93827208816   /* proton mass [GeV/c^2] (CODATA 2018) */
#define PHYS_HBARC_MEV_FM 197.327       /* hbar c [MeV fm] (specs/physics.md §4) */
#define PHYS_KEV_PER_GEV 1.0e6          /* [keV/GeV] */
#define PHYS_KG_PER_TONNE 1000.0        /* [kg/t] */
#define PHYS_S_PER_DAY 86400.0          /* [s/d] */
#define PHYS_YEAR_JULIAN_D 365.25       /* Julian year [d] (default) */
#define PHYS_YEAR_SIDEREAL_D 365.256363 /* sidereal year [d] (used by wimprates) */
#define PHYS_XE_MASS_NUMBER 131.293     /* natural xenon, one effective nucleus for SI */

#define PHYS_MAX_REF_MASSES 32       /* nr_reference.mass_gev entries */
#define PHYS_MAX_SPECTRA_POINTS 4096 /* spectra_e_kev entries */
#define PHYS_MIN_SAMPLER_POINTS 2000 /* builders' grids are at least this fine */

/* ------------------------------------------------------------------------ */
/* Parameters (group `physics`, every key in configs/example.cfg)           */
/* ------------------------------------------------------------------------ */

typedef enum phys_halo_preset {
  PHYS_HALO_SHM_2021 = 0,   /* Baxter et al. 2021 (arXiv:2105.00599) */
  PHYS_HALO_SHM_CLASSIC = 1 /* pre-2021 convention: v0 220, v_E 232 km/s */
} phys_halo_preset;

/* Standard halo model: galactic-frame Maxwellian exp(-v^2/v0^2) truncated at
 * v_esc, seen from the Earth moving at v_earth (time-averaged). */
typedef struct phys_halo {
  phys_halo_preset preset;
  double rho_gev_cm3;  /* local dark-matter density [GeV/cm^3] */
  double v0_km_s;      /* most probable galactic speed [km/s] */
  double v_esc_km_s;   /* galactic escape speed [km/s] */
  double v_earth_km_s; /* Earth speed in the galactic frame [km/s] */
} phys_halo;

/* ER background, flat in keVee (XENONnT projection, arXiv:2007.08796). */
typedef struct phys_er_bg {
  double rate_per_ty_kev; /* events/(t y keVee) on [e_min_kev, e_max_kev] */
  double e_min_kev, e_max_kev;
} phys_er_bg;

/* Optional NR backgrounds (XENON1T laidbax model, specs/physics.md §6),
 * keVnr, zero outside [e_min_kev, e_max_kev]. */
typedef struct phys_nr_bg {
  int cevns_on;       /* coherent neutrino scattering (solar 8B) included */
  double cevns_scale; /* multiplies the laidbax normalisation */
  int neutrons_on;    /* radiogenic neutrons included */
  double neutrons_scale;
  double e_min_kev, e_max_kev;
} phys_nr_bg;

typedef enum phys_nr_ref_shape {
  PHYS_NR_REF_WIMP_MIXTURE = 0, /* equal-weight mixture of normalised WIMP
                                   spectra + an exponential floor */
  PHYS_NR_REF_EXPONENTIAL = 1   /* exp(-E/exp_scale_kev) */
} phys_nr_ref_shape;

/* The reference spectrum q(E) the NR bank is drawn from (docs/physics.md §7). */
typedef struct phys_nr_ref {
  phys_nr_ref_shape shape;
  int n_mass;
  double mass_gev[PHYS_MAX_REF_MASSES]; /* (n_mass) mixture masses */
  double floor_fraction;                /* weight of the exponential in the mixture */
  double exp_scale_kev;                 /* e-folding energy of the exponential */
  double e_min_kev, e_max_kev;          /* support of q (keVnr) */
} phys_nr_ref;

typedef enum phys_year { PHYS_YEAR_JULIAN = 0, PHYS_YEAR_SIDEREAL = 1 } phys_year;
typedef enum phys_nucleon { PHYS_NUCLEON_AMU = 0, PHYS_NUCLEON_PROTON = 1 } phys_nucleon;

/* Plausibility limits (docs/configuration.md): values outside them are refused
 * at config time unless physics.allow_implausible = true.  WIMP masses below
 * 1 GeV leave no recoil above any xenon threshold, above 1e5 GeV the spectra
 * no longer change (only the rate, as 1/m); cross-sections span the neutrino
 * fog (~1e-49) to far above every excluded value (~1e-39). */
#define PHYS_PLAUSIBLE_MASS_MIN_GEV 1.0
#define PHYS_PLAUSIBLE_MASS_MAX_GEV 1e5
#define PHYS_PLAUSIBLE_SIGMA_MIN_CM2 1e-52
#define PHYS_PLAUSIBLE_SIGMA_MAX_CM2 1e-30

typedef struct phys_params {
  int allow_implausible; /* physics.allow_implausible: skip the plausibility limits */
  phys_halo halo;
  double mass_number;      /* target A (xenon 131.293) */
  phys_nucleon nucleon;    /* which mass enters mu_n */
  double nucleon_mass_gev; /* 1 u (default) or m_p */
  phys_year year;          /* year convention of "per year" */
  double year_days;        /* 365.25 or 365.256363 */
  double sigma_ref_cm2;    /* reference cross-section of bank weights [cm^2] */
  double window_kev[2];    /* analysis window (keVnr) for /spectra counts */
  int n_spectra;
  double spectra_e_kev[PHYS_MAX_SPECTRA_POINTS]; /* (n_spectra) grid of /spectra */
  int sampler_points;                            /* grid points of the bank samplers (>= 2000) */
  phys_er_bg er;
  phys_nr_bg nr_bg;
  phys_nr_ref nr_ref;
} phys_params;

/* Reads and validates group `physics` (every key optional; defaults are
 * written back into cfg).  The halo preset is read first and supplies the
 * defaults of the four halo values, each overridable.  Errors (DD_ERR_CONFIG,
 * via cfg_error naming file:line and the key): non-positive masses, rho, v0,
 * v_esc, A or sigma_ref; negative v_earth, rates or scales; reversed or
 * negative energy ranges; unknown preset/convention names. */
dd_status phys_params_load(cfg_doc *cfg, phys_params *p);
/* A number outside the plausibility limits [lo, hi] (unless allowed):
 * "file:line: key: element i = v unit is outside the plausible range [lo, hi]
 * unit (set physics.allow_implausible = true if you mean it)".  elem < 0 for
 * a scalar key. */
dd_status phys_check_plausible(cfg_doc *cfg, const phys_params *p, const char *key, int elem,
                               double v, double lo, double hi, const char *unit);
/* The defaults (phys_params_load on an empty configuration). */
dd_status phys_params_default(phys_params *p);
/* One INFO block (rank 0) describing the parameters and conventions. */
void phys_params_print(const phys_params *p);
/* Name of the halo preset ("shm_2021"). */
const char *phys_halo_preset_name(phys_halo_preset preset);

/* DD_ERR_ARG with a clear message unless mass_gev > 0 and sigma_cm2 >= 0
 * (both finite).  The kernels below assert these; callers that take user
 * input check first. */
dd_status phys_wimp_check(double mass_gev, double sigma_cm2);

/* ------------------------------------------------------------------------ */
/* Kinematics and halo (halo.c)                                              */
/* ------------------------------------------------------------------------ */

/* Nucleus mass m_N = A u [GeV/c^2]. */
double phys_nucleus_mass_gev(const phys_params *p);
/* Reduced mass m1 m2/(m1 + m2) [GeV/c^2]. */
double phys_reduced_mass_gev(double m1_gev, double m2_gev);
/* Seconds per year under p's convention. */
double phys_year_s(const phys_params *p);
/* Minimum WIMP speed that can give recoil E: v_min = c sqrt(m_N E/(2 mu_N^2))
 * [km/s]; E in keVnr >= 0. */
double phys_vmin_km_s(const phys_params *p, double mass_gev, double e_kev);
/* Kinematic endpoint E_end = 2 mu_N^2 (v_esc + v_E)^2 / (m_N c^2) [keVnr];
 * dR/dE is exactly 0 for E >= E_end. */
double phys_endpoint_kev(const phys_params *p, double mass_gev);
/* Mean inverse speed eta(v_min) = int_{v > v_min} f_E(v)/v d^3v [s/km] of the
 * truncated Maxwellian boosted by v_E (exact, correctly normalised; handles
 * v_E = 0 and v_E > v_esc).  0 for v_min >= v_esc + v_E. */
double phys_eta(const phys_halo *h, double vmin_km_s);

/* ------------------------------------------------------------------------ */
/* Form factor (formfactor.c)                                                */
/* ------------------------------------------------------------------------ */

/* Helm form factor squared F^2(E) (Lewin & Smith 1996, Eq. 4.7) for mass
 * number A (> 0) at recoil energy E [keVnr] (>= 0; F^2(0) = 1):
 * c = 1.23 A^(1/3) - 0.60 fm, a = 0.52 fm, s = 0.9 fm. */
double phys_helm_ff2(double mass_number, double e_kev);
/* Helm effective radius r_n [fm] for mass number A. */
double phys_helm_rn_fm(double mass_number);

/* ------------------------------------------------------------------------ */
/* Spin-independent WIMP rate (rate.c)                                       */
/* ------------------------------------------------------------------------ */

/* dR/dE = rho sigma_n A^2 F^2(E) eta(v_min(E)) / (2 m_chi mu_n^2) in
 * events/(t y keVnr) for a WIMP of mass_gev (> 0, asserted) and per-nucleon
 * SI cross-section sigma_cm2 (>= 0, asserted).  0 for E < 0 and exactly 0
 * for E >= phys_endpoint_kev. */
double phys_dRdE(const phys_params *p, double mass_gev, double sigma_cm2, double e_kev);
/* out[i] = phys_dRdE(p, mass, sigma, e_kev[i]) for i < n. */
void phys_dRdE_fill(const phys_params *p, double mass_gev, double sigma_cm2,
                    const double *e_kev /* (n) */, size_t n, double *out /* (n) */);

/* Quadrature rules for integrated rates (quadrature.c). */
typedef enum phys_quad {
  PHYS_QUAD_ADAPTIVE = 0,      /* adaptive Gauss-Kronrod 7/15, rel. tol 1e-11 */
  PHYS_QUAD_GAUSS_LEGENDRE = 1 /* composite 20-point Gauss-Legendre, fixed panels */
} phys_quad;

/* A tabulated curve (efficiency, acceptance): linear interpolation between
 * (e_kev[i], value[i]), e_kev strictly increasing, n >= 2, values finite and
 * >= 0; ZERO outside [e_kev[0], e_kev[n-1]].  Arrays borrowed. */
typedef struct phys_curve {
  const double *e_kev; /* (n) borrowed */
  const double *value; /* (n) borrowed */
  size_t n;
} phys_curve;
/* DD_ERR_ARG unless c is a valid curve (see above). */
dd_status phys_curve_check(const phys_curve *c);
/* The curve at e_kev (0 outside its range). */
double phys_curve_eval(const phys_curve *c, double e_kev);

/* A spectral density: f(ctx, E) in any units per keV. */
typedef double (*phys_density_fn)(const void *ctx, double e_kev);

/* out = int_{e1}^{e2} f(E) eff(E) dE with the chosen rule (eff may be NULL:
 * 1).  breaks (may be NULL) are energies where f has kinks or jumps; the
 * interval is split there and at eff's nodes so that both rules see smooth
 * pieces.  Errors: DD_ERR_ARG for e1 > e2, non-finite limits or a bad curve;
 * DD_ERR_NUMERIC for a non-finite integrand or no convergence. */
dd_status phys_integrate(phys_density_fn f, const void *ctx, double e1_kev, double e2_kev,
                         const double *breaks /* (n_breaks) */, size_t n_breaks,
                         const phys_curve *eff, phys_quad method, double *out);

/* Expected WIMP events per t y with recoil energy in [e1, e2] keVnr, times
 * eff(E) when eff is not NULL: int dR/dE eff dE, split at the eta kink and
 * the endpoint.  Errors: DD_ERR_ARG for mass <= 0, sigma < 0, e1 < 0 or
 * e1 > e2 (message names the values). */
dd_status phys_rate_integral(const phys_params *p, double mass_gev, double sigma_cm2, double e1_kev,
                             double e2_kev, const phys_curve *eff, phys_quad method,
                             double *out_per_ty);

/* ------------------------------------------------------------------------ */
/* Backgrounds (background.c)                                                */
/* ------------------------------------------------------------------------ */

/* ER background density [events/(t y keVee)]: the flat rate inside
 * [er.e_min_kev, er.e_max_kev], 0 outside. */
double phys_er_dRdE(const phys_params *p, double e_kev);
/* CEvNS (solar 8B) NR density [events/(t y keVnr)]: cevns_scale x
 * 4e-3 10^(-9E/7) /(kg d keV) on [nr_bg.e_min, nr_bg.e_max], whether or not
 * the component is enabled. */
double phys_cevns_dRdE(const phys_params *p, double e_kev);
/* Radiogenic-neutron NR density [events/(t y keVnr)]: neutrons_scale x
 * (6e-8 10^(-E/100) + 3e-6/(2 + E^2)) /(kg d keV), whether or not enabled. */
double phys_neutron_dRdE(const phys_params *p, double e_kev);
/* Sum of the ENABLED NR background components [events/(t y keVnr)]. */
double phys_nr_bg_dRdE(const phys_params *p, double e_kev);
/* Integrals over [e1, e2] (times eff when not NULL) [events/(t y)]. Errors as
 * phys_integrate. */
dd_status phys_er_integral(const phys_params *p, double e1_kev, double e2_kev,
                           const phys_curve *eff, phys_quad method, double *out_per_ty);
dd_status phys_nr_bg_integral(const phys_params *p, double e1_kev, double e2_kev,
                              const phys_curve *eff, phys_quad method, double *out_per_ty);

/* ------------------------------------------------------------------------ */
/* Tabulated inverse-CDF sampler (sampler.c, reference.c)                    */
/* ------------------------------------------------------------------------ */

/* A probability density given on a grid, interpolated LINEARLY between grid
 * points and zero outside [e_kev[0], e_kev[n-1]].  Draws are exact samples of
 * that piecewise-linear density (the CDF is inverted in closed form within a
 * cell), and phys_sampler_pdf returns exactly the density that was sampled,
 * so weights built from it are unbiased.  Owns its arrays. */
typedef struct phys_sampler {
  size_t n;
  double *e_kev; /* (n) owned, strictly increasing */
  double *pdf;   /* (n) owned, normalised density [1/keV] at e_kev[i] */
  double *cdf;   /* (n) owned, cdf[0] = 0, cdf[n-1] = 1 */
  double norm;   /* integral of the input density (input units x keV) */
} phys_sampler;

/* Builds a sampler from density[i] >= 0 at e_kev[i] (n >= 2, strictly
 * increasing, finite, positive total); copies the arrays.  *s must be zeroed
 * or freed.  Errors: DD_ERR_ARG (names the offending index), DD_ERR_NOMEM. */
dd_status phys_sampler_init(phys_sampler *s, const double *e_kev /* (n) */,
                            const double *density /* (n) */, size_t n);
/* The same from a function evaluated on n uniform points in [e_lo, e_hi]. */
dd_status phys_sampler_init_fn(phys_sampler *s, phys_density_fn f, const void *ctx, double e_lo_kev,
                               double e_hi_kev, size_t n);
/* Frees the arrays; accepts a zeroed or half-built sampler; zeroes it. */
void phys_sampler_free(phys_sampler *s);
/* Maps a uniform u in (0, 1) to an energy [keV] (monotone in u; u <= 0 gives
 * e_kev[0], u >= 1 gives e_kev[n-1]).  No allocation, O(log n). */
double phys_sampler_draw(const phys_sampler *s, double u);
/* The normalised density that draw samples from [1/keV], 0 outside. */
double phys_sampler_pdf(const phys_sampler *s, double e_kev);
/* Its CDF at e_kev. */
double phys_sampler_cdf(const phys_sampler *s, double e_kev);

/* ER bank sampler: flat in [er.e_min_kev, er.e_max_kev] keVee (detector spec
 * §2.1: [0, 15] keVee) on p->sampler_points points. */
dd_status phys_sampler_init_er(phys_sampler *s, const phys_params *p);
/* NR reference sampler q(E) of nr_reference (docs/physics.md §7): by default
 * an equal-weight mixture of the unit-normalised WIMP spectra of
 * nr_ref.mass_gev plus floor_fraction of exp(-E/exp_scale_kev), on
 * p->sampler_points uniform points of [nr_ref.e_min_kev, nr_ref.e_max_kev]. */
dd_status phys_sampler_init_nr_ref(phys_sampler *s, const phys_params *p);
/* The spectrum of one WIMP mass on n (>= 2) uniform points in [e_lo, e_hi]
 * keVnr (e.g. the detector's single-mass NR bank, 0.5-120 keV). */
dd_status phys_sampler_init_wimp(phys_sampler *s, const phys_params *p, double mass_gev,
                                 double e_lo_kev, double e_hi_kev, size_t n);

/* ------------------------------------------------------------------------ */
/* Bank reweighting (weights.c) -- docs/physics.md §7                        */
/* ------------------------------------------------------------------------ */
/* A bank draws energies from a sampling pdf q (a phys_sampler); an event that
 * fails the detector acceptance is RE-DRAWN.  Let N_draws count every attempt,
 * rejected ones included.  The weight of an accepted event with energy E is
 *     w = rate_density(E) / q(E) / N_draws            [events/(t y)]
 * and then  sum over accepted events of w  =  expected accepted events per
 * t y (an unbiased estimate of int rate_density(E) acceptance(E) dE).
 * Multiply by the exposure [t y] for counts; WIMP weights are linear in
 * sigma (compute at p->sigma_ref_cm2 and scale by sigma/sigma_ref).
 * The functions below return the per-draw factor rate_density(E)/q(E); the
 * caller divides by N_draws.  They return 0 where q(E) = 0 (such an E cannot
 * be drawn). */

/* (dR/dE)_m(E) / q(E) [events/(t y) per draw] for the WIMP (mass, sigma). */
double phys_weight_nr(const phys_params *p, const phys_sampler *q, double mass_gev,
                      double sigma_cm2, double e_kev);
/* w[i] = phys_weight_nr(..., e_kev[i]) for i < n. */
void phys_weights_nr(const phys_params *p, const phys_sampler *q, double mass_gev, double sigma_cm2,
                     const double *e_kev /* (n) */, size_t n, double *w /* (n) */);
/* ER background density / q_er(E) [events/(t y) per draw] (keVee). */
double phys_weight_er(const phys_params *p, const phys_sampler *q_er, double e_kev);
/* Enabled NR background density / q(E) [events/(t y) per draw] (keVnr). */
double phys_weight_nr_bg(const phys_params *p, const phys_sampler *q, double e_kev);
/* Effective sample size (sum w)^2 / sum w^2 of n weights (0 if all are 0). */
double phys_effective_sample_size(const double *w /* (n) */, size_t n);

/* ------------------------------------------------------------------------ */
/* Table for the results file /spectra (spectra.c)                           */
/* ------------------------------------------------------------------------ */

/* Plain arrays; io/scan write them (units in the comments).  Owns them. */
typedef struct phys_spectra {
  size_t n_mass, n_energy;
  double sigma_cm2;           /* cross-section of dRdE and counts (sigma_ref) */
  double window_kev[2];       /* analysis window (keVnr) of the counts */
  double *mass_gev;           /* (n_mass) owned */
  double *e_kev;              /* (n_energy) owned, physics.spectra_e_kev */
  double *dRdE;               /* (n_mass, n_energy) owned, events/(t y keVnr) */
  double *endpoint_kev;       /* (n_mass) owned, kinematic endpoint */
  double *counts_window;      /* (n_mass) owned, events/(t y) in window_kev */
  double *er_dRdE;            /* (n_energy) owned, ER bg, events/(t y keVee) */
  double *nr_bg_dRdE;         /* (n_energy) owned, enabled NR bg, events/(t y keVnr) */
  double er_counts_window;    /* ER bg events/(t y) in window_kev read as keVee */
  double nr_bg_counts_window; /* NR bg events/(t y) in window_kev */
} phys_spectra;

/* Fills t for the n_mass masses (> 0) at sigma = p->sigma_ref_cm2 on
 * p->spectra_e_kev.  *t must be zeroed or freed.  Errors: DD_ERR_ARG,
 * DD_ERR_NOMEM, DD_ERR_NUMERIC. */
dd_status phys_spectra_init(phys_spectra *t, const phys_params *p,
                            const double *mass_gev /* (n_mass) */, size_t n_mass);
/* Frees the arrays; accepts a zeroed or half-built table; zeroes it. */
void phys_spectra_free(phys_spectra *t);

#endif /* DDSCAN_PHYSICS_H */
