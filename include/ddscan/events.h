/* events.h - the events file (docs/format.md §10): observed or simulated
 * events in one HDF5 file, versioned by the root attribute
 * ddscan_events_version, that `ddscan analyse` reads and `ddscan export` /
 * `ddscan inject` write.  A row holds exactly what the image renderer needs
 * (src/image/render.c reads the per-PMT areas of the S1 on the bottom array
 * and of the S2 on the top array, the 37-column S1 and S2 waveform summaries
 * with their window lengths, the drift time and the reconstructed x, y),
 * cS1 and cS2 for the classical method, an event id and optional truth.  A
 * file with only cS1 and cS2 is valid for the classical method alone.
 * Part of the stage layer (it uses io, detector and image); collective over
 * the world of the io_file unless a function says otherwise. */
#ifndef DDSCAN_EVENTS_H
#define DDSCAN_EVENTS_H

#include <stdint.h>

#include "ddscan/core.h"     /* uses: dd_status */
#include "ddscan/detector.h" /* uses: det_event, det_model, DET_* sizes */
#include "ddscan/io.h"       /* uses: io_file, io_field */
#include "ddscan/par.h"      /* uses: par_world */
#include "ddscan/stage.h"    /* uses: stage_ctx */

#define EV_FORMAT_VERSION 1 /* root attribute ddscan_events_version */
#define EV_GROUP "/events"  /* every column lives here, one dataset per column */

/* The truth source codes of column truth_source (root attribute
 * source_names lists them). */
enum {
  EV_SOURCE_ER = 0,     /* ER background */
  EV_SOURCE_NR_BKG = 1, /* NR backgrounds (CEvNS, neutrons) */
  EV_SOURCE_SIGNAL = 2, /* the injected signal (WIMP, ER line, tritium or CEvNS) */
  EV_SOURCE_NR_REF = 3, /* the NR bank's reference spectrum (export) */
  EV_N_SOURCES = 4
};
/* "er", "nr_bkg", "signal", "nr_reference". */
const char *ev_source_name(int source);

/* One row of the file in memory (8-byte fields, then 4-byte ones: no
 * padding).  Area arrays hold n_pmt_bottom / n_pmt_top values of the
 * layout; the rest of the capacity is unused. */
typedef struct ev_record {
  int64_t event_id;         /* event id (file: optional, default = row) */
  double cs1_pe, cs2_pe;    /* corrected S1 and S2 [PE] */
  double x_cm, y_cm;        /* reconstructed position [cm] */
  double drift_time_us;     /* drift time [us] */
  double truth_energy_kev;  /* optional truth: keVee (ER) or keVnr (NR), NaN unknown */
  float s1_window_ns;       /* displayed S1 window the waveform columns span [ns] */
  float s2_window_ns;       /* displayed S2 window [ns] */
  int32_t truth_class;      /* optional truth: 0 ER, 1 NR, -1 unknown */
  int32_t truth_source;     /* optional truth: EV_SOURCE_*, -1 unknown */
  float s1_wf[DET_WF_COLS]; /* S1 sum waveform, PE per 10-ns sample, 37 columns */
  float s2_wf[DET_WF_COLS]; /* S2 sum waveform */
  float s1_area_bottom[DET_MAX_PMT_BOTTOM]; /* (n_pmt_bottom) S1 area per bottom PMT [PE] */
  float s2_area_top[DET_MAX_PMT_TOP];       /* (n_pmt_top) S2 area per top PMT [PE] */
} ev_record;

/* What a file holds (ev_file_open fills it; every rank the same). */
typedef struct ev_info {
  int version;         /* ddscan_events_version */
  long long n;         /* events */
  int has_images;      /* the image columns are present: the TS methods can run */
  int has_id;          /* event_id present (else the row number) */
  int has_truth[3];    /* truth_class, truth_energy_kev, truth_source */
  int n_top, n_bottom; /* PMTs of the layout named by the attribute `layout` */
  char layout[16];     /* "xent" or "x1t" ("" for a cS1/cS2-only file) */
  char missing[256];   /* image columns absent from a cS1/cS2-only file (for messages) */
  char hash_hex[17];   /* 64-bit FNV-1a of the file's bytes */
} ev_info;

/* "xent" / "x1t" for a det_layout_kind. */
const char *ev_layout_name(int layout);

/* Converts between a simulated event and a row (source: EV_SOURCE_*, -1
 * unknown).  ev_record_to_event fills every field the renderer and the
 * classical method read and zeroes the rest (truth copied when known). */
void ev_record_from_event(const det_event *ev, int source, ev_record *r);
void ev_record_to_event(const ev_record *r, int n_top, int n_bottom, det_event *ev);

/* Collective: creates "<path>.tmp" with the root attributes of the format for
 * detector model det (layout, PMT counts, waveform columns and sample), then
 * writes every rank's n_local rows in rank order.  The caller may add
 * attributes to the open file, then io_file_commit(f). */
dd_status ev_file_write(const par_world *w, const char *path, const det_model *det,
                        const ev_record *rows, long long n_local, io_file **f);

