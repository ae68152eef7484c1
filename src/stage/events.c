/* events.c - the events file of docs/format.md §10: writer, validating
 * reader, the conversion between a row and the det_event the renderer reads,
 * and the fuzz entry of the reader.  Columns are io_field tables built at
 * run time because the per-PMT columns have the layout's PMT counts. */
#define _POSIX_C_SOURCE 200809L
#include "ddscan/events.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpi.h> /* uses: MPI_Bcast, MPI_COMM_SELF */

#include "ddscan/io.h"  /* uses: io_table_*, io_attr_*, io_dataset_shape */
#include "ddscan/par.h" /* uses: par_agree, par_world_init */

enum { COL_REQ = 0, COL_IMG = 1, COL_OPT = 2 };
enum { N_COLS = 15 };

typedef struct ev_col {
  io_field f;
  int kind;   /* COL_REQ, COL_IMG, COL_OPT */
  int pmt;    /* 0: fixed columns; 1: top array; 2: bottom array */
  double lo;  /* smallest valid value (checked when finite) */
  int nan_ok; /* NaN means unknown (truth) */
} ev_col;

#define EVF(name, type, ncols, units, desc, member) \
  { name, type, ncols, units, desc, offsetof(ev_record, member), NULL }

/* The columns in file order.  Areas get their column count at run time. */
static const ev_col k_cols[N_COLS] = {
    {EVF("event_id", IO_I64, 1, "1", "event id (optional; default: the row number)", event_id),
     COL_OPT, 0, -INFINITY, 0},
    {EVF("cs1", IO_F64, 1, "PE", "corrected S1 area", cs1_pe), COL_REQ, 0, 0.0, 0},
    {EVF("cs2", IO_F64, 1, "PE", "corrected S2 area", cs2_pe), COL_REQ, 0, 0.0, 0},
    {EVF("x", IO_F64, 1, "cm", "reconstructed x", x_cm), COL_IMG, 0, -INFINITY, 0},
    {EVF("y", IO_F64, 1, "cm", "reconstructed y", y_cm), COL_IMG, 0, -INFINITY, 0},
    {EVF("drift_time", IO_F64, 1, "us", "drift time (S2 centre - S1 start)", drift_time_us),
     COL_IMG, 0, 0.0, 0},
    {EVF("s1_window", IO_F32, 1, "ns", "S1 window that the 37 waveform columns span", s1_window_ns),
     COL_IMG, 0, 0.0, 0},
    {EVF("s2_window", IO_F32, 1, "ns", "S2 window that the 37 waveform columns span", s2_window_ns),
     COL_IMG, 0, 0.0, 0},
    {EVF("s1_waveform", IO_F32, DET_WF_COLS, "PE/sample",
         "S1 sum waveform: mean PE per waveform_sample_ns sample in each of 37 equal columns of "
         "s1_window",
         s1_wf),
     COL_IMG, 0, 0.0, 0},
    {EVF("s2_waveform", IO_F32, DET_WF_COLS, "PE/sample",
         "S2 sum waveform: mean PE per waveform_sample_ns sample in each of 37 equal columns of "
         "s2_window",
         s2_wf),
     COL_IMG, 0, 0.0, 0},
    {EVF("s1_area_bottom", IO_F32, 2, "PE",
         "S1 area per bottom-array PMT, in the channel order of the layout", s1_area_bottom),
     COL_IMG, 2, 0.0, 0},
    {EVF("s2_area_top", IO_F32, 2, "PE",
         "S2 area per top-array PMT, in the channel order of the layout", s2_area_top),
     COL_IMG, 1, 0.0, 0},
    {EVF("truth_class", IO_I32, 1, "1", "truth (optional): 0 ER, 1 NR, -1 unknown", truth_class),
     COL_OPT, 0, -1.0, 0},
    {EVF("truth_energy", IO_F64, 1, "keV",
         "truth (optional): recoil energy, keVee (ER) or keVnr (NR), NaN unknown",
         truth_energy_kev),
     COL_OPT, 0, 0.0, 1},
    {EVF("truth_source", IO_I32, 1, "1",
         "truth (optional): 0 er, 1 nr_bkg, 2 wimp, 3 nr_reference (root attribute source_names), "
         "-1 unknown",
         truth_source),
     COL_OPT, 0, -1.0, 0},
};

static const char *const k_source_names[EV_N_SOURCES] = {"er", "nr_bkg", "signal", "nr_reference"};

