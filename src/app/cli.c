/* cli.c - the command line as one table: every command with its positional
 * arguments and the options it accepts, and every option with its value,
 * unit and default.  The same tables drive the parser (app_cli_parse) and
 * the help (app_cli_print_help), so `ddscan COMMAND --help` lists exactly
 * what COMMAND accepts and anything else is refused with exit 2.  No MPI:
 * main parses before it initialises MPI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddscan/app.h" /* uses: app_opts, app_command, app_cmd_* */

typedef struct app_option {
  const char *name;    /* "--set" */
  const char *short_n; /* "-v" or NULL */
  const char *metavar; /* value name, NULL for a flag */
  const char *help;    /* what it does, with unit and default */
} app_option;

static const app_option k_options[APP_N_OPTS] = {
    [APP_OPT_SET] = {"--set", NULL, "KEY=VALUE",
                     "override a configuration key (repeatable, applied in order after CONFIG);\n"
                     "strings need no quotes: --set run.output_dir=runs/x (docs/configuration.md)"},
    [APP_OPT_RESUME] = {"--resume", NULL, NULL,
                        "continue an interrupted run from its checkpoints / done units instead of\n"
                        "starting the stage again (default: off)"},
    [APP_OPT_SHARD] = {"--shard", NULL, "I/N",
                       "run shard I of N of the scan's (mass, R) work units (0 <= I < N) into\n"
                       "results.shard-I-of-N.h5; default: the SLURM array task, else the whole\n"
                       "grid; 0/1 is the whole grid into results.h5"},
    [APP_OPT_PREVIEW] = {"--preview", NULL, "N",
                         "also render the first N events of each bank as PNG sheets into\n"
                         "<run.output_dir>/preview/ (default: none)"},
    [APP_OPT_MASS] = {"--mass", NULL, "GEV",
                      "WIMP mass in GeV/c^2 (> 0; spectrum: required; inject: with --sigma)"},
    [APP_OPT_SIGMA] = {"--sigma", NULL, "CM2",
                       "SI WIMP-nucleon cross-section in cm^2 (spectrum default:\n"
                       "physics.sigma_ref_cm2, 1e-45 unless CONFIG or --set change it;\n"
                       "inject default: 0, background only)"},
    [APP_OPT_OUT] = {"--out", NULL, "FILE",
                     "the file to write (export/inject: an events file, required; analyse:\n"
                     "default <run.output_dir>/observed.h5)"},
    [APP_OPT_ER] = {"--er", NULL, "N",
                    "ER analysis events to export (default: the score stage's ER sample)"},
    [APP_OPT_NR] = {"--nr", NULL, "N",
                    "NR analysis events to export (default: the score stage's NR sample)"},
    [APP_OPT_EXPOSURE] = {"--exposure", NULL, "T*Y",
                          "exposure in tonne-years (inject: required, in (0, 1e4]; analyse:\n"
                          "default the events file's exposure attribute)"},
    [APP_OPT_SEED] = {"--seed", NULL, "K",
                      "seed of the pseudo-data set, an integer in [0, 4294967295] (required)"},
    [APP_OPT_SIGNAL] = {"--signal", NULL, "MODEL",
                        "signal model: wimp (default; --mass, --sigma), er_line (--energy,\n"
                        "--rate), tritium (--rate) or cevns (8B CEvNS; --rate optional)"},
    [APP_OPT_ENERGY] = {"--energy", NULL, "KEV", "energy of the er_line signal in keV (0, 1000]"},
    [APP_OPT_RATE] = {"--rate", NULL, "R",
                      "signal interactions per tonne-year (er_line, tritium: required;\n"
                      "cevns: default the physics rate)"},
    [APP_OPT_DATA] = {"--data", NULL, "FILE", "the events file to analyse (required)"},
    [APP_OPT_TOYS] = {"--toys", NULL, "N",
                      "pseudo-experiments for the toy-calibrated p-values, in [0, 1e8]\n"
                      "(default 1000; 0: asymptotic only)"},
    [APP_OPT_EMIN] = {"--emin", NULL, "KEV",
                      "first recoil energy of the table in keVnr (default 1)"},
    [APP_OPT_EMAX] = {"--emax", NULL, "KEV",
                      "last recoil energy of the table in keVnr (default 100)"},
    [APP_OPT_STEP] = {"--step", NULL, "KEV", "energy step of the table in keVnr (default 1)"},
    [APP_OPT_INTEGRATE] = {"--integrate", NULL, "E1:E2",
                           "print the rate integrated over [E1, E2] keVnr in events/(t*y) instead\n"
                           "of the dR/dE table"},
    [APP_OPT_CONFIG] = {"--config", NULL, "CONFIG",
                        "take the physics settings (halo, target, sigma_ref) from CONFIG\n"
                        "(default: the built-in defaults)"},
    [APP_OPT_VERBOSE] = {"--verbose", "-v", NULL,
                         "debug messages from rank 0; errors with their internal context\n"
                         "(status, source location, the chain of callers)"},
    [APP_OPT_QUIET] = {"--quiet", "-q", NULL, "only warnings and errors"},
    [APP_OPT_HELP] = {"--help", "-h", NULL, "this help"},
};

