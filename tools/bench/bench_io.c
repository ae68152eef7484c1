/* bench_io.c - what the results file costs, measured side by side with plain
 * POSIX I/O on the same disk in one run: (1) a scan work unit (a Fig. 9
 * slice of 3 methods x 41 sigma x 41 exposures doubles, io_unit_write +
 * io_unit_done with its fsync) against pwrite + fsync of the same bytes;
 * (2) carrying a 32 MiB table over to the next stage (io_copy) against a
 * read/write file copy.  Prints ratios; asserts nothing. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpi.h>

#include "ddscan/core.h"
#include "ddscan/io.h"
#include "ddscan/par.h"

enum { N_M = 3, N_S = 41, N_E = 41, N_MASS = 4, N_R = 16, N_ROWS = 1 << 19, N_COLS = 8 };

static void die(const char *what) {
  fprintf(stderr, "bench_io: %s: %s\n", what, dd_error_chain());
  MPI_Abort(MPI_COMM_WORLD, 1);
}
#define OK(x) \
  if ((x) != DD_OK) die(#x)

static double posix_units(const char *path, const double *slice, size_t bytes, int n) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die("open");
  double t0 = dd_time_now();
  for (int u = 0; u < n; u++) {
    if (pwrite(fd, slice, bytes, (off_t)u * (off_t)bytes) != (ssize_t)bytes) die("pwrite");
    if (fsync(fd) != 0) die("fsync");
    unsigned char one = 1;
    if (pwrite(fd, &one, 1, (off_t)n * (off_t)bytes + u) != 1) die("pwrite");
  }
  double t = dd_time_now() - t0;
  close(fd);
  return t;
}

static double posix_copy(const char *from, const char *to) {
  double t0 = dd_time_now();
  int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (in < 0 || out < 0) die("open");
  static char buf[1 << 20];
  ssize_t n;
  while ((n = read(in, buf, sizeof buf)) > 0)
    if (write(out, buf, (size_t)n) != n) die("write");
  if (fsync(out) != 0) die("fsync");
  close(in);
  close(out);
  return dd_time_now() - t0;
}

/* Writes every unit of a 3 x 4 x 41 x 41 x 16 p-value array one by one, with
 * the unit axes (mass, R) at dims 1 and 4 (contig = 0) or 0 and 1 (contig =
 * 1); returns the seconds spent in io_unit_write + io_unit_done. */
