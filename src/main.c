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

typedef dd_status (*cmd_fn)(const par_world *w, const app_opts *o);

enum { CMD_MPI = 1, CMD_NEEDS_CONFIG = 2 };

/* A command is listed here (and in --help) only once it works. */
typedef struct command {
  const char *name;
  const char *args;
  const char *help;
  cmd_fn fn;
  int flags;
} command;

static const command k_commands[] = {
    {"run", "CONFIG", "the whole pipeline (also `ddscan CONFIG`): simulate, train, score, scan",
     app_cmd_run, CMD_MPI | CMD_NEEDS_CONFIG},
    {"check-config", "CONFIG", "validate CONFIG and print the resolved configuration",
     app_cmd_check_config, CMD_MPI | CMD_NEEDS_CONFIG},
    {"spectrum", "--mass GEV [...]", "print dR/dE or integrated WIMP rates (no MPI needed)",
     app_cmd_spectrum, 0},
    {"simulate", "CONFIG [--preview N]",
     "simulate the ER/NR event banks and the information ceiling", app_cmd_simulate,
     CMD_MPI | CMD_NEEDS_CONFIG},
    {"train", "CONFIG [--resume]", "train the CVAE and the CNN (data-parallel, checkpoints)",
     app_cmd_train, CMD_MPI | CMD_NEEDS_CONFIG},
    {"score", "CONFIG", "anomaly-score components of the analysis events -> /scores", app_cmd_score,
     CMD_MPI | CMD_NEEDS_CONFIG},
    {"scan", "CONFIG [--shard I/N]", "p-values and 5-sigma contours from the scores in results.h5",
     app_cmd_scan, CMD_MPI | CMD_NEEDS_CONFIG},
    {"merge", "OUT.h5 SHARD.h5...", "combine the shard files of a `scan --shard I/N` run",
     app_cmd_merge, CMD_MPI},
    {"info", "RESULTS.h5", "summary of a results file: stages, grid, best R, contours",
     app_cmd_info, CMD_MPI},
    {"schema", "", "the datasets every stage owns, as the Markdown tables of docs/format.md",
     app_cmd_schema, 0},
    {"export", "CONFIG --out FILE [--er N --nr N]",
     "the analysis events of CONFIG as an events file (docs/format.md)", app_cmd_export,
     CMD_MPI | CMD_NEEDS_CONFIG},
    {"inject", "CONFIG --exposure E --seed K --out FILE [--mass M --sigma S | --signal ...]",
     "a Poisson pseudo-data set (background + optional WIMP) as an events file", app_cmd_inject,
     CMD_MPI | CMD_NEEDS_CONFIG},
    {"analyse", "CONFIG --data FILE [--out FILE] [--toys N]",
     "p-value, Z, best fit and 90% upper limit of an events file per method and mass",
     app_cmd_analyse, CMD_MPI | CMD_NEEDS_CONFIG},
};
static const int k_n_commands = (int)(sizeof k_commands / sizeof k_commands[0]);

static void print_help(FILE *fp) {
  fprintf(fp,
          "usage: ddscan CONFIG [OPTIONS]           (the whole pipeline)\n"
          "       ddscan COMMAND [ARGS] [OPTIONS]\n"
          "\n"
          "ddscan: model-independent WIMP sensitivity scans for liquid-xenon TPCs\n"
          "(simulation, CVAE/CNN anomaly scores, p-values and 5-sigma contours).\n"
          "Run under mpirun/srun or as a single process.\n"
          "\n"
          "commands:\n");
  for (int i = 0; i < k_n_commands; i++)
    fprintf(fp, "  %-13s %-28s %s\n", k_commands[i].name, k_commands[i].args, k_commands[i].help);
  fprintf(fp,
          "\n"
          "options:\n"
          "  --set KEY=VALUE   override a configuration key (repeatable)\n"
          "  --resume          continue an interrupted run\n"
          "  -v, --verbose     more output (debug messages from rank 0)\n"
          "  -q, --quiet       only warnings and errors\n"
          "  -h, --help        this help\n"
          "  --version         version, build and BLAS kernel\n"
          "\n"
          "Every key is documented in configs/example.cfg.\n");
}