#define BIT(o) (1u << (o))
#define COMMON (BIT(APP_OPT_VERBOSE) | BIT(APP_OPT_QUIET) | BIT(APP_OPT_HELP))
#define CONFIG_OPTS (COMMON | BIT(APP_OPT_SET))

#define CONFIG_ARG "  CONFIG   the configuration (libconfig; every key: configs/example.cfg)\n"

/* A command is listed here (and in --help) only once it works. */
static const app_command k_commands[] = {
    {"run", "CONFIG", "the whole pipeline (also `ddscan CONFIG`): simulate, train, score, scan",
     "Runs the whole pipeline on CONFIG: simulate, train, score and scan, each skipped\n"
     "when its results are current for the configuration (also `ddscan CONFIG`).\n"
     "\narguments:\n" CONFIG_ARG,
     app_cmd_run, 1, 1, 1, 1,
     CONFIG_OPTS | BIT(APP_OPT_RESUME) | BIT(APP_OPT_SHARD) | BIT(APP_OPT_PREVIEW)},
    {"check-config", "CONFIG", "validate CONFIG and print the resolved configuration",
     "Validates CONFIG (with the --set overrides) and prints the resolved configuration,\n"
     "defaults filled in, with its hash; exit 2 and one message naming file:line and the\n"
     "key when it is wrong.  Needs no MPI launcher.\n"
     "\narguments:\n" CONFIG_ARG,
     app_cmd_check_config, 1, 1, 1, 1, CONFIG_OPTS},
    {"spectrum", "--mass GEV", "print dR/dE or integrated WIMP rates (no MPI needed)",
     "Prints the spin-independent WIMP recoil spectrum on xenon as a TSV table\n"
     "(E_keV, dR/dE per t*y*keVnr, Helm F^2, v_min, eta) or, with --integrate, the\n"
     "integrated rate; the formulas are in docs/physics.md.  Needs no MPI launcher.\n",
     app_cmd_spectrum, 0, 0, 0, 0,
     CONFIG_OPTS | BIT(APP_OPT_MASS) | BIT(APP_OPT_SIGMA) | BIT(APP_OPT_EMIN) | BIT(APP_OPT_EMAX) |
         BIT(APP_OPT_STEP) | BIT(APP_OPT_INTEGRATE) | BIT(APP_OPT_CONFIG)},
    {"simulate", "CONFIG", "simulate the ER/NR event banks and the information ceiling",
     "Simulates the ER and NR event banks and the information-ceiling sample into\n"
     "<run.output_dir>/results.h5 (/banks); every rank simulates a block of events.\n"
     "\narguments:\n" CONFIG_ARG,
     app_cmd_simulate, 1, 1, 1, 1, CONFIG_OPTS | BIT(APP_OPT_PREVIEW)},
    {"train", "CONFIG", "train the CVAE and the CNN (data-parallel, checkpoints)",
     "Trains the CVAE and the CNN data-parallel over the ranks, writing checkpoints to\n"
     "<run.output_dir>/checkpoints and the training history to /training.\n"
     "\narguments:\n" CONFIG_ARG,
     app_cmd_train, 1, 1, 1, 1, CONFIG_OPTS | BIT(APP_OPT_RESUME)},
    {"score", "CONFIG", "anomaly-score components of the analysis events -> /scores",
     "Scores the analysis events with the trained networks (streamed in blocks) into\n"
     "/scores of <run.output_dir>/results.h5.\n"
     "\narguments:\n" CONFIG_ARG,
     app_cmd_score, 1, 1, 1, 1, CONFIG_OPTS | BIT(APP_OPT_RESUME)},
    {"signal", "CONFIG", "score the sample of a non-WIMP signal.model -> /signal",
     "Simulates, renders and scores signal.events events of signal.model (er_line,\n"
     "tritium, cevns: signals the networks never saw) into /signal of\n"
     "<run.output_dir>/results.h5 (streamed in blocks; --resume).  Nothing to do for\n"
     "signal.model = \"wimp\".\n"
     "\narguments:\n" CONFIG_ARG,
     app_cmd_signal, 1, 1, 1, 1, CONFIG_OPTS | BIT(APP_OPT_RESUME)},
    {"scan", "CONFIG", "p-values and 5-sigma contours from the scores in results.h5",
     "Computes the p-values over the (mass, sigma, exposure, R) grid and the 5-sigma\n"
     "contours from the scores in <run.output_dir>/results.h5 (/scan, /contours).\n"
     "\narguments:\n" CONFIG_ARG,
     app_cmd_scan, 1, 1, 1, 1, CONFIG_OPTS | BIT(APP_OPT_RESUME) | BIT(APP_OPT_SHARD)},
    {"merge", "OUT.h5 SHARD.h5...", "combine the shard files of a `scan --shard I/N` run",
     "Combines the shard files of one `ddscan scan --shard I/N` run into OUT.h5 with the\n"
     "content of an unsharded scan; names the shard at fault when one is missing,\n"
     "incomplete or of another configuration.  Re-running it is harmless.\n"
     "\narguments:\n"
     "  OUT.h5     the merged results file to write\n"
     "  SHARD.h5   every results.shard-I-of-N.h5 of the run (N files)\n",
     app_cmd_merge, 1, 0, 2, -1, COMMON},
    {"info", "RESULTS.h5", "summary of a results file: stages, grid, best R, contours",
     "Summarises a results file (complete, unfinished or a shard): its stages, scores,\n"
     "scan grid, the best R and the 5-sigma cross-sections with the contour quality\n"
     "flags.  Needs no MPI launcher.\n"
     "\narguments:\n"
     "  RESULTS.h5 a results file (results.h5, a shard or a merged file)\n",
     app_cmd_info, 1, 0, 1, 1, COMMON},
    {"schema", "", "the datasets every stage owns, as the Markdown tables of docs/format.md",
     "Prints the datasets every stage owns (shape, type, unit, description) as the\n"
     "Markdown tables of docs/format.md section 9.\n",
     app_cmd_schema, 0, 0, 0, 0, COMMON},
    {"export", "CONFIG --out FILE", "the analysis events of CONFIG as an events file",
     "Writes the analysis events of CONFIG (the events the score stage scores, keyed by\n"
     "seed and index: the same rows at any rank count) as an events file\n"
     "(docs/format.md section 10).\n"
     "\narguments:\n" CONFIG_ARG,
     app_cmd_export, 1, 1, 1, 1,
     CONFIG_OPTS | BIT(APP_OPT_OUT) | BIT(APP_OPT_ER) | BIT(APP_OPT_NR)},
    {"inject", "CONFIG --exposure T*Y --seed K --out FILE",
     "a Poisson pseudo-data set (background + optional signal) as an events file",
     "Draws a Poisson pseudo-data set of CONFIG's detector and backgrounds (not Asimov),\n"
     "plus an optional signal (a WIMP of --mass and --sigma, or --signal MODEL), through\n"
     "the detector, into an events file with the truth in its attributes.\n"
     "\narguments:\n" CONFIG_ARG,
     app_cmd_inject, 1, 1, 1, 1,
     CONFIG_OPTS | BIT(APP_OPT_OUT) | BIT(APP_OPT_EXPOSURE) | BIT(APP_OPT_SEED) |
         BIT(APP_OPT_MASS) | BIT(APP_OPT_SIGMA) | BIT(APP_OPT_SIGNAL) | BIT(APP_OPT_ENERGY) |
         BIT(APP_OPT_RATE)},
    {"analyse", "CONFIG --data FILE",
     "p-value, Z, best fit and 90% upper limit of an events file per method and mass",
     "Renders and scores the events of --data with CONFIG's trained networks (streamed,\n"
     "like score), bins them on the scan's templates and prints, per method, mass and R,\n"
     "the background-only p-value and Z (asymptotic and toy-calibrated), the best-fit\n"
     "cross-section and the 90 % CL upper limit; writes them to /observed of --out.\n"
     "The data never enter the templates.  Needs the scan of CONFIG done.\n"
     "\narguments:\n" CONFIG_ARG,
     app_cmd_analyse, 1, 1, 1, 1,
     CONFIG_OPTS | BIT(APP_OPT_DATA) | BIT(APP_OPT_OUT) | BIT(APP_OPT_EXPOSURE) |
         BIT(APP_OPT_TOYS)},
};
static const int k_n_commands = (int)(sizeof k_commands / sizeof k_commands[0]);