const char *ev_source_name(int source) {
  return source >= 0 && source < EV_N_SOURCES ? k_source_names[source] : "unknown";
}

const char *ev_signal_name(int model) {
  static const char *const names[4] = {"wimp", "er_line", "tritium", "cevns"};
  return model >= 0 && model < 4 ? names[model] : "unknown";
}

const char *ev_layout_name(int layout) {
  return layout == DET_LAYOUT_X1T ? "x1t" : "xent";
}

/* PMT counts of a named layout (src/detector/layout.c). */
static int layout_counts(const char *name, int *n_top, int *n_bottom) {
  if (strcmp(name, "xent") == 0) {
    *n_top = 253;
    *n_bottom = 241;
    return 1;
  }
  if (strcmp(name, "x1t") == 0) {
    *n_top = 127;
    *n_bottom = 121;
    return 1;
  }
  return 0;
}

static void col_field(const ev_col *c, int n_top, int n_bottom, io_field *out) {
  *out = c->f;
  if (c->pmt == 1) out->ncols = n_top;
  if (c->pmt == 2) out->ncols = n_bottom;
}

void ev_record_from_event(const det_event *ev, int source, ev_record *r) {
  memset(r, 0, sizeof *r);
  r->event_id = (int64_t)ev->index;
  r->cs1_pe = ev->cs1_pe;
  r->cs2_pe = ev->cs2_pe;
  r->x_cm = ev->x_rec_cm;
  r->y_cm = ev->y_rec_cm;
  r->drift_time_us = ev->drift_time_us;
  r->truth_energy_kev = ev->energy_kev;
  r->s1_window_ns = ev->s1_window_ns;
  r->s2_window_ns = ev->s2_window_ns;
  r->truth_class = ev->cls;
  r->truth_source = source;
  memcpy(r->s1_wf, ev->s1_wf, sizeof r->s1_wf);
  memcpy(r->s2_wf, ev->s2_wf, sizeof r->s2_wf);
  memcpy(r->s1_area_bottom, ev->s1_pmt_bottom_pe, sizeof r->s1_area_bottom);
  memcpy(r->s2_area_top, ev->s2_pmt_top_pe, sizeof r->s2_area_top);
}

void ev_record_to_event(const ev_record *r, int n_top, int n_bottom, det_event *ev) {
  memset(ev, 0, sizeof *ev);
  ev->index = (uint64_t)r->event_id;
  ev->attempts = 1;
  ev->cls = r->truth_class;
  ev->energy_kev = r->truth_energy_kev;
  ev->cs1_pe = r->cs1_pe;
  ev->cs2_pe = r->cs2_pe;
  ev->x_rec_cm = r->x_cm;
  ev->y_rec_cm = r->y_cm;
  ev->drift_time_us = r->drift_time_us;
  ev->s1_window_ns = r->s1_window_ns;
  ev->s2_window_ns = r->s2_window_ns;
  ev->weight = 1.0;
  ev->n_pmt_top = n_top;
  ev->n_pmt_bottom = n_bottom;
  memcpy(ev->s1_wf, r->s1_wf, sizeof ev->s1_wf);
  memcpy(ev->s2_wf, r->s2_wf, sizeof ev->s2_wf);
  memcpy(ev->s1_pmt_bottom_pe, r->s1_area_bottom, sizeof(float) * (size_t)n_bottom);
  memcpy(ev->s2_pmt_top_pe, r->s2_area_top, sizeof(float) * (size_t)n_top);
}

