/* status.c - the per-process error context: the innermost failure plus the
 * context lines callers add on the way up, and dd_panic (STYLE.md §4). */
#include "ddscan/core.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DD_ERR_MAX_LINES 12
#define DD_ERR_LINE_LEN 1024
#define DD_ERR_MSG_LEN 640

/* One process, one thread of our own: a static context is enough. */
static struct {
  dd_status status;
  int n;                                        /* lines recorded */
  char line[DD_ERR_MAX_LINES][DD_ERR_LINE_LEN]; /* [0] = innermost */
  char message[DD_ERR_MSG_LEN];                 /* innermost text only */
  char chain[DD_ERR_MAX_LINES * (DD_ERR_LINE_LEN + 4) + 32];
} g_err;

static dd_panic_handler g_panic_handler;
static int g_nomem_fatal; /* dd_set_nomem_fatal */

void dd_set_nomem_fatal(int on) {
  g_nomem_fatal = on;
}

const char *dd_status_name(dd_status st) {
  switch (st) {
    case DD_OK:
      return "DD_OK";
    case DD_ERR_NOMEM:
      return "DD_ERR_NOMEM";
    case DD_ERR_IO:
      return "DD_ERR_IO";
    case DD_ERR_CONFIG:
      return "DD_ERR_CONFIG";
    case DD_ERR_HDF5:
      return "DD_ERR_HDF5";
    case DD_ERR_MPI:
      return "DD_ERR_MPI";
    case DD_ERR_NUMERIC:
      return "DD_ERR_NUMERIC";
    case DD_ERR_ARG:
      return "DD_ERR_ARG";
    case DD_ERR_INTERNAL:
      return "DD_ERR_INTERNAL";
  }
  return "DD_ERR_UNKNOWN";
}

/* Strips the directory part up to "src/" so messages read "io/results.c:12". */
static const char *short_file(const char *file) {
  const char *p = strstr(file, "src/");
  return p ? p + 4 : file;
}

dd_status dd_error_set(dd_status st, const char *file, int line, const char *func, const char *fmt,
                       ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g_err.message, sizeof g_err.message, fmt, ap);
  va_end(ap);
  g_err.status = st;
  g_err.n = 1;
  snprintf(g_err.line[0], DD_ERR_LINE_LEN, "%s:%d %s: %s", short_file(file), line, func,
           g_err.message);
  /* With other ranks, one rank out of memory may leave them in a collective
   * it never joins: end the job now (STYLE.md §4 rule 3). */
  if (st == DD_ERR_NOMEM && g_nomem_fatal)
    dd_panic(DD_ERR_NOMEM, file, line, func, "out of memory: %s", g_err.message);
  return st;
}

dd_status dd_error_push(dd_status st, const char *file, int line, const char *func, const char *fmt,
                        ...) {
  (void)file;
  (void)line;
  (void)func;
  if (g_err.n == 0) {
    /* A status came back without a recorded site (should not happen): keep
     * the chain meaningful anyway. */
    g_err.status = st;
    snprintf(g_err.line[0], DD_ERR_LINE_LEN, "%s:%d %s: (no detail)", short_file(file), line, func);
    g_err.message[0] = '\0';
    g_err.n = 1;
  }
  if (g_err.n < DD_ERR_MAX_LINES) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_err.line[g_err.n], DD_ERR_LINE_LEN, fmt, ap);
    va_end(ap);
    g_err.n++;
  }
  return st;
}

dd_status dd_error_status(void) {
  return g_err.n ? g_err.status : DD_OK;
}

const char *dd_error_message(void) {
  return g_err.n ? g_err.message : "";
}

const char *dd_error_chain(void) {
  size_t off = 0, cap = sizeof g_err.chain;
  g_err.chain[0] = '\0';
  if (!g_err.n) return g_err.chain;
  off += (size_t)snprintf(g_err.chain, cap, "%s %s", dd_status_name(g_err.status), g_err.line[0]);
  for (int i = 1; i < g_err.n && off < cap; i++)
    off += (size_t)snprintf(g_err.chain + off, cap - off, " <- %s", g_err.line[i]);
  return g_err.chain;
}

void dd_error_clear(void) {
  g_err.n = 0;
  g_err.status = DD_OK;
  g_err.message[0] = '\0';
}

const char *dd_error_user_message(void) {
  static char buf[DD_ERR_MSG_LEN + 96];
  if (!g_err.n) return "";
  /* a message recorded without detail: the outermost context says what failed */
  const char *msg = g_err.message[0] ? g_err.message : g_err.line[g_err.n - 1];
  const char *prefix = "";
  switch (g_err.status) {
    case DD_ERR_NOMEM:
      prefix = "out of memory: ";
      break;
    case DD_ERR_INTERNAL:
      prefix = "internal error (please report it with the output of -v): ";
      break;
    case DD_ERR_MPI:
      prefix = "MPI: ";
      break;
    default:
      break;
  }
  snprintf(buf, sizeof buf, "%s%s", prefix, msg);
  return buf;
}

void dd_error_print(FILE *fp, int rank) {
  if (dd_log_get_level() < DD_LOG_DEBUG)
    fprintf(fp, "ddscan: error: %s\n", dd_error_user_message());
  else if (rank >= 0)
    fprintf(fp, "ddscan: error: rank %d %s\n", rank, dd_error_chain());
  else
    fprintf(fp, "ddscan: error: %s\n", dd_error_chain());
  fflush(fp);
}

void dd_set_panic_handler(dd_panic_handler h) {
  g_panic_handler = h;
}

_Noreturn void dd_panic(int code, const char *file, int line, const char *func, const char *fmt,
                        ...) {
  char msg[DD_ERR_MSG_LEN];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "ddscan: PANIC rank %d %s:%d %s: %s\n", dd_log_rank(), short_file(file), line,
          func, msg);
  fflush(stdout);
  fflush(stderr);
  if (g_panic_handler) g_panic_handler(code);
  /* The handler (MPI_Abort) must not return; if none is installed, abort. */
  abort();
}
