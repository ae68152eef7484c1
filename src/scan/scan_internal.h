/* scan_internal.h - state shared by the scan stage's files: the events and
 * weights every rank holds, the per-unit datasets and the buffers of one
 * unit (run.c sets them up, unit.c computes a unit, band.c the R band). */
#ifndef DDSCAN_SCAN_INTERNAL_H
#define DDSCAN_SCAN_INTERNAL_H

#include "ddscan/scan.h"

/* The scan's datasets, the index of scan_datasets[] (schema.c).  The first
 * UD_N are written per work unit (each has both unit axes, /axes/mass_gev and
 * /axes/r; the NR-background and classical ones exist only when enabled);
 * the SD_ ones are written once.  A new dataset is one enum value here and
 * one row in schema.c. */
typedef enum scan_ud {
  UD_P = 0,     /* /scan/p_value [method][mass][sigma][exposure][r] */
  UD_Z,         /* /scan/z */
  UD_LOGP,      /* /scan/log_p */
  UD_P_ERR,     /* /scan/p_value_err */
  UD_SIG5,      /* /contours/sigma5 [method][mass][exposure][r] */
  UD_FLAGS,     /* /contours/flags */
  UD_MC_RATIO,  /* /contours/mc_ratio [method][mass][exposure][r] */
  UD_SIG5_ERR,  /* /contours/sigma5_err [method][mass][exposure][r] */
  UD_SIG3,      /* /contours/sigma3 [method][mass][exposure][r] */
  UD_FLAGS3,    /* /contours/sigma3_flags */
  UD_LIM_CLSB,  /* /contours/limit_clsb [method][mass][exposure][r][band] */
  UD_LIM_CLS,   /* /contours/limit_cls */
  UD_LIM_ERR,   /* /contours/limit_clsb_err */
  UD_LIM_FLAGS, /* /contours/limit_flags [method][mass][exposure][r] */
  UD_TS_EDGES,  /* /templates/ts/edges [mass][r][edge] */
  UD_TS_NBINS,  /* /templates/ts/n_bins [mass][r] */
  UD_TS_BKG,    /* /templates/ts/background [mass][r][bin] */
  UD_TS_BKG_W2, /* /templates/ts/background_w2 */
  UD_TS_BKG_MC, /* /templates/ts/background_mc */
  UD_TS_SIG,    /* /templates/ts/signal */
  UD_TS_SIG_W2, /* /templates/ts/signal_w2 */
  UD_TS_NRB,    /* /templates/ts/nr_background (stats.sound.nr_bkg) */
  UD_TS_NRB_W2, /* /templates/ts/nr_background_w2 */
  UD_CL_X,      /* /templates/classical/cs1_edges [mass][r][cs1_edge] */
  UD_CL_Y,      /* /templates/classical/y_edges [mass][r][cs1_bin][y_edge] */
  UD_CL_BKG,    /* /templates/classical/background [mass][r][cs1_bin][y_bin] */
  UD_CL_BKG_W2, /* /templates/classical/background_w2 */
  UD_CL_BKG_MC, /* /templates/classical/background_mc */
  UD_CL_SIG,    /* /templates/classical/signal */
  UD_CL_SIG_W2, /* /templates/classical/signal_w2 */
  UD_CL_NRB,    /* /templates/classical/nr_background */
  UD_CL_NRB_W2, /* /templates/classical/nr_background_w2 */
  UD_N,
  SD_BAND_LO = UD_N,   /* /contours/band_lo [method][mass][exposure] */
  SD_BAND_HI,          /* /contours/band_hi */
  SD_BEST_R,           /* /contours/best_r */
  SD_BEST_R_OVERALL,   /* /contours/best_r_overall [method][mass] */
  SD_SIGMA5_BEST_R,    /* /contours/sigma5_best_r */
  SD_EFFECTIVE_EVENTS, /* /scan/effective_events [mass] */
  SD_SIGNAL_RATE,      /* /scan/signal_rate [mass] */
  SD_SPECTRA_DRDE,     /* /spectra/dRdE [mass][energy] */
  SD_SPECTRA_ENDPOINT, /* /spectra/endpoint_kev */
  SD_SPECTRA_COUNTS,   /* /spectra/counts_window */
  SD_SPECTRA_ER,       /* /spectra/er_dRdE [energy] */
  SD_SPECTRA_NR_BG,    /* /spectra/nr_bg_dRdE */
  SD_N
} scan_ud;

/* The table itself (schema.c), indexed by scan_ud. */
extern const io_spec scan_datasets[SD_N];

