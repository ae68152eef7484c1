/* provenance.c - what built this binary and which BLAS kernel it runs on.
 * DD_VERSION (the release, file VERSION), DD_GIT_REV, DD_CFLAGS, DD_CC and
 * DD_BLAS_NAME come from the Makefile; DD_BLAS_OPENBLAS when BLAS=openblas. */
#define _POSIX_C_SOURCE 200809L
#include "ddscan/core.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef DD_BLAS_OPENBLAS
/* uses: openblas_get_config, openblas_get_corename (OpenBLAS extensions, not
 * declared in every cblas.h, hence declared here) */
extern char *openblas_get_config(void);
extern char *openblas_get_corename(void);
#endif

#ifndef DD_VERSION
#define DD_VERSION "unknown"
#endif
#ifndef DD_GIT_REV
#define DD_GIT_REV "unknown"
#endif
#ifndef DD_CFLAGS
#define DD_CFLAGS "unknown"
#endif
#ifndef DD_CC
#define DD_CC "unknown"
#endif
#ifndef DD_BLAS_NAME
#define DD_BLAS_NAME "unknown"
#endif

void dd_provenance_get(dd_provenance *p) {
  memset(p, 0, sizeof *p);
  p->version = DD_VERSION;
  p->git_rev = DD_GIT_REV;
#if defined(__VERSION__)
  p->compiler = DD_CC " " __VERSION__;
#else
  p->compiler = DD_CC;
#endif
  p->cflags = DD_CFLAGS;
  p->build_date = __DATE__ " " __TIME__;
#ifdef DD_BLAS_OPENBLAS
  p->blas_config = openblas_get_config();
  p->blas_corename = openblas_get_corename();
#else
  /* Another CBLAS has no portable way to name its build or kernel: the
   * build-time choice (make BLAS=...) is what provenance can say. */
  p->blas_config = "CBLAS " DD_BLAS_NAME " (chosen at build time)";
  p->blas_corename = "n/a";
#endif
  if (gethostname(p->host, sizeof p->host - 1) != 0) snprintf(p->host, sizeof p->host, "unknown");
}

const char *dd_version_string(void) {
  static char buf[512];
  dd_provenance p;
  dd_provenance_get(&p);
  snprintf(buf, sizeof buf, "ddscan %s (git %s) built with %s (BLAS %s: %s; BLAS kernel %s)",
           p.version, p.git_rev, p.compiler, DD_BLAS_NAME, p.blas_config, p.blas_corename);
  return buf;
}