static void option_label(const app_option *op, char *buf, size_t cap) {
  snprintf(buf, cap, "%s%s%s%s%s", op->short_n ? op->short_n : "", op->short_n ? ", " : "",
           op->name, op->metavar ? " " : "", op->metavar ? op->metavar : "");
}

/* The help text, continuation lines indented under the first. */
static void print_option(FILE *fp, const app_option *op) {
  char label[64];
  option_label(op, label, sizeof label);
  fprintf(fp, "  %-20s ", label);
  for (const char *p = op->help; *p; p++) {
    fputc(*p, fp);
    if (*p == '\n') fprintf(fp, "  %-20s ", "");
  }
  fputc('\n', fp);
}

void app_cli_print_help(FILE *fp, const app_command *cmd) {
  if (!cmd) {
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
      fprintf(fp, "  %-13s %-20s %s\n", k_commands[i].name, k_commands[i].synopsis,
              k_commands[i].summary);
    fprintf(fp,
            "\n"
            "options (which ones a command takes: ddscan COMMAND --help):\n"
            "  --set KEY=VALUE      override a configuration key (repeatable)\n"
            "  -v, --verbose        more output; errors with their internal context\n"
            "  -q, --quiet          only warnings and errors\n"
            "  -h, --help           this help, or with a COMMAND that command's help\n"
            "  --version            release version, git revision, build and BLAS kernel\n"
            "\n"
            "Every key is documented in configs/example.cfg.\n");
    return;
  }
  fprintf(fp, "usage: ddscan %s%s%s [OPTIONS]\n\n%s", cmd->name, cmd->synopsis[0] ? " " : "",
          cmd->synopsis, cmd->about);
  fprintf(fp, "\noptions:\n");
  for (int k = 0; k < APP_N_OPTS; k++)
    if (cmd->opts & BIT(k)) print_option(fp, &k_options[k]);
  if (cmd->mpi)
    fprintf(fp, "\nRuns under mpirun/srun (any number of ranks) or as a single process.\n");
}

