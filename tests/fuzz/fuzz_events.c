/* fuzz_events.c - libFuzzer target for the events-file reader (`make fuzz`,
 * FUZZ_TARGETS "events"; seeds in tests/fuzz/events_seeds/).
 * Each input is written to a temporary file and run through ev_file_open and
 * ev_file_read (ev_fuzz_one, src/stage/events.c) on a one-rank world; a
 * refused file is fine, a crash or a sanitizer report is a bug.  Seeds: any
 * file from `ddscan export`/`inject` and the docs/format.md §10 example. */
#include <stddef.h>
#include <stdint.h>

#include <mpi.h>

#include "ddscan/core.h"
#include "ddscan/events.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  MPI_Init(argc, argv);
  dd_log_init(0, 1, DD_LOG_QUIET);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  (void)ev_fuzz_one(data, size);
  return 0;
}
