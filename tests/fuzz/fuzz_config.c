/* fuzz_config.c - libFuzzer harness: the bytes are a configuration file,
 * parsed and validated as `ddscan check-config FILE` does (fuzz_common.h).
 * Seeds: configs/ and tests/data/cfg_{bad,ok}/ (tools/fuzz.sh). */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_quiet();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cfg_doc *cfg = NULL;
  if (cfg_parse_n(&cfg, (const char *)data, size, "fuzz.cfg") != DD_OK) {
    dd_error_clear();
    return 0;
  }
  fuzz_check(cfg);
  return 0;
}