dd_status ev_file_write(const par_world *w, const char *path, const det_model *det,
                        const ev_record *rows, long long n_local, io_file **f) {
  const int n_top = det->arr[DET_TOP].n, n_bottom = det->arr[DET_BOTTOM].n;
  io_field fields[N_COLS];
  for (int i = 0; i < N_COLS; i++) col_field(&k_cols[i], n_top, n_bottom, &fields[i]);
  fields[10].col_axis = "pmt_bottom";
  fields[11].col_axis = "pmt_top";
  fields[8].col_axis = fields[9].col_axis = "wf_col";
  *f = NULL;
  DD_TRY(io_file_create(w, path, f), "events file '%s'", path);
  char src[128];
  snprintf(src, sizeof src, "0: %s, 1: %s, 2: %s, 3: %s", k_source_names[0], k_source_names[1],
           k_source_names[2], k_source_names[3]);
  dd_status st = io_attr_write_int(*f, "/", "ddscan_events_version", EV_FORMAT_VERSION);
  if (st == DD_OK) st = io_attr_write_string(*f, "/", "layout", ev_layout_name(det->p.layout));
  if (st == DD_OK) st = io_attr_write_string(*f, "/", "detector_preset", det->p.preset_name);
  if (st == DD_OK) st = io_attr_write_int(*f, "/", "n_pmt_top", n_top);
  if (st == DD_OK) st = io_attr_write_int(*f, "/", "n_pmt_bottom", n_bottom);
  if (st == DD_OK) st = io_attr_write_int(*f, "/", "waveform_columns", DET_WF_COLS);
  if (st == DD_OK) st = io_attr_write_double(*f, "/", "waveform_sample_ns", DET_SAMPLE_NS);
  if (st == DD_OK) st = io_attr_write_string(*f, "/", "source_names", src);
  if (st == DD_OK)
    st = io_table_write(*f, EV_GROUP, fields, N_COLS, "event row", rows, sizeof *rows, n_local);
  if (st != DD_OK) {
    io_file_close(f);
    return DD_CONTEXT(st, "events file '%s'", path);
  }
  return DD_OK;
}

/* 64-bit FNV-1a over the file's bytes (rank 0 reads, all get the hex). */
static dd_status file_hash(const par_world *w, const char *path, char hex[17]) {
  dd_status st = DD_OK;
  uint64_t h = DD_HASH_INIT;
  if (w->rank == 0) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
      st = DD_FAIL(DD_ERR_ARG, "events file '%s' cannot be read", path);
    } else {
      unsigned char buf[65536];
      size_t got;
      while ((got = fread(buf, 1, sizeof buf, fp)) > 0) h = dd_hash_bytes(h, buf, got);
      if (ferror(fp)) st = DD_FAIL(DD_ERR_IO, "reading events file '%s'", path);
      fclose(fp);
    }
  }
  DD_TRY(par_agree(w, st), "hashing '%s'", path);
  if (w->comm != MPI_COMM_NULL) MPI_Bcast(&h, 1, MPI_UINT64_T, 0, w->comm);
  io_hash_hex(h, hex);
  return DD_OK;
}

/* Shape check of a present column: [n] or [n][ncols]; sets *n from the
 * first column it sees. */
static dd_status check_shape(io_file *f, const char *file, const io_field *fl, long long *n) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", EV_GROUP, fl->path);
  int rank = 0;
  long long dims[IO_MAX_RANK];
  DD_TRY(io_dataset_shape(f, path, &rank, dims), "events file '%s'", file);
  const int want = fl->ncols > 1 ? 2 : 1;
  if (rank != want || (want == 2 && dims[1] != fl->ncols)) {
    if (want == 1)
      return DD_FAIL(DD_ERR_ARG, "events file '%s': dataset %s must be 1-D [n], it has rank %d",
                     file, path, rank);
    return DD_FAIL(
        DD_ERR_ARG, "events file '%s': dataset %s must be [n][%d] (%s), it is %s[%lld]%s", file,
        path, fl->ncols, fl->ncols == DET_WF_COLS ? "37 waveform columns" : "one column per PMT",
        rank >= 1 ? "" : "scalar", rank >= 1 ? dims[0] : 0LL,
        rank == 2 ? (dims[1] == fl->ncols ? "" : "[wrong column count]") : "");
  }
  if (*n >= 0 && dims[0] != *n)
    return DD_FAIL(DD_ERR_ARG, "events file '%s': dataset %s has %lld rows, cs1 has %lld", file,
                   path, dims[0], *n);
  *n = dims[0];
  return DD_OK;
}

