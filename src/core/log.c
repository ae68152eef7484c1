/* log.c - rank-aware logging with a "[rank/size] +elapsed_s" prefix (INFO
 * from rank 0 only, WARN/ERROR from any rank) and a rank-0 progress meter. */
#define _POSIX_C_SOURCE 200809L
#include "ddscan/core.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static int g_rank = 0, g_size = 1;
static dd_log_level g_level = DD_LOG_INFO;
static double g_t0 = -1.0;

double dd_time_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double dd_time_elapsed(void) {
  if (g_t0 < 0) g_t0 = dd_time_now();
  return dd_time_now() - g_t0;
}

void dd_log_init(int rank, int size, dd_log_level level) {
  g_rank = rank;
  g_size = size;
  g_level = level;
  if (g_t0 < 0) g_t0 = dd_time_now();
}

dd_log_level dd_log_get_level(void) {
  return g_level;
}
int dd_log_rank(void) {
  return g_rank;
}

/* One line in one write: stderr is unbuffered, and mpirun merges the ranks'
 * stdout and stderr, so a line written in pieces could be split by another
 * stream's line (seen in tests/e2e/scan.sh under load). */
static void vlog(FILE *fp, const char *tag, const char *fmt, va_list ap) {
  char line[2048];
  int n = snprintf(line, sizeof line, "[%d/%d] +%.1fs %s", g_rank, g_size, dd_time_elapsed(), tag);
  if (n < 0) n = 0;
  if ((size_t)n < sizeof line - 1) {
    int m = vsnprintf(line + n, sizeof line - 1 - (size_t)n, fmt, ap);
    if (m > 0) n += m;
  }
  if ((size_t)n > sizeof line - 2) n = (int)sizeof line - 2;
  line[n] = '\n';
  line[n + 1] = '\0';
  fputs(line, fp);
  fflush(fp);
}

void dd_info(const char *fmt, ...) {
  if (g_rank != 0 || g_level < DD_LOG_INFO) return;
  va_list ap;
  va_start(ap, fmt);
  vlog(stdout, "", fmt, ap);
  va_end(ap);
}

void dd_debug(const char *fmt, ...) {
  if (g_rank != 0 || g_level < DD_LOG_DEBUG) return;
  va_list ap;
  va_start(ap, fmt);
  vlog(stdout, "debug: ", fmt, ap);
  va_end(ap);
}

void dd_warn(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog(stderr, "warning: ", fmt, ap);
  va_end(ap);
}

void dd_log_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog(stderr, "error: ", fmt, ap);
  va_end(ap);
}

void dd_progress_start(dd_progress *p, const char *label, const char *unit, double total) {
  p->label = label;
  p->unit = unit;
  p->total = total;
  p->t_start = p->t_last = dd_time_now();
  p->interval_s = 5.0;
}

static void progress_print(dd_progress *p, double done, double now) {
  double dt = now - p->t_start;
  double rate = dt > 0 ? done / dt : 0.0;
  double eta = (rate > 0 && p->total > done) ? (p->total - done) / rate : 0.0;
  dd_info("%s: %.0f/%.0f (%.0f%%) %.1f %s/s ETA %.0fs", p->label, done, p->total,
          p->total > 0 ? 100.0 * done / p->total : 100.0, rate, p->unit, eta);
}

void dd_progress_update(dd_progress *p, double done) {
  double now = dd_time_now();
  if (now - p->t_last < p->interval_s) return;
  p->t_last = now;
  progress_print(p, done, now);
}

void dd_progress_end(dd_progress *p, double done) {
  progress_print(p, done, dd_time_now());
}
