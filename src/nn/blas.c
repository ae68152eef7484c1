/* blas.c - which OpenBLAS kernel this process runs, and whether the CPU
 * offers a better one.  Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) does not
 * recognise every recent CPU and then falls back to a generic SSE3 kernel
 * ("Prescott"), about a fifth of the FMA rate.  The kernel is chosen when the
 * library loads, so the fix is the environment variable OPENBLAS_CORETYPE,
 * set before the process starts (tools/blas-env.sh); docs/performance.md.
 * With another CBLAS (make BLAS=blis ...; no DD_BLAS_OPENBLAS) there is no
 * kernel name to ask for and no advice to give. */
#define _POSIX_C_SOURCE 200809L
#include "nn_internal.h"

#include <stdio.h>
#include <string.h>

#ifdef DD_BLAS_OPENBLAS
/* uses: openblas_get_corename (an OpenBLAS extension) */
extern char *openblas_get_corename(void);
#endif

/* 1 if the "flags" line of /proc/cpuinfo lists `flag` as a whole word. */
static int has_flag(const char *flags, const char *flag) {
  size_t n = strlen(flag);
  for (const char *p = strstr(flags, flag); p; p = strstr(p + 1, flag))
    if ((p == flags || p[-1] == ' ' || p[-1] == '\t' || p[-1] == ':') &&
        (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
      return 1;
  return 0;
}

const char *nn_blas_best_core(void) {
  static char flags[8192];
  FILE *fp = fopen("/proc/cpuinfo", "r");
  if (!fp) return NULL;
  int found = 0;
  while (fgets(flags, sizeof flags, fp))
    if (strncmp(flags, "flags", 5) == 0) {
      found = 1;
      break;
    }
  fclose(fp);
  if (!found) return NULL;
  if (has_flag(flags, "avx512f") && has_flag(flags, "avx512bw") && has_flag(flags, "avx512vl") &&
      has_flag(flags, "avx512dq") && has_flag(flags, "avx512cd"))
    return has_flag(flags, "avx512_bf16") ? "Cooperlake" : "SkylakeX";
  if (has_flag(flags, "avx2") && has_flag(flags, "fma")) return "Haswell";
  if (has_flag(flags, "avx")) return "Sandybridge";
  return NULL;
}

const char *nn_blas_core(void) {
#ifdef DD_BLAS_OPENBLAS
  return openblas_get_corename();
#else
  return "n/a"; /* the same text as dd_provenance's blas_corename */
#endif
}

#ifdef DD_BLAS_OPENBLAS
/* The generic x86-64 kernels OpenBLAS falls back to (no AVX). */
static int is_generic(const char *core) {
  static const char *const generic[] = {
      "Prescott",   "Core2",     "Penryn", "Dunnington", "Nehalem", "Atom",         "Katmai",
      "Coppermine", "Northwood", "Banias", "Athlon",     "Opteron", "Opteron_SSE3", "Barcelona"};
  for (size_t i = 0; i < sizeof generic / sizeof generic[0]; i++)
    if (strcmp(core, generic[i]) == 0) return 1;
  return 0;
}

const char *nn_blas_advice(void) {
  static char msg[512];
  const char *core = nn_blas_core(), *best = nn_blas_best_core();
  if (!core || !best || !is_generic(core)) return NULL;
  snprintf(msg, sizeof msg,
           "OpenBLAS runs its generic '%s' kernel on a CPU that has the instructions of '%s': "
           "GEMMs run several times slower.  Start ddscan through tools/blas-env.sh, or set "
           "OPENBLAS_CORETYPE=%s before it starts (docs/performance.md)",
           core, best, best);
  return msg;
}
#else
const char *nn_blas_advice(void) {
  return NULL;
}
#endif
