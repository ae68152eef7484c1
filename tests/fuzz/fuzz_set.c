/* fuzz_set.c - libFuzzer harness for the --set parser: every line of the
 * input is one `--set KEY=VALUE` applied to configs/tiny.cfg (embedded),
 * then the document is validated as check-config does (fuzz_common.h).
 * Seeds: tests/fuzz/set_seeds/ (tools/fuzz.sh). */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char k_tiny[] =
    "run = { name = \"tiny\"; seed = 1; };\n"
    "scan = { mass_gev = [50.0, 500.0]; sigma_cm2 = [1e-46, 1e-45];\n"
    "         exposure_ty = [1.0, 5.0]; r = [0.0, 170.0]; };\n"
    "detector = { bank = { er_train = 300; er_test = 100; er_analysis = 200;\n"
    "                      nr_train = 300; nr_test = 100; nr_analysis = 200; };\n"
    "             ceiling = { events = 4000; }; };\n"
    "train = { cvae = { epochs = 16; batch_size = 20; }; cnn = { epochs = 4; batch_size = 20; };\n"
    "          eval_batch_size = 50; checksum_every = 10; };\n";

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_quiet();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0;
  char *buf = malloc(size + 1);
  if (!buf) return 0;
  memcpy(buf, data, size);
  buf[size] = '\0';
  cfg_doc *cfg = NULL;
  if (cfg_parse(&cfg, k_tiny, "tiny.cfg") != DD_OK) abort();
  dd_status st = DD_OK;
  /* argv strings end at a NUL: a line stops at its first one */
  for (char *line = buf, *next; line && st == DD_OK; line = next) {
    next = memchr(line, '\n', (size_t)(buf + size - line));
    if (next) *next++ = '\0';
    if (*line) st = cfg_set_override(cfg, line);
    if (next && next >= buf + size) next = NULL;
  }
  if (st == DD_OK)
    fuzz_check(cfg);
  else
    cfg_free(cfg);
  dd_error_clear();
  free(buf);
  return 0;
}