/* Collective: opens an events file and validates everything but the values
 * (the version, the columns present and their shapes; when det is not NULL
 * and the file has images, the layout against det's).  Errors are
 * DD_ERR_ARG (exit 2) naming the file and the dataset. */
dd_status ev_file_open(const par_world *w, const char *path, const det_model *det, io_file **f,
                       ev_info *info);
/* Collective: rows [first, first + n) (each rank its own range) with the
 * values checked: finite numbers, non-negative areas and waveforms, cS1 and
 * cS2 > 0; an error (DD_ERR_ARG) names the dataset and the row. */
dd_status ev_file_read(io_file *f, const ev_info *info, long long first, long long n,
                       ev_record *rows);

/* Not collective: the libFuzzer entry for the reader: writes data[0..size)
 * to a temporary file and runs ev_file_open + ev_file_read over every row on
 * a one-rank world (MPI must be initialised).  Returns 0 for a valid file,
 * 1 for a refused one; anything else (crash, sanitizer report) is a bug. */
int ev_fuzz_one(const uint8_t *data, size_t size);

/* ======================================================================== */
/* Commands on events files (src/stage/inject.c, src/stage/analyse.c)        */
/* ======================================================================== */

/* Collective: `ddscan export`: events [0, n_er) and [0, n_nr) of the
 * analysis samples of this configuration (the very events the score stage
 * scores: same streams, same energy samplers), ER rows then NR rows, with
 * truth (class, energy, source er / nr_reference), into `out`. */
dd_status stage_export(stage_ctx *x, const char *out, long long n_er, long long n_nr);

/* The signal models of `ddscan inject --signal`. */
typedef enum ev_signal_model {
  EV_SIGNAL_WIMP = 0,    /* SI WIMP (mass_gev, sigma_cm2), NR */
  EV_SIGNAL_ER_LINE = 1, /* mono-energetic ER at line_kev keVee (rate_ty) */
  EV_SIGNAL_TRITIUM = 2, /* tritium beta spectrum, Q = 18.591 keV, ER (rate_ty) */
  EV_SIGNAL_CEVNS = 3    /* solar 8B CEvNS of physics (its rate, or rate_ty), NR */
} ev_signal_model;
/* "wimp", "er_line", "tritium", "cevns". */
const char *ev_signal_name(int model);
/* Tritium beta spectrum (unnormalised, keV), Q = EV_TRITIUM_Q_KEV: the
 * density of `inject --signal tritium` and of signal.model = "tritium". */
#define EV_TRITIUM_Q_KEV 18.591
double ev_tritium_density(const void *ctx, double e);

/* What `ddscan inject` draws. */
typedef struct ev_inject_opts {
  int signal_model;   /* ev_signal_model */
  double mass_gev;    /* WIMP mass (ignored when sigma_cm2 = 0) */
  double sigma_cm2;   /* SI WIMP-nucleon cross-section, 0: no WIMP */
  double line_kev;    /* er_line energy, keVee */
  double rate_ty;     /* signal interactions per t*y (er_line, tritium; cevns: NAN = physics) */
  double exposure_ty; /* tonne-years */
  uint32_t seed;      /* the data set's seed (the detector is run.seed's) */
  const char *out;
} ev_inject_opts;

/* Collective: `ddscan inject`: a Poisson pseudo-data set.  For each source
 * (ER background on [er.e_min, er.e_max] keVee; the enabled NR backgrounds
 * and the WIMP on the NR reference range) the number of interactions is
 * N ~ Poisson(E x R) with R the source's integrated rate, and each one is
 * simulated through the detector (the configuration's detector model)
 * and kept when the acceptance passes, so the accepted count is Poisson
 * with mean E x R x acceptance, exactly what the scan's templates estimate.
 * Events are ordered by a uniform time in the exposure (sources mixed).
 * Every draw is keyed by (seed, source, draw): rank-invariant.  Root
 * attributes record the truth (docs/format.md §10). */
dd_status stage_inject(stage_ctx *x, const ev_inject_opts *o);

/* What `ddscan analyse` reads and writes. */
typedef struct ev_analyse_opts {
  const char *data;   /* the events file */
  const char *out;    /* output file; NULL: <run.output_dir>/observed.h5 */
  double exposure_ty; /* NAN: the file's root attribute exposure_ty */
  long toys;          /* toys of the toy-calibrated p of sound and classical (0: none);
                         the `toys` method uses stats.toys.count */
} ev_analyse_opts;

/* Collective: `ddscan analyse`: scores the events with this
 * configuration's trained networks (stage_score_blocks), histograms them on
 * the templates of the scan in results.h5 (which must be current) and
 * evaluates every method at every mass (and R): background-only p and Z,
 * the best-fit cross-section and the 90 % CL upper limit.  Writes `out` and
 * prints the table on rank 0. */
dd_status stage_analyse(stage_ctx *x, const ev_analyse_opts *o);

#endif /* DDSCAN_EVENTS_H */