static int set_err(char *err, size_t cap, const char *fmt, const char *a, const char *b,
                   const char *c) {
  snprintf(err, cap, fmt, a, b, c);
  return APP_CLI_USAGE;
}

static int parse_shard(const char *s, app_opts *o) {
  int i, n;
  char extra;
  if (sscanf(s, "%d/%d%c", &i, &n, &extra) != 2 || n < 1 || i < 0 || i >= n) return 0;
  o->shard_i = i;
  o->shard_n = n;
  return 1;
}

static int parse_count(const char *s, int *out) {
  char *end = NULL;
  long v = strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < 1 || v > 1000000) return 0;
  *out = (int)v;
  return 1;
}

/* The option named by arg (its "--name" part, or a short flag), or -1. */
static int find_option(const char *arg, size_t len) {
  for (int k = 0; k < APP_N_OPTS; k++) {
    const app_option *op = &k_options[k];
    if (strlen(op->name) == len && strncmp(op->name, arg, len) == 0) return k;
    if (op->short_n && strlen(op->short_n) == len && strncmp(op->short_n, arg, len) == 0) return k;
  }
  return -1;
}

/* Stores the value of option k (already checked to belong to cmd). */
static app_cli_result take_value(const app_command *cmd, int k, const char *name, const char *val,
                                 app_opts *o, char *err, size_t cap) {
  o->opt[k] = val;
  switch (k) {
    case APP_OPT_SET:
      if (!strchr(val, '='))
        return set_err(err, cap, "%s: --set needs KEY=VALUE, got '%s'%s", cmd->name, val, "");
      if (o->n_sets >= (int)(sizeof o->sets / sizeof o->sets[0]))
        return set_err(err, cap, "%s: more than 64 --set options%s%s", cmd->name, "", "");
      o->sets[o->n_sets++] = val;
      break;
    case APP_OPT_SHARD:
      if (!parse_shard(val, o))
        return set_err(err, cap, "%s: --shard needs I/N with 0 <= I < N, got '%s'%s", cmd->name,
                       val, "");
      break;
    case APP_OPT_PREVIEW:
      if (!parse_count(val, &o->preview_n))
        return set_err(err, cap, "%s: %s needs a positive count, got '%s'", cmd->name, name, val);
      break;
    default:
      break;
  }
  return APP_CLI_RUN;
}