static double unit_run(const par_world *w, const char *dir, int contig, const double *slice,
                       long long *n_units) {
  char path[256];
  snprintf(path, sizeof path, "%s/units%d.h5", dir, contig);
  io_file *f = NULL;
  OK(io_file_create(w, path, &f));
  double mass[N_MASS] = {10, 50, 500, 1000}, r[N_R], sig[N_S], ex[N_E];
  for (int i = 0; i < N_R; i++) r[i] = 10.0 * i;
  for (int i = 0; i < N_S; i++) sig[i] = 1e-49 * (1.0 + i);
  for (int i = 0; i < N_E; i++) ex[i] = 0.1 * (1.0 + i);
  const char *methods[N_M] = {"paper", "sound", "classical"};
  OK(io_axis_write(f, "/axes/mass_gev", IO_F64, N_MASS, mass, "GeV/c^2", "mass"));
  OK(io_axis_write(f, "/axes/r", IO_F64, N_R, r, "1", "R"));
  OK(io_axis_write(f, "/axes/sigma_cm2", IO_F64, N_S, sig, "cm^2", "sigma"));
  OK(io_axis_write(f, "/axes/exposure_ty", IO_F64, N_E, ex, "t*y", "exposure"));
  OK(io_axis_write_labels(f, "/axes/method", N_M, methods, "method"));
  long long d0[5] = {N_M, N_MASS, N_S, N_E, N_R}, d1[5] = {N_MASS, N_R, N_M, N_S, N_E};
  const char *a0[5] = {"/axes/method", "/axes/mass_gev", "/axes/sigma_cm2", "/axes/exposure_ty",
                       "/axes/r"};
  const char *a1[5] = {"/axes/mass_gev", "/axes/r", "/axes/method", "/axes/sigma_cm2",
                       "/axes/exposure_ty"};
  OK(io_dataset_create(f, "/scan/p_value", IO_F64, 5, contig ? d1 : d0, contig ? a1 : a0, "1",
                       "p"));
  const char *unit_axes[2] = {"/axes/mass_gev", "/axes/r"}, *ds[1] = {"/scan/p_value"};
  io_units *u = NULL;
  long long *todo = NULL, n_todo = 0;
  OK(io_units_begin(f, "/scan/done", 2, unit_axes, 1, ds, 0, 1, &u, &todo, &n_todo));
  double t0 = dd_time_now();
  for (long long i = 0; i < n_todo; i++) {
    OK(io_unit_write(u, 0, todo[i], IO_F64, slice));
    OK(io_unit_done(u, todo[i]));
  }
  double t = dd_time_now() - t0;
  free(todo);
  OK(io_units_end(&u, NULL));
  OK(io_file_commit(&f));
  *n_units = n_todo;
  return t;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  par_world w;
  par_world_init(&w, MPI_COMM_WORLD);
  dd_log_init(w.rank, w.size, DD_LOG_QUIET);
  char dir[] = "/tmp/ddscan-bench-io-XXXXXX";
  if (!mkdtemp(dir)) die("mkdtemp");
  char path[256], raw[256], copy[256];
  snprintf(raw, sizeof raw, "%s/raw.bin", dir);

  /* (1) work units, in the DESIGN layout (R last: a unit's slice is strided)
   * and with the unit axes first (a unit's slice is contiguous) */
  static double slice[N_M * N_S * N_E];
  for (size_t i = 0; i < sizeof slice / sizeof slice[0]; i++) slice[i] = 1.0 / (1.0 + (double)i);
  long long n_units = 0;
  double t_strided = unit_run(&w, dir, 0, slice, &n_units);
  double t_contig = unit_run(&w, dir, 1, slice, &n_units);
  double t_posix = posix_units(raw, slice, sizeof slice, (int)n_units);
  printf(
      "work unit, %zu KiB slice + fsync + done mask, ms/unit: [method][mass][sigma][exposure][r] "
      "%.2f, [mass][r][method][sigma][exposure] %.2f, pwrite+fsync %.2f; ratios to POSIX %.1f "
      "and %.1f\n",
      sizeof slice / 1024, 1e3 * t_strided / (double)n_units, 1e3 * t_contig / (double)n_units,
      1e3 * t_posix / (double)n_units, t_strided / t_posix, t_contig / t_posix);

  /* (2) carrying a table over to the next stage */
  snprintf(path, sizeof path, "%s/table.h5", dir);
  snprintf(copy, sizeof copy, "%s/copy.h5", dir);
  io_file *f = NULL;
  OK(io_file_create(&w, path, &f));
  double *rows = malloc(sizeof(double) * N_ROWS * N_COLS);
  if (!rows) die("malloc");
  for (long long i = 0; i < (long long)N_ROWS * N_COLS; i++) rows[i] = (double)i;
  double cols[N_COLS];
  for (int i = 0; i < N_COLS; i++) cols[i] = i;
  double *idx = malloc(sizeof(double) * N_ROWS);
  if (!idx) die("malloc");
  for (long long i = 0; i < N_ROWS; i++) idx[i] = (double)i;
  OK(io_axis_write(f, "/t/index", IO_F64, N_ROWS, idx, "1", "row"));
  OK(io_axis_write(f, "/t/col", IO_F64, N_COLS, cols, "1", "column"));
  long long td[2] = {N_ROWS, N_COLS};
  const char *tax[2] = {"/t/index", "/t/col"};
  OK(io_dataset_create(f, "/t/x", IO_F64, 2, td, tax, "1", "table"));
  OK(io_write_rows(f, "/t/x", IO_F64, N_ROWS, rows));
  OK(io_file_commit(&f));
  io_file *src = NULL, *dst = NULL;
  double t0 = dd_time_now();
  OK(io_file_open(&w, path, IO_READ, &src));
  OK(io_file_create(&w, copy, &dst));
  OK(io_copy(dst, src, "/", NULL, 0));
  OK(io_file_close(&src));
  OK(io_file_commit(&dst));
  double t_copy = dd_time_now() - t0;
  snprintf(copy, sizeof copy, "%s/copy.bin", dir);
  double t_cp = posix_copy(path, copy);
  double mib = (double)N_ROWS * N_COLS * 8 / 1048576.0;
  printf(
      "stage carry-over of a %.0f MiB table: io_copy %.0f MiB/s, read/write copy %.0f MiB/s, "
      "ratio %.2f\n",
      mib, mib / t_copy, mib / t_cp, t_copy / t_cp);
  free(rows);
  free(idx);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "bench_io: could not remove %s\n", dir);
  MPI_Finalize();
  return 0;
}
