/* fuzz_common.h - what the libFuzzer harnesses of tests/fuzz/ share: the
 * check-config path without MPI (cfg_parse_n, the --set overrides,
 * stage_params_load, the resolved text and the resource estimate, exactly
 * what stage_ctx_load and `ddscan check-config` run after rank 0 has read
 * the file), with the error state cleared after every input.  Built by
 * `make fuzz` only (clang, -fsanitize=fuzzer,address,undefined). */
#ifndef DDSCAN_FUZZ_COMMON_H
#define DDSCAN_FUZZ_COMMON_H

#include <stdlib.h>
#include <string.h>

#include "ddscan/stage.h"

/* Validates the parsed document `cfg` (consumed) as check-config does. */
static void fuzz_check(cfg_doc *cfg) {
  stage_params *p = calloc(1, sizeof *p);
  if (p && stage_params_load(cfg, p) == DD_OK) {
    char *text = NULL;
    if (cfg_resolved_text(cfg, &text) == DD_OK) {
      /* the resolved text must parse again (it becomes /config) */
      cfg_doc *again = NULL;
      if (cfg_parse(&again, text, "resolved") != DD_OK) abort();
      cfg_free(again);
    }
    free(text);
    stage_resources r;
    stage_resources_estimate(p, 1, 1, &r);
  }
  free(p);
  cfg_free(cfg);
  dd_error_clear();
}

static void fuzz_quiet(void) {
  dd_log_init(1, 2, DD_LOG_QUIET); /* a non-zero rank: no INFO lines */
}

#endif
