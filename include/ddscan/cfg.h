/* cfg.h - strict configuration: a wrapper around libconfig 1.5 that is the only
 * user of libconfig.h.  Typed getters distinguish "missing" from "wrong type"
 * (an int is accepted where a float is expected, never the reverse), every
 * error names file:line and the key, defaults are written back into the tree
 * so the resolved configuration can be printed and stored, and keys nobody
 * read are errors (cfg_check_unused). */
#ifndef DDSCAN_CFG_H
#define DDSCAN_CFG_H

#include <stddef.h>
#include <stdint.h>

#include "ddscan/core.h" /* uses: dd_status */

/* Opaque: owns the libconfig tree, the file name and the --set overrides. */
typedef struct cfg_doc cfg_doc;

/* Parses configuration text (rank 0 read it and broadcast it; every rank parses
 * the same bytes).  `filename` is used in messages only.  `@include` is not
 * supported (one file describes a run) and is reported with its line.
 * On failure *out is NULL and the error names filename:line. */
dd_status cfg_parse(cfg_doc **out, const char *text, const char *filename);
/* The same for `len` bytes of text that need not end at a NUL: a NUL byte
 * inside them is an error naming filename:line (libconfig would silently
 * ignore everything after it).  Integer literals that do not fit in 32 bits
 * are read as 64-bit values (libconfig 1.5 would wrap them without an `L`
 * suffix: 4294967297 -> 1); one that does not fit in 64 bits is an error
 * naming filename:line and the key. */
dd_status cfg_parse_n(cfg_doc **out, const char *text, size_t len, const char *filename);
/* Frees the document; accepts NULL. */
void cfg_free(cfg_doc *doc);
/* The file name given to cfg_parse (borrowed). */
const char *cfg_filename(const cfg_doc *doc);

/* Applies one "--set key=value" override.  The value is libconfig syntax:
 * 3, 2.5, 1e-45, "text", true, [1.0, 2.0], { from = 1; to = 2; points = 3; }.
 * The key may be new; if nothing reads it, cfg_check_unused reports it. */
dd_status cfg_set_override(cfg_doc *doc, const char *assignment);

/* --- optional keys: when missing, the default is used and inserted into the
 * tree (so the resolved config shows it).  Paths are dotted ("detector.g1");
 * list elements are addressed as "nn.cvae.layers.[2].filters". */
dd_status cfg_get_double(cfg_doc *doc, const char *path, double def, double *out);
dd_status cfg_get_int(cfg_doc *doc, const char *path, long long def, long long *out);
dd_status cfg_get_bool(cfg_doc *doc, const char *path, int def, int *out);
/* Copies the string into buf (cap bytes incl. NUL); too long is an error. */
dd_status cfg_get_string(cfg_doc *doc, const char *path, const char *def, char *buf, size_t cap);
/* A string that must be one of `choices` (n of them); *index is its position. */
dd_status cfg_get_choice(cfg_doc *doc, const char *path, const char *def,
                         const char *const *choices, int n, int *index);

/* A default that is a whole structure (a list of layer groups): when path is
 * missing, parses `text` (a libconfig value, e.g. "( { type = \"dense\"; } )")
 * and inserts it there, recorded like any default; nothing when it exists.
 * The caller then reads it with the getters like a value from the file. */
dd_status cfg_insert_default(cfg_doc *doc, const char *path, const char *text);

/* --- required keys: missing is an error naming the key. */
dd_status cfg_need_double(cfg_doc *doc, const char *path, double *out);
dd_status cfg_need_int(cfg_doc *doc, const char *path, long long *out);
dd_status cfg_need_string(cfg_doc *doc, const char *path, char *buf, size_t cap);

/* --- integers with an explicit range: every integer is a 64-bit value; one
 * outside [lo, hi] is "file:line: key: must be in [lo, hi], got v".  The
 * default must lie in the range (DD_ERR_INTERNAL otherwise).  Prefer these
 * over cfg_get_int/cfg_need_int, which check the type only. */
dd_status cfg_get_int_range(cfg_doc *doc, const char *path, long long def, long long lo,
                            long long hi, long long *out);
dd_status cfg_need_int_range(cfg_doc *doc, const char *path, long long lo, long long hi,
                             long long *out);

/* --- numeric lists and grids.  Accepted forms:
 *   key = [10.0, 50.0, 500.0];                               (array; ints ok)
 *   key = { from = 1.0; to = 10.0; points = 10; };           (linear)
 *   key = { log_from = 1e-49; log_to = 1e-44; points = 41; }; (logarithmic)
 * A single number is a one-element list.  At most `cap` values are returned
 * (more is an error).  With def == NULL and n_def == 0 the key is required.
 * An empty list is an error naming the key. */
dd_status cfg_get_double_list(cfg_doc *doc, const char *path, const double *def, int n_def,
                              double *out, int cap, int *n);
/* Strings: key = ["paper", "sound"];  (a single string is a one-element list) */
dd_status cfg_get_string_list(cfg_doc *doc, const char *path, const char *const *def, int n_def,
                              char *buf, size_t cap_each, int cap, int *n);

/* --- structure */
/* 1 if the key exists (does not mark it as read). */
int cfg_exists(const cfg_doc *doc, const char *path);
/* Number of elements of a list/array/group at path; 0 if missing. */
int cfg_length(const cfg_doc *doc, const char *path);
/* Marks path (and everything under it) as read, e.g. a preset name already
 * consumed by another code path. */
void cfg_mark_used(cfg_doc *doc, const char *path);

/* Formats "file:line: path: message" (line of the key if it exists, of the
 * --set override if it came from one) and records DD_ERR_CONFIG.  Modules
 * use it for their own validation: return cfg_error(doc, "detector.g1",
 * "must be in (0, 1], got %g", g1); */
dd_status cfg_error(const cfg_doc *doc, const char *path, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* After every module has loaded its parameters: any key that nobody read is
 * an error ("file:line: unknown key 'x.y'", with the closest known sibling
 * as a hint). */
dd_status cfg_check_unused(const cfg_doc *doc);
/* The names of keys that were filled in from defaults since cfg_parse, one
 * per line (borrowed; valid until the next getter call).  The example-config
 * test uses it to prove that example.cfg documents every key. */
const char *cfg_defaulted_keys(const cfg_doc *doc, int *count);

/* The resolved configuration (file + overrides + defaults) as libconfig text;
 * malloc'ed, caller frees. */
dd_status cfg_resolved_text(const cfg_doc *doc, char **out);
/* Hash of the resolved values under the given top-level paths (missing paths
 * hash as absent).  Used to key checkpoints and stage outputs. */
uint64_t cfg_hash(const cfg_doc *doc, const char *const *paths, int n);

#endif /* DDSCAN_CFG_H */