/* Everything one rank needs for its units.  Sized once, before the units. */
typedef struct scan_state {
  const par_world *w;  /* borrowed */
  const scan_job *job; /* borrowed */
  io_file *f;          /* borrowed: the stage's file */
  io_units *units;     /* borrowed while the units run */
  int has_classical, has_toys, nr_bkg;
  int ud_k[UD_N]; /* index of each per-unit dataset in the io_units list, -1 absent */
  int ts_kmax;    /* TS bins per template at most (binning.bins + 2) */
  int cl_nx, cl_ny;
  long long n_points; /* mass x sigma x exposure x r (toy stream ids) */

  /* events (all owned) */
  long n_er, n_nr;
  double *er_ltot, *er_hb, *er_w, *er_cs1, *er_cs2; /* (n_er) ltot = l_rec + beta kl */
  double *nr_ltot, *nr_hb, *nr_e, *nr_cs1, *nr_cs2; /* (n_nr) */
  double *nr_w_sig;                                 /* (n_nr) weights of mass sig_mass */
  double *nr_w_bg;                                  /* (n_nr) NR-background weights or NULL */
  double nr_draws;                                  /* NR bank n_draws_total */
  int sig_mass;                                     /* mass index in nr_w_sig, -1 none */
  phys_sampler q_nr;                                /* the NR bank's reference sampler */
  /* a non-WIMP signal.model: its own scored sample (n_sg = 0 for the WIMP) */
  long n_sg;
  double *sg_ltot, *sg_hb, *sg_cs1, *sg_cs2, *sg_w; /* (n_sg) w = 1/n_draws_total */
  double sig_ref; /* the signal axis' reference: sigma_ref_cm2, or 1 event/(t*y) */
  stats_work work;

  /* one unit's slices (owned) */
  double *p, *z, *logp; /* (n_methods, n_sigma, n_exposure) */
  double *perr;         /* (n_methods, n_sigma, n_exposure): toy p MC error, NaN otherwise */
  long n_toy_err;       /* toy p-values of this rank above stats.toys.max_rel_err */
  double *sig5;         /* (n_methods, n_exposure) cm^2 */
  int32_t *flags;       /* (n_methods, n_exposure) */
  double *mcr;          /* (n_methods, n_exposure): MC-to-data ratio at the contour */
  double *mu5;          /* (n_exposure) */
  unsigned *uflags;     /* (n_exposure) */
  double *sig3;         /* (n_methods, n_exposure) cm^2: 3-sigma evidence contour */
  double *sig5err;      /* (n_methods, n_exposure) cm^2: toy contour MC error, NaN otherwise */
  double *err_e;        /* (n_exposure) scratch */
  int32_t *flags3;      /* (n_methods, n_exposure) */
  double *lim;          /* (3, n_methods, n_exposure, STATS_N_BAND) cm^2: CLs+b, CLs, error */
  int32_t *lim_flags;   /* (n_methods, n_exposure) STATS_LIMIT_* bits */
  double *lim_mu;       /* (3, n_exposure, STATS_N_BAND) one method's limits in mu */
  unsigned *lim_uflags; /* (n_exposure) */
  double *ts_buf;       /* (7, ts_kmax + 1): edges, bkg, bkg_w2, sig, sig_w2, nrb, nrb_w2 */
  int64_t *ts_mc;       /* (ts_kmax) */
  double *cl_buf;       /* classical: x edges (nx+1), y edges (nx, ny+1), 6 x (nx ny) */
  int64_t *cl_mc;       /* (nx ny) */
  /* The classical method does not depend on R: its results for mass cl_mass
   * are kept and copied into the next unit of that mass on this rank (the
   * same bits it would recompute). */
  int cl_mass;             /* mass index of the cache, -1 none */
  int cl_slot;             /* the classical method's index in grid->methods */
  double *cl_cache;        /* (3 n_sigma n_exposure + (3 + 3 STATS_N_BAND) n_exposure): p, z,
                              log p, sigma5, mcr, sigma3, limits */
  int32_t *cl_cache_flags; /* (3 n_exposure): flags, sigma3 flags, limit flags */
  double t_units;          /* seconds spent in units on this rank */

  /* The classical templates' events (mc.c): with stats.classical.mc_events > 0
   * and a detector their own detector MC (owned), else these are unset and
   * the templates take the /scores arrays above. */
  int cl_mc_on;
  long cl_n_er, cl_n_nr;
  double *cl_er_cs1, *cl_er_cs2, *cl_er_w; /* (cl_n_er) ER weights [events/(t y)] */
  double *cl_nr_cs1, *cl_nr_cs2, *cl_nr_e; /* (cl_n_nr) */
  double *cl_nr_w_sig, *cl_nr_w_bg;        /* (cl_n_nr) signal of cl_mass; bkg or NULL */
  long long cl_er_draws, cl_nr_draws;      /* attempts summed over the sample */
  double cl_mc_seconds;                    /* wall time of the MC */
} scan_state;

/* Collective: simulates stats.classical.mc_events ER and NR events at detector
 * level for the classical templates into the cl_ arrays of every rank (mc.c),
 * bit-identical at any rank count. */
dd_status scan_classical_mc(scan_state *s);

/* NR weights of mass index im for the classical MC sample (cl_n_nr). */
void scan_classical_weights(const scan_state *s, int im, double *w);

/* NR weights of mass index im at sigma_ref: w[i] = dR/dE_m(E_i)/q(E_i)/n_draws
 * [events/(t y)] (docs/physics.md §8).  w: (n_nr). */
void scan_mass_weights(const scan_state *s, int im, double *w);

/* par_work_fn: computes unit `unit` and writes its slices, then marks it done. */
dd_status scan_unit_run(void *ctx, long long unit);

/* Toy stream id of grid point (im, is, ie, ir), and of a unit's contour. */
uint32_t scan_point_id(const scan_params *g, int im, int is, int ie, int ir);

#endif /* DDSCAN_SCAN_INTERNAL_H */