app_cli_result app_cli_parse(int argc, char **argv, app_opts *o, const app_command **cmdp,
                             char *err, size_t cap) {
  static char *positional[256];
  memset(o, 0, sizeof *o);
  o->shard_i = o->shard_n = -1;
  o->argc_orig = argc;
  o->argv_orig = argv;
  *cmdp = NULL;
  err[0] = '\0';
  if (argc < 2) return set_err(err, cap, "no command given%s%s%s", "", "", "");
  if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) return APP_CLI_HELP;
  if (strcmp(argv[1], "--version") == 0) return APP_CLI_VERSION;

  const app_command *cmd = NULL;
  int first = 2;
  for (int i = 0; i < k_n_commands; i++)
    if (strcmp(argv[1], k_commands[i].name) == 0) cmd = &k_commands[i];
  if (!cmd && argv[1][0] != '-' && strchr(argv[1], '.')) {
    cmd = &k_commands[0]; /* `ddscan CONFIG`: the whole pipeline */
    first = 1;
  }
  if (!cmd) return set_err(err, cap, "unknown command '%s'%s%s", argv[1], "", "");
  *cmdp = cmd;
  for (int i = first; i < argc && strcmp(argv[i], "--") != 0; i++)
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return APP_CLI_HELP;

  int n_pos = 0, only_positional = 0;
  for (int i = first; i < argc; i++) {
    const char *a = argv[i];
    if (only_positional || a[0] != '-' || a[1] == '\0') {
      if (n_pos >= (int)(sizeof positional / sizeof positional[0]))
        return set_err(err, cap, "%s: too many arguments%s%s", cmd->name, "", "");
      positional[n_pos++] = argv[i];
      continue;
    }
    if (strcmp(a, "--") == 0) {
      only_positional = 1;
      continue;
    }
    const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    int k = find_option(a, len);
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(len < 60 ? len : 60), a);
    if (k < 0 || !(cmd->opts & BIT(k))) {
      if (k < 0)
        snprintf(err, cap, "%s: unknown option '%s' (see 'ddscan %s --help')", cmd->name, name,
                 cmd->name);
      else
        snprintf(err, cap, "%s: '%s' is not an option of %s (see 'ddscan %s --help')", cmd->name,
                 name, cmd->name, cmd->name);
      return APP_CLI_USAGE;
    }
    const app_option *op = &k_options[k];
    if (!op->metavar) {
      if (eq) return set_err(err, cap, "%s: %s takes no value%s", cmd->name, name, "");
      if (k == APP_OPT_HELP) return APP_CLI_HELP;
      if (k == APP_OPT_RESUME) o->resume = 1;
      if (k == APP_OPT_VERBOSE) o->verbose = 1, o->quiet = 0;
      if (k == APP_OPT_QUIET) o->quiet = 1, o->verbose = 0;
      o->opt[k] = "1";
      continue;
    }
    const char *val = eq ? eq + 1 : NULL;
    if (!val) {
      if (i + 1 >= argc)
        return set_err(err, cap, "%s: %s needs a value (%s)", cmd->name, name, op->metavar);
      val = argv[++i];
    }
    app_cli_result r = take_value(cmd, k, name, val, o, err, cap);
    if (r != APP_CLI_RUN) return r;
  }

  if (n_pos < cmd->min_args) {
    snprintf(err, cap, "%s: missing %s (usage: ddscan %s %s [OPTIONS])", cmd->name,
             cmd->needs_config ? "the CONFIG file" : cmd->synopsis, cmd->name, cmd->synopsis);
    return APP_CLI_USAGE;
  }
  if (cmd->max_args >= 0 && n_pos > cmd->max_args) {
    char what[96];
    if (cmd->max_args == 0)
      snprintf(what, sizeof what, "%s takes no positional arguments", cmd->name);
    else
      snprintf(what, sizeof what, "%s takes only %s", cmd->name, cmd->synopsis);
    snprintf(err, cap, "%s: unexpected argument '%s' (%s)", cmd->name, positional[cmd->max_args],
             what);
    return APP_CLI_USAGE;
  }
  o->args = positional;
  o->n_args = n_pos;
  if (cmd->needs_config) {
    o->config_path = positional[0];
    o->args = positional + 1;
    o->n_args--;
  }
  return APP_CLI_RUN;
}