static dd_status open_checked(io_file *f, const char *path, const det_model *det, ev_info *in) {
  long long version = -1;
  if (!io_attr_exists(f, "/", "ddscan_events_version"))
    return DD_FAIL(DD_ERR_ARG,
                   "'%s' is not a ddscan events file: the root attribute ddscan_events_version is "
                   "missing (docs/format.md §10)",
                   path);
  DD_TRY(io_attr_read_int(f, "/", "ddscan_events_version", &version), "events file '%s'", path);
  if (version != EV_FORMAT_VERSION)
    return DD_FAIL(DD_ERR_ARG,
                   "events file '%s': ddscan_events_version is %lld, this ddscan reads version %d",
                   path, version, EV_FORMAT_VERSION);
  in->version = (int)version;
  if (!io_exists(f, EV_GROUP))
    return DD_FAIL(DD_ERR_ARG, "events file '%s': the group %s is missing", path, EV_GROUP);
  int present[N_COLS], n_img = 0, n_img_all = 0;
  char path_buf[256];
  for (int i = 0; i < N_COLS; i++) {
    snprintf(path_buf, sizeof path_buf, "%s/%s", EV_GROUP, k_cols[i].f.path);
    present[i] = io_exists(f, path_buf);
    if (k_cols[i].kind == COL_REQ && !present[i])
      return DD_FAIL(DD_ERR_ARG, "events file '%s': dataset %s is missing (every file needs it)",
                     path, path_buf);
    if (k_cols[i].kind == COL_IMG) {
      n_img_all++;
      n_img += present[i];
    }
  }
  in->has_images = n_img == n_img_all;
  if (n_img > 0 && !in->has_images) {
    for (int i = 0; i < N_COLS; i++)
      if (k_cols[i].kind == COL_IMG && !present[i])
        return DD_FAIL(DD_ERR_ARG,
                       "events file '%s': dataset %s/%s is missing: the image columns come all "
                       "together or not at all (a cS1/cS2-only file serves the classical method)",
                       path, EV_GROUP, k_cols[i].f.path);
  }
  in->missing[0] = '\0';
  if (!in->has_images)
    for (int i = 0; i < N_COLS; i++)
      if (k_cols[i].kind == COL_IMG) {
        size_t len = strlen(in->missing);
        snprintf(in->missing + len, sizeof in->missing - len, "%s%s", len ? ", " : "",
                 k_cols[i].f.path);
      }
  in->n_top = in->n_bottom = 0;
  if (in->has_images) {
    char *layout = NULL;
    if (!io_attr_exists(f, "/", "layout"))
      return DD_FAIL(DD_ERR_ARG,
                     "events file '%s': the root attribute `layout` (\"xent\" or \"x1t\") is "
                     "missing; it names the channel order of the PMT area columns",
                     path);
    DD_TRY(io_attr_read_string(f, "/", "layout", &layout), "events file '%s'", path);
    snprintf(in->layout, sizeof in->layout, "%s", layout);
    int ok = layout_counts(layout, &in->n_top, &in->n_bottom);
    free(layout);
    if (!ok)
      return DD_FAIL(DD_ERR_ARG,
                     "events file '%s': unknown layout '%s' (root attribute `layout`: \"xent\" "
                     "or \"x1t\")",
                     path, in->layout);
    if (det) {
      const char *want = ev_layout_name(det->p.layout);
      if (strcmp(want, in->layout) != 0 || det->arr[DET_TOP].n != in->n_top ||
          det->arr[DET_BOTTOM].n != in->n_bottom)
        return DD_FAIL(DD_ERR_ARG,
                       "events file '%s': layout '%s' (%d top, %d bottom PMTs), but the "
                       "configuration's detector has layout '%s' (%d top, %d bottom PMTs)",
                       path, in->layout, in->n_top, in->n_bottom, want, det->arr[DET_TOP].n,
                       det->arr[DET_BOTTOM].n);
    }
  }
  long long n = -1;
  /* cs1 first: it sets the row count the others must match */
  io_field fl;
  col_field(&k_cols[1], in->n_top, in->n_bottom, &fl);
  DD_TRY(check_shape(f, path, &fl, &n), "events");
  for (int i = 0; i < N_COLS; i++)
    if (present[i] && (in->has_images || k_cols[i].kind != COL_IMG)) {
      col_field(&k_cols[i], in->n_top, in->n_bottom, &fl);
      DD_TRY(check_shape(f, path, &fl, &n), "events");
    }
  in->n = n;
  in->has_id = present[0];
  for (int t = 0; t < 3; t++) in->has_truth[t] = present[12 + t];
  return DD_OK;
}

dd_status ev_file_open(const par_world *w, const char *path, const det_model *det, io_file **f,
                       ev_info *info) {
  memset(info, 0, sizeof *info);
  *f = NULL;
  dd_status st = DD_OK;
  if (w->rank == 0 && !dd_path_exists(path))
    st = DD_FAIL(DD_ERR_ARG, "events file '%s' does not exist", path);
  DD_TRY(par_agree(w, st), "events");
  DD_TRY(file_hash(w, path, info->hash_hex), "events");
  st = io_file_open(w, path, IO_READ, f);
  if (st != DD_OK) {
    char msg[768];
    snprintf(msg, sizeof msg, "%s", dd_error_message());
    return DD_FAIL(DD_ERR_ARG, "events file '%s' is not a readable HDF5 file: %s", path, msg);
  }
  st = open_checked(*f, path, det, info);
  if (st != DD_OK) io_file_close(f);
  return st;
}

