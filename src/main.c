/* main.c - the ddscan command line: parses the common options, initialises MPI
 * (the only place that does), runs one subcommand and chooses the exit code:
 * 0 success, 1 failure (one message, from the first failing rank), 2 usage or
 * configuration error (DD_ERR_ARG, DD_ERR_CONFIG: the input must change). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h> /* uses: MPI_Init, MPI_Finalize, MPI_Abort */

#include "ddscan/app.h"  /* uses: app_opts, app_cmd_* */
#include "ddscan/core.h" /* uses: logging, errors, provenance */
#include "ddscan/par.h"  /* uses: par_world, par_first_failing_rank */

#define EXIT_USAGE 2

/* Non-zero MPI ranks stay quiet for the commands that run without MPI. */
static int launcher_rank(void) {
  const char *vars[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
    const char *v = getenv(vars[i]);
    if (v && *v) return atoi(v);
  }
  return 0;
}

static void abort_handler(int code) {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (init && !fin) MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
  exit(code ? code : 1);
}

int main(int argc, char **argv) {
  app_opts o;
  const app_command *cmd = NULL;
  char err[512];
  switch (app_cli_parse(argc, argv, &o, &cmd, err, sizeof err)) {
    case APP_CLI_HELP:
      if (launcher_rank() == 0) app_cli_print_help(stdout, cmd);
      return 0;
    case APP_CLI_VERSION:
      if (launcher_rank() == 0) printf("%s\n", dd_version_string());
      return 0;
    case APP_CLI_USAGE:
      if (launcher_rank() == 0) {
        if (argc < 2)
          app_cli_print_help(stderr, NULL);
        else if (cmd)
          fprintf(stderr, "ddscan %s\n", err);
        else
          fprintf(stderr, "ddscan: %s (see 'ddscan --help')\n", err);
      }
      return EXIT_USAGE;
    case APP_CLI_RUN:
      break;
  }
  dd_log_level level = o.verbose ? DD_LOG_DEBUG : o.quiet ? DD_LOG_QUIET : DD_LOG_INFO;

  par_world w = {0, 1, MPI_COMM_NULL};
  int use_mpi = cmd->mpi;
  if (use_mpi) {
    MPI_Init(&argc, &argv);
    par_world_init(&w, MPI_COMM_WORLD);
  } else {
    w.rank = launcher_rank();
  }
  dd_log_init(w.rank, w.size, level);
  dd_set_panic_handler(abort_handler);

  dd_status st = cmd->fn(&w, &o);

  int rc = 0;
  if (use_mpi) {
    /* Exactly one rank prints: the first whose failure was its own. */
    int first = par_first_failing_rank(&w);
    int any = 0, mine = st != DD_OK;
    MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, w.comm);
    if (any) {
      if (first == w.rank || (first == w.size && w.rank == 0))
        dd_error_print(stderr, w.size > 1 ? w.rank : -1);
      int usage = st == DD_ERR_ARG || st == DD_ERR_CONFIG, usage_any = 0;
      MPI_Allreduce(&usage, &usage_any, 1, MPI_INT, MPI_MAX, w.comm);
      rc = usage_any ? EXIT_USAGE : 1;
    }
    MPI_Finalize();
  } else if (st != DD_OK) {
    if (w.rank == 0) dd_error_print(stderr, -1);
    rc = st == DD_ERR_ARG || st == DD_ERR_CONFIG ? EXIT_USAGE : 1;
  }
  return rc;
}