/* Non-zero MPI ranks stay quiet for the commands that run without MPI. */
static int launcher_rank(void) {
  const char *vars[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
    const char *v = getenv(vars[i]);
    if (v && *v) return atoi(v);
  }
  return 0;
}

static int usage_error(const char *fmt, const char *arg) {
  if (launcher_rank() == 0) {
    fprintf(stderr, "ddscan: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see 'ddscan --help')\n");
  }
  return EXIT_USAGE;
}

static int parse_shard(const char *s, app_opts *o) {
  int i, n;
  char extra;
  if (sscanf(s, "%d/%d%c", &i, &n, &extra) != 2 || n < 1 || i < 0 || i >= n) return 0;
  o->shard_i = i;
  o->shard_n = n;
  return 1;
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
  memset(&o, 0, sizeof o);
  o.shard_i = o.shard_n = -1;
  o.argc_orig = argc;
  o.argv_orig = argv;
  dd_log_level level = DD_LOG_INFO;

  if (argc < 2) {
    if (launcher_rank() == 0) print_help(stderr);
    return EXIT_USAGE;
  }
  /* Global flags that need no command. */
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      if (launcher_rank() == 0) print_help(stdout);
      return 0;
    }
    if (strcmp(argv[i], "--version") == 0) {
      if (launcher_rank() == 0) printf("%s\n", dd_version_string());
      return 0;
    }
  }

  const command *cmd = NULL;
  int first_arg = 2;
  for (int i = 0; i < k_n_commands; i++)
    if (strcmp(argv[1], k_commands[i].name) == 0) cmd = &k_commands[i];
  if (!cmd && argv[1][0] != '-' && strchr(argv[1], '.')) {
    /* `ddscan CONFIG`: the whole pipeline */
    cmd = &k_commands[0];
    first_arg = 1;
  }
  if (!cmd) return usage_error("unknown command '%s'", argv[1]);

  /* Common options; everything else is positional or for the command. */
  static char *rest[256];
  for (int i = first_arg; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--set") == 0) {
      if (i + 1 >= argc) return usage_error("%s needs KEY=VALUE", a);
      if (o.n_sets >= 64) return usage_error("too many %s options", a);
      o.sets[o.n_sets++] = argv[++i];
    } else if (strncmp(a, "--set=", 6) == 0) {
      if (o.n_sets >= 64) return usage_error("too many %s options", "--set");
      o.sets[o.n_sets++] = a + 6;
    } else if (strcmp(a, "--resume") == 0) {
      o.resume = 1;
    } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
      level = DD_LOG_DEBUG;
    } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
      level = DD_LOG_QUIET;
    } else if (strcmp(a, "--shard") == 0) {
      if (i + 1 >= argc || !parse_shard(argv[i + 1], &o))
        return usage_error("%s needs I/N with 0 <= I < N", a);
      i++;
    } else if (strcmp(a, "--preview") == 0) {
      if (i + 1 >= argc || atoi(argv[i + 1]) < 1)
        return usage_error("%s needs a positive count", a);
      o.preview_n = atoi(argv[++i]);
    } else {
      if (o.n_args >= 256) return usage_error("too many arguments%s", "");
      rest[o.n_args++] = argv[i];
    }
  }
  o.args = rest;
  if (cmd->flags & CMD_NEEDS_CONFIG) {
    if (o.n_args < 1 || rest[0][0] == '-') return usage_error("%s needs a CONFIG file", cmd->name);
    o.config_path = rest[0];
    o.args = rest + 1;
    o.n_args--;
  }

  par_world w = {0, 1, MPI_COMM_NULL};
  int use_mpi = (cmd->flags & CMD_MPI) != 0;
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