/* Value checks of one column over rows [first, first + n). */
static dd_status check_values(const char *file, const ev_col *c, const io_field *fl,
                              const ev_record *rows, long long first, long long n) {
  for (long long i = 0; i < n; i++) {
    const char *base = (const char *)&rows[i] + fl->offset;
    for (int j = 0; j < fl->ncols; j++) {
      double v;
      switch (fl->type) {
        case IO_F64:
          v = ((const double *)base)[j];
          break;
        case IO_F32:
          v = ((const float *)base)[j];
          break;
        case IO_I32:
          v = ((const int32_t *)base)[j];
          break;
        default:
          v = (double)((const int64_t *)base)[j];
          break;
      }
      const char *why = NULL;
      if (isnan(v) && !c->nan_ok)
        why = "NaN";
      else if (isinf(v))
        why = "infinite";
      else if (v < c->lo)
        why = "below its smallest valid value";
      else if (c->kind == COL_REQ && !(v > 0.0))
        why = "not positive";
      else if (fl->type == IO_I32 && c->lo == -1.0 &&
               v >= (strcmp(fl->path, "truth_class") == 0 ? 2 : EV_N_SOURCES))
        why = "not a known code";
      if (why) {
        if (fl->ncols > 1)
          return DD_FAIL(DD_ERR_ARG,
                         "events file '%s': dataset %s/%s row %lld column %d is %s (%g)", file,
                         EV_GROUP, fl->path, first + i, j, why, v);
        return DD_FAIL(DD_ERR_ARG, "events file '%s': dataset %s/%s row %lld is %s (%g)", file,
                       EV_GROUP, fl->path, first + i, why, v);
      }
    }
  }
  return DD_OK;
}

dd_status ev_file_read(io_file *f, const ev_info *info, long long first, long long n,
                       ev_record *rows) {
  const char *file = io_file_final_path(f);
  io_field fields[N_COLS];
  const ev_col *cols[N_COLS];
  int nf = 0;
  for (int i = 0; i < N_COLS; i++) {
    const ev_col *c = &k_cols[i];
    int use = c->kind == COL_REQ || (c->kind == COL_IMG && info->has_images) ||
              (i == 0 && info->has_id) || (i >= 12 && info->has_truth[i - 12]);
    if (!use) continue;
    col_field(c, info->n_top, info->n_bottom, &fields[nf]);
    cols[nf++] = c;
  }
  for (long long i = 0; i < n; i++) {
    memset(&rows[i], 0, sizeof rows[i]);
    rows[i].event_id = first + i;
    rows[i].truth_class = -1;
    rows[i].truth_source = -1;
    rows[i].truth_energy_kev = NAN;
  }
  DD_TRY(io_table_read(f, EV_GROUP, fields, nf, first, n, rows, sizeof *rows), "events file '%s'",
         file);
  dd_status st = DD_OK;
  for (int k = 0; k < nf && st == DD_OK; k++)
    st = check_values(file, cols[k], &fields[k], rows, first, n);
  return par_agree(io_file_world(f), st);
}

int ev_fuzz_one(const uint8_t *data, size_t size) {
  char path[] = "/tmp/ddscan-fuzz-events-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return 1;
  size_t done = 0;
  while (done < size) {
    ssize_t k = write(fd, data + done, size - done);
    if (k <= 0) break;
    done += (size_t)k;
  }
  close(fd);
  par_world w;
  par_world_init(&w, MPI_COMM_SELF);
  io_file *f = NULL;
  ev_info info;
  int rc = 1;
  if (done == size && ev_file_open(&w, path, NULL, &f, &info) == DD_OK) {
    ev_record *rows = NULL;
    long long n = info.n < 64 ? info.n : 64; /* a bounded read: the values are the target */
    if (dd_calloc((void **)&rows, (size_t)(n > 0 ? n : 1), sizeof *rows, "fuzz rows") == DD_OK)
      rc = ev_file_read(f, &info, 0, n, rows) == DD_OK ? 0 : 1;
    free(rows);
  }
  io_file_close(&f);
  dd_error_clear();
  unlink(path);
  return rc;
}
