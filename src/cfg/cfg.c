/* cfg.c - the libconfig 1.5 wrapper (the only file that includes libconfig.h):
 * strict typed getters, defaults written back into the tree, --set overrides,
 * unknown-key detection with file:line, resolved-config text and hashes. */
#define _POSIX_C_SOURCE 200809L
#include "ddscan/cfg.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h> /* uses: config_t, config_setting_t and their API */

#define CFG_MAX_OVERRIDES 64
#define CFG_MSG_LEN 1024

struct cfg_doc {
  config_t cfg;   /* owned tree */
  char *filename; /* owned */
  int n_over;
  char *over_path[CFG_MAX_OVERRIDES]; /* owned: keys set by --set */
  char *over_text[CFG_MAX_OVERRIDES]; /* owned: "key=value" as typed */
  char *defaulted;                    /* owned: '\n'-joined key names */
  size_t defaulted_len, defaulted_cap;
  int n_defaulted;
};

/* Settings that were read carry this address in their libconfig hook. */
static char g_used_mark;

static void mark(config_setting_t *s) {
  config_setting_set_hook(s, &g_used_mark);
}
static int is_marked(const config_setting_t *s) {
  return config_setting_get_hook(s) == &g_used_mark;
}

const char *cfg_filename(const cfg_doc *doc) {
  return doc->filename;
}

/* ---------------------------------------------------------------- errors */

static int override_index(const cfg_doc *doc, const char *path) {
  for (int i = doc->n_over - 1; i >= 0; i--)
    if (strcmp(doc->over_path[i], path) == 0) return i;
  return -1;
}

/* "file:line" of the key, of its --set, or of its closest existing parent. */
static void locate(const cfg_doc *doc, const char *path, char *buf, size_t cap) {
  int oi = override_index(doc, path);
  if (oi >= 0) {
    snprintf(buf, cap, "--set %s", doc->over_text[oi]);
    return;
  }
  char tmp[512];
  snprintf(tmp, sizeof tmp, "%s", path);
  for (;;) {
    config_setting_t *s = config_lookup(&doc->cfg, tmp);
    if (s && config_setting_source_line(s) > 0) {
      snprintf(buf, cap, "%s:%d", doc->filename, (int)config_setting_source_line(s));
      return;
    }
    char *dot = strrchr(tmp, '.');
    if (!dot) break;
    *dot = '\0';
  }
  snprintf(buf, cap, "%s", doc->filename);
}

static dd_status verror(const cfg_doc *doc, const char *path, const char *fmt, va_list ap) {
  char where[600], msg[CFG_MSG_LEN];
  locate(doc, path, where, sizeof where);
  vsnprintf(msg, sizeof msg, fmt, ap);
  return DD_FAIL(DD_ERR_CONFIG, "%s: %s: %s", where, path, msg);
}

dd_status cfg_error(const cfg_doc *doc, const char *path, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  dd_status st = verror(doc, path, fmt, ap);
  va_end(ap);
  return st;
}

static const char *type_name(int type) {
  switch (type) {
    case CONFIG_TYPE_GROUP:
      return "a group { ... }";
    case CONFIG_TYPE_INT:
      return "an integer";
    case CONFIG_TYPE_INT64:
      return "an integer";
    case CONFIG_TYPE_FLOAT:
      return "a float";
    case CONFIG_TYPE_STRING:
      return "a string";
    case CONFIG_TYPE_BOOL:
      return "a boolean";
    case CONFIG_TYPE_ARRAY:
      return "an array [ ... ]";
    case CONFIG_TYPE_LIST:
      return "a list ( ... )";
    default:
      return "nothing";
  }
}

/* ---------------------------------------------------------------- parse */

static dd_status reject_include(const char *text, const char *filename) {
  int line = 1;
  const char *p = text;
  while (*p) {
    const char *q = p;
    while (*q == ' ' || *q == '\t') q++;
    if (strncmp(q, "@include", 8) == 0)
      return DD_FAIL(DD_ERR_CONFIG,
                     "%s:%d: @include is not supported: one file describes a "
                     "run (copy the included settings into it)",
                     filename, line);
    const char *nl = strchr(p, '\n');
    if (!nl) break;
    p = nl + 1;
    line++;
  }
  return DD_OK;
}

/* ------------------------------------------------- 64-bit integer literals
 *
 * libconfig 1.5 reads an integer without an `L` suffix with atoi(): 4294967297
 * becomes 1 and 4294967295 becomes -1, silently.  Before parsing, this scan
 * finds every integer literal (outside strings and comments) and appends the
 * `L` suffix to those that do not fit in 32 bits, so libconfig stores them as
 * 64-bit values and the getters' range checks see what the user wrote.  In an
 * array [ ... ] all integers get the suffix when one needs it (libconfig
 * refuses arrays that mix 32- and 64-bit elements).  Literals that do not fit
 * in 64 bits either are remembered (line and the value libconfig will store)
 * and reported with their key after parsing.  Newlines are never added or
 * removed, so every line number stays that of the user's file. */

typedef struct lit {
  size_t end;    /* offset just past the digits (where `L` would go) */
  int line;      /* 1-based */
  int array;     /* index of the enclosing [ ... ], or -1 */
  int promote;   /* append `L` */
  int overflow;  /* does not fit in 64 bits */
  long long sat; /* the value libconfig stores for an overflowing literal */
} lit;

typedef struct lit_scan {
  lit *v; /* owned */
  int n, cap;
  int n_arrays;
  int *array_promote; /* owned: per array, 1 if any element needs `L` */
  int arr_cap;
} lit_scan;

static void lit_scan_free(lit_scan *ls) {
  free(ls->v);
  free(ls->array_promote);
  memset(ls, 0, sizeof *ls);
}

static int is_name_start(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '*';
}
static int is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '_';
}
static int is_digit(char c) {
  return c >= '0' && c <= '9';
}
static int is_xdigit(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Classifies the number token at p (libconfig's longest-match rules);
 * returns its length, and for an integer without suffix fills *l. */
static size_t scan_number(const char *p, size_t avail, lit *l, int *is_int) {
  size_t i = 0;
  *is_int = 0;
  if (i < avail && (p[i] == '+' || p[i] == '-')) i++;
  int hex = i + 1 < avail && p[i] == '0' && (p[i + 1] == 'x' || p[i + 1] == 'X') && i + 2 < avail &&
            is_xdigit(p[i + 2]);
  if (hex) {
    size_t d0 = i + 2, d = d0;
    while (d < avail && is_xdigit(p[d])) d++;
    if (d < avail && p[d] == 'L') return d + 1 + (d + 1 < avail && p[d + 1] == 'L');
    /* libconfig: (int)strtoul(); 0xFFFFFFFF is -1 */
    char buf[80];
    size_t len = d - d0 < sizeof buf - 1 ? d - d0 : sizeof buf - 1;
    memcpy(buf, p + d0, len);
    buf[len] = '\0';
    errno = 0;
    unsigned long long u = strtoull(buf, NULL, 16);
    l->overflow = errno == ERANGE || d - d0 > 16;
    l->promote = u > (unsigned long long)INT32_MAX;
    l->sat = (long long)u;
    l->end = d;
    *is_int = 1;
    return d;
  }
  size_t d0 = i, d = i;
  while (d < avail && is_digit(p[d])) d++;
  size_t nd = d - d0;
  int is_float = 0;
  if (d < avail && p[d] == '.') {
    is_float = 1;
    d++;
    while (d < avail && is_digit(p[d])) d++;
  }
  if ((nd > 0 || is_float) && d < avail && (p[d] == 'e' || p[d] == 'E')) {
    size_t e = d + 1;
    if (e < avail && (p[e] == '+' || p[e] == '-')) e++;
    if (e < avail && is_digit(p[e])) {
      is_float = 1;
      while (e < avail && is_digit(p[e])) e++;
      d = e;
    }
  }
  if (is_float || nd == 0) return d > 0 ? d : 1;
  if (d < avail && p[d] == 'L') return d + 1 + (d + 1 < avail && p[d + 1] == 'L');
  char buf[80];
  size_t len = d < sizeof buf - 1 ? d : sizeof buf - 1;
  memcpy(buf, p, len);
  buf[len] = '\0';
  errno = 0;
  long long v = strtoll(buf, NULL, 10);
  l->overflow = errno == ERANGE || d >= sizeof buf - 1;
  l->promote = v > INT32_MAX || v < INT32_MIN;
  l->sat = v;
  l->end = d;
  *is_int = 1;
  return d;
}

static dd_status lit_push(lit_scan *ls, const lit *l) {
  if (ls->n == ls->cap) {
    int cap = ls->cap ? 2 * ls->cap : 64;
    lit *nv = realloc(ls->v, (size_t)cap * sizeof *nv);
    if (!nv) return DD_FAIL(DD_ERR_NOMEM, "integer literal table");
    ls->v = nv;
    ls->cap = cap;
  }
  ls->v[ls->n++] = *l;
  if (l->promote && l->array >= 0) ls->array_promote[l->array] = 1;
  return DD_OK;
}

static dd_status lit_scan_text(lit_scan *ls, const char *text, size_t n) {
  memset(ls, 0, sizeof *ls);
  int line = 1, array = -1;
  size_t i = 0;
  while (i < n) {
    char c = text[i];
    if (c == '\n') {
      line++;
      i++;
    } else if (c == '"') { /* string with escapes; may not span lines */
      i++;
      while (i < n && text[i] != '"' && text[i] != '\n') i += text[i] == '\\' && i + 1 < n ? 2 : 1;
      if (i < n && text[i] == '"') i++;
    } else if (c == '#' || (c == '/' && i + 1 < n && text[i + 1] == '/')) {
      while (i < n && text[i] != '\n') i++;
    } else if (c == '/' && i + 1 < n && text[i + 1] == '*') {
      i += 2;
      while (i < n && !(text[i] == '*' && i + 1 < n && text[i + 1] == '/'))
        line += text[i++] == '\n';
      i = i + 2 < n ? i + 2 : n;
    } else if (is_name_start(c)) {
      while (i < n && is_name_char(text[i])) i++;
    } else if (c == '[') {
      if (ls->n_arrays == ls->arr_cap) {
        int cap = ls->arr_cap ? 2 * ls->arr_cap : 16;
        int *na = realloc(ls->array_promote, (size_t)cap * sizeof *na);
        if (!na) return DD_FAIL(DD_ERR_NOMEM, "integer literal table");
        ls->array_promote = na;
        ls->arr_cap = cap;
      }
      ls->array_promote[ls->n_arrays] = 0;
      array = ls->n_arrays++;
      i++;
    } else if (c == ']') {
      array = -1; /* arrays hold scalars only: they do not nest */
      i++;
    } else if (is_digit(c) || c == '+' || c == '-' || c == '.') {
      lit l;
      memset(&l, 0, sizeof l);
      int is_int;
      size_t len = scan_number(text + i, n - i, &l, &is_int);
      if (is_int && (l.promote || l.overflow || array >= 0)) {
        l.end += i;
        l.line = line;
        l.array = array;
        DD_TRY(lit_push(ls, &l), "scanning integers");
      }
      i += len;
    } else {
      i++;
    }
  }
  return DD_OK;
}

/* The text with `L` appended to the literals that need 64 bits (malloc'ed). */
static dd_status promote_literals(const lit_scan *ls, const char *text, size_t n, char **out) {
  int extra = 0;
  for (int k = 0; k < ls->n; k++) {
    const lit *l = &ls->v[k];
    extra += l->promote || (l->array >= 0 && ls->array_promote[l->array]);
  }
  char *buf = malloc(n + (size_t)extra + 1);
  if (!buf) return DD_FAIL(DD_ERR_NOMEM, "configuration text");
  size_t from = 0, o = 0;
  for (int k = 0; k < ls->n; k++) {
    const lit *l = &ls->v[k];
    if (!(l->promote || (l->array >= 0 && ls->array_promote[l->array]))) continue;
    memcpy(buf + o, text + from, l->end - from);
    o += l->end - from;
    buf[o++] = 'L';
    from = l->end;
  }
  memcpy(buf + o, text + from, n - from);
  o += n - from;
  buf[o] = '\0';
  *out = buf;
  return DD_OK;
}

/* Depth-first search for the 64-bit setting an overflowing literal became. */
static const config_setting_t *find_overflow(const config_setting_t *s, const lit *l, char *path,
                                             size_t cap) {
  int t = config_setting_type(s);
  if (t == CONFIG_TYPE_INT64)
    return (int)config_setting_source_line(s) == l->line && config_setting_get_int64(s) == l->sat
               ? s
               : NULL;
  if (!config_setting_is_aggregate(s)) return NULL;
  size_t base = strlen(path);
  int n = config_setting_length(s);
  for (int i = 0; i < n; i++) {
    const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
    if (t == CONFIG_TYPE_GROUP)
      snprintf(path + base, cap - base, "%s%s", base ? "." : "", config_setting_name(e));
    else if (t == CONFIG_TYPE_LIST)
      snprintf(path + base, cap - base, "%s[%d]", base ? "." : "", i);
    else
      path[base] = '\0'; /* an array element is named by its array */
    const config_setting_t *u = find_overflow(e, l, path, cap);
    if (u) return u;
    path[base] = '\0';
  }
  return NULL;
}

static dd_status reject_nul(const char *text, size_t n, const char *filename) {
  const char *z = memchr(text, '\0', n);
  if (!z) return DD_OK;
  int line = 1;
  for (const char *p = text; p < z; p++) line += *p == '\n';
  return DD_FAIL(DD_ERR_CONFIG,
                 "%s:%d: the file contains a NUL byte (byte %zu): a configuration is text, and "
                 "everything after it would be ignored",
                 filename ? filename : "(config)", line, (size_t)(z - text) + 1);
}

dd_status cfg_parse(cfg_doc **out, const char *text, const char *filename) {
  return cfg_parse_n(out, text, strlen(text), filename);
}

/* cfg_parse_n on text that ends in a NUL at text[len] (every scan below
 * relies on it). */
static dd_status parse_terminated(cfg_doc **out, const char *text, size_t len,
                                  const char *filename);

dd_status cfg_parse_n(cfg_doc **out, const char *text, size_t len, const char *filename) {
  *out = NULL;
  DD_TRY(reject_nul(text, len, filename), "parsing configuration");
  /* the bytes need not end in a NUL (found by fuzzing: tests/fuzz/) */
  char *copy = malloc(len + 1);
  if (!copy) return DD_FAIL(DD_ERR_NOMEM, "configuration text");
  memcpy(copy, text, len);
  copy[len] = '\0';
  dd_status st = parse_terminated(out, copy, len, filename);
  free(copy);
  return st;
}

static dd_status parse_terminated(cfg_doc **out, const char *text, size_t len,
                                  const char *filename) {
  DD_TRY(reject_include(text, filename), "parsing configuration");
  lit_scan ls;
  char *promoted = NULL;
  dd_status pst = lit_scan_text(&ls, text, len);
  if (pst == DD_OK) pst = promote_literals(&ls, text, len, &promoted);
  if (pst != DD_OK) {
    lit_scan_free(&ls);
    return DD_CONTEXT(pst, "parsing configuration");
  }
  cfg_doc *doc = calloc(1, sizeof *doc);
  if (doc) {
    config_init(&doc->cfg);
    doc->filename = strdup(filename ? filename : "(config)");
  }
  if (!doc || !doc->filename) {
    cfg_free(doc);
    free(promoted);
    lit_scan_free(&ls);
    return DD_FAIL(DD_ERR_NOMEM, "configuration document");
  }
  if (!config_read_string(&doc->cfg, promoted)) {
    dd_status st = DD_FAIL(DD_ERR_CONFIG, "%s:%d: %s", doc->filename, config_error_line(&doc->cfg),
                           config_error_text(&doc->cfg));
    cfg_free(doc);
    free(promoted);
    lit_scan_free(&ls);
    return st;
  }
  free(promoted);
  for (int k = 0; k < ls.n; k++) {
    if (!ls.v[k].overflow) continue;
    char path[1024] = "";
    const config_setting_t *s =
        find_overflow(config_root_setting(&doc->cfg), &ls.v[k], path, sizeof path);
    dd_status st;
    /* The literal's own line: an array element may sit below its key. */
    if (s && path[0])
      st = DD_FAIL(DD_ERR_CONFIG, "%s:%d: %s: integer does not fit in 64 bits (range [%lld, %lld])",
                   doc->filename, ls.v[k].line, path, (long long)INT64_MIN, (long long)INT64_MAX);
    else
      st = DD_FAIL(DD_ERR_CONFIG, "%s:%d: integer does not fit in 64 bits (range [%lld, %lld])",
                   doc->filename, ls.v[k].line, (long long)INT64_MIN, (long long)INT64_MAX);
    cfg_free(doc);
    lit_scan_free(&ls);
    return st;
  }
  lit_scan_free(&ls);
  *out = doc;
  return DD_OK;
}

void cfg_free(cfg_doc *doc) {
  if (!doc) return;
  config_destroy(&doc->cfg);
  free(doc->filename);
  for (int i = 0; i < doc->n_over; i++) {
    free(doc->over_path[i]);
    free(doc->over_text[i]);
  }
  free(doc->defaulted);
  free(doc);
}

/* ------------------------------------------------------- tree editing */

/* Finds or creates the group at `path` (creating missing groups). */
static config_setting_t *ensure_group(config_t *cfg, const char *path) {
  if (!path || !*path) return config_root_setting(cfg);
  config_setting_t *s = config_lookup(cfg, path);
  if (s) return config_setting_is_group(s) || config_setting_is_list(s) ? s : NULL;
  char tmp[512];
  snprintf(tmp, sizeof tmp, "%s", path);
  char *dot = strrchr(tmp, '.');
  const char *name = tmp;
  config_setting_t *parent;
  if (dot) {
    *dot = '\0';
    name = dot + 1;
    parent = ensure_group(cfg, tmp);
  } else {
    parent = config_root_setting(cfg);
  }
  if (!parent || name[0] == '[' || !config_setting_is_group(parent)) return NULL;
  return config_setting_add(parent, name, CONFIG_TYPE_GROUP);
}

/* Adds a new setting at path (parents created); NULL if impossible. */
static config_setting_t *add_at(config_t *cfg, const char *path, int type) {
  char tmp[512];
  snprintf(tmp, sizeof tmp, "%s", path);
  char *dot = strrchr(tmp, '.');
  const char *name = tmp;
  config_setting_t *parent;
  if (dot) {
    *dot = '\0';
    name = dot + 1;
    parent = ensure_group(cfg, tmp);
  } else {
    parent = config_root_setting(cfg);
  }
  if (!parent || !config_setting_is_group(parent)) return NULL;
  return config_setting_add(parent, name, type);
}

static void record_default(cfg_doc *doc, const char *path) {
  size_t need = strlen(path) + 2;
  if (doc->defaulted_len + need > doc->defaulted_cap) {
    size_t cap = doc->defaulted_cap ? doc->defaulted_cap * 2 : 1024;
    while (cap < doc->defaulted_len + need) cap *= 2;
    char *nb = realloc(doc->defaulted, cap);
    if (!nb) return; /* bookkeeping only: losing it is harmless */
    doc->defaulted = nb;
    doc->defaulted_cap = cap;
  }
  memcpy(doc->defaulted + doc->defaulted_len, path, need - 2);
  doc->defaulted_len += need - 2;
  doc->defaulted[doc->defaulted_len++] = '\n';
  doc->defaulted[doc->defaulted_len] = '\0';
  doc->n_defaulted++;
}

const char *cfg_defaulted_keys(const cfg_doc *doc, int *count) {
  if (count) *count = doc->n_defaulted;
  return doc->defaulted ? doc->defaulted : "";
}

static dd_status insert_default(cfg_doc *doc, const char *path, int type, config_setting_t **out) {
  *out = add_at(&doc->cfg, path, type);
  if (!*out) {
    /* A parent exists but is not a group ("run = 3;" and we need run.seed). */
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *dot = strrchr(tmp, '.'); dot; dot = strrchr(tmp, '.')) {
      *dot = '\0';
      config_setting_t *s = config_lookup(&doc->cfg, tmp);
      if (s && !config_setting_is_group(s))
        return cfg_error(doc, tmp, "expected a group { ... }, got %s",
                         type_name(config_setting_type(s)));
    }
    return DD_FAIL(DD_ERR_INTERNAL, "cannot insert default for '%s'", path);
  }
  mark(*out);
  record_default(doc, path);
  return DD_OK;
}

/* Deep copy of src as a new child `name` of parent (name NULL in lists). */
static int copy_setting(config_setting_t *parent, const char *name, const config_setting_t *src) {
  int type = config_setting_type(src);
  config_setting_t *dst = config_setting_add(parent, name, type);
  if (!dst) return 0;
  switch (type) {
    case CONFIG_TYPE_INT:
      return config_setting_set_int(dst, config_setting_get_int(src));
    case CONFIG_TYPE_INT64:
      return config_setting_set_int64(dst, config_setting_get_int64(src));
    case CONFIG_TYPE_FLOAT:
      return config_setting_set_float(dst, config_setting_get_float(src));
    case CONFIG_TYPE_BOOL:
      return config_setting_set_bool(dst, config_setting_get_bool(src));
    case CONFIG_TYPE_STRING:
      return config_setting_set_string(dst, config_setting_get_string(src));
    default:
      break;
  }
  int n = config_setting_length(src);
  for (int i = 0; i < n; i++) {
    const config_setting_t *e = config_setting_get_elem(src, (unsigned)i);
    if (!copy_setting(dst, type == CONFIG_TYPE_GROUP ? config_setting_name(e) : NULL, e)) return 0;
  }
  return 1;
}

/* Parses `text` as a libconfig value and stores it at `path` (parent groups
 * created; an existing setting is replaced when `replace`). */
static dd_status store_text_ex(cfg_doc *doc, const char *path, const char *text, int replace,
                               int *unparsable) {
  if (unparsable) *unparsable = 0;
  size_t vlen = strlen(text);
  char *snippet = malloc(vlen + 16);
  if (!snippet) return DD_FAIL(DD_ERR_NOMEM, "value buffer for %s", path);
  snprintf(snippet, vlen + 16, "v = %s;", text);
  config_t scratch;
  config_init(&scratch);
  /* The same 64-bit promotion as for the file (see cfg_parse_n). */
  lit_scan ls;
  char *promoted = NULL;
  dd_status st = lit_scan_text(&ls, snippet, strlen(snippet));
  if (st == DD_OK) st = promote_literals(&ls, snippet, strlen(snippet), &promoted);
  if (st != DD_OK) goto cleanup;
  for (int k = 0; k < ls.n; k++)
    if (ls.v[k].overflow) {
      st = DD_FAIL(DD_ERR_CONFIG, "%s: integer does not fit in 64 bits (range [%lld, %lld])", path,
                   (long long)INT64_MIN, (long long)INT64_MAX);
      goto cleanup;
    }
  if (!config_read_string(&scratch, promoted)) {
    if (unparsable) *unparsable = 1;
    st = DD_FAIL(DD_ERR_CONFIG, "%s: cannot parse value '%s': %s", path, text,
                 config_error_text(&scratch));
    goto cleanup;
  }
  char parent_path[512];
  snprintf(parent_path, sizeof parent_path, "%s", path);
  char *dot = strrchr(parent_path, '.');
  const char *name = path;
  config_setting_t *parent;
  if (dot) {
    *dot = '\0';
    name = path + (dot - parent_path) + 1;
    parent = ensure_group(&doc->cfg, parent_path);
  } else {
    parent = config_root_setting(&doc->cfg);
  }
  if (!parent || !config_setting_is_group(parent)) {
    st = DD_FAIL(DD_ERR_CONFIG, "%s: '%s' is not a group", path, dot ? parent_path : "(root)");
    goto cleanup;
  }
  if (replace && config_setting_get_member(parent, name)) config_setting_remove(parent, name);
  if (!copy_setting(parent, name, config_lookup(&scratch, "v")))
    st = DD_FAIL(DD_ERR_CONFIG, "%s: cannot store the value", path);
cleanup:
  config_destroy(&scratch);
  lit_scan_free(&ls);
  free(promoted);
  free(snippet);
  return st;
}

static dd_status store_text(cfg_doc *doc, const char *path, const char *text, int replace) {
  return store_text_ex(doc, path, text, replace, NULL);
}

/* A --set value that is not libconfig syntax but reads as a bare string (a
 * word, a path): not empty and not opening a quoted string, array, list or
 * group, whose own syntax errors must still be reported. */
static int bare_string(const char *v) {
  return v[0] != '\0' && !strchr("\"[({", v[0]);
}

/* The bare text quoted as a libconfig string ("..." with \ and " escaped);
 * malloc'ed, NULL when out of memory. */
static char *quote_string(const char *v) {
  size_t n = strlen(v);
  char *q = malloc(2 * n + 3), *p = q;
  if (!q) return NULL;
  *p++ = '"';
  for (const char *c = v; *c; c++) {
    if (*c == '\\' || *c == '"') *p++ = '\\';
    *p++ = *c;
  }
  *p++ = '"';
  *p = '\0';
  return q;
}

dd_status cfg_set_override(cfg_doc *doc, const char *assignment) {
  const char *eq = strchr(assignment, '=');
  if (!eq || eq == assignment)
    return DD_FAIL(DD_ERR_CONFIG, "--set %s: expected key=value", assignment);
  if (doc->n_over >= CFG_MAX_OVERRIDES)
    return DD_FAIL(DD_ERR_CONFIG, "--set %s: more than %d overrides", assignment,
                   CFG_MAX_OVERRIDES);
  char key[512];
  size_t klen = (size_t)(eq - assignment);
  while (klen > 0 && (assignment[klen - 1] == ' ')) klen--;
  if (klen >= sizeof key) return DD_FAIL(DD_ERR_CONFIG, "--set %s: key too long", assignment);
  memcpy(key, assignment, klen);
  key[klen] = '\0';
  for (const char *c = key; *c; c++)
    if (!(*c == '.' || *c == '_' || *c == '-' || *c == '*' || *c == '[' || *c == ']' ||
          (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')))
      return DD_FAIL(DD_ERR_CONFIG, "--set %s: invalid character '%c' in key", assignment, *c);

  /* Replace any existing setting at key.  A value that libconfig cannot
   * read but that is a bare word or path is the string it spells
   * (--set run.output_dir=runs/x); docs/configuration.md "--set". */
  const char *val = eq + 1;
  while (*val == ' ') val++;
  int unparsable = 0;
  dd_status st = store_text_ex(doc, key, val, 1, &unparsable);
  if (st != DD_OK && unparsable && bare_string(val)) {
    char *quoted = quote_string(val);
    if (!quoted) return DD_FAIL(DD_ERR_NOMEM, "--set %s", assignment);
    dd_error_clear();
    st = store_text(doc, key, quoted, 1);
    free(quoted);
  }
  if (st != DD_OK) {
    char inner[700];
    snprintf(inner, sizeof inner, "%s", dd_error_message());
    return DD_FAIL(st, "--set %s: %s", assignment, inner);
  }
  doc->over_path[doc->n_over] = strdup(key);
  doc->over_text[doc->n_over] = strdup(assignment);
  if (!doc->over_path[doc->n_over] || !doc->over_text[doc->n_over])
    return DD_FAIL(DD_ERR_NOMEM, "--set bookkeeping");
  doc->n_over++;
  return DD_OK;
}

dd_status cfg_insert_default(cfg_doc *doc, const char *path, const char *text) {
  if (config_lookup(&doc->cfg, path)) return DD_OK;
  DD_TRY(store_text(doc, path, text, 0), "default for %s", path);
  record_default(doc, path);
  return DD_OK;
}

/* --------------------------------------------------------------- getters */

static config_setting_t *find(const cfg_doc *doc, const char *path) {
  return config_lookup(&doc->cfg, path);
}

static int is_number(int type) {
  return type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64 || type == CONFIG_TYPE_FLOAT;
}

static double number_of(const config_setting_t *s) {
  int t = config_setting_type(s);
  if (t == CONFIG_TYPE_FLOAT) return config_setting_get_float(s);
  return (double)config_setting_get_int64(s);
}

static dd_status read_double(cfg_doc *doc, const char *path, config_setting_t *s, double *out) {
  int t = config_setting_type(s);
  if (!is_number(t)) return cfg_error(doc, path, "expected a number, got %s", type_name(t));
  mark(s);
  *out = number_of(s);
  if (!isfinite(*out)) return cfg_error(doc, path, "value is not finite");
  return DD_OK;
}

dd_status cfg_get_double(cfg_doc *doc, const char *path, double def, double *out) {
  config_setting_t *s = find(doc, path);
  if (s) return read_double(doc, path, s, out);
  DD_TRY(insert_default(doc, path, CONFIG_TYPE_FLOAT, &s), "default for %s", path);
  config_setting_set_float(s, def);
  *out = def;
  return DD_OK;
}

dd_status cfg_need_double(cfg_doc *doc, const char *path, double *out) {
  config_setting_t *s = find(doc, path);
  if (!s) return cfg_error(doc, path, "missing required key (a number)");
  return read_double(doc, path, s, out);
}

static dd_status read_int(cfg_doc *doc, const char *path, config_setting_t *s, long long *out) {
  int t = config_setting_type(s);
  if (t == CONFIG_TYPE_FLOAT)
    return cfg_error(doc, path, "expected an integer, got a float (%g)",
                     config_setting_get_float(s));
  if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
    return cfg_error(doc, path, "expected an integer, got %s", type_name(t));
  mark(s);
  *out = config_setting_get_int64(s);
  return DD_OK;
}

dd_status cfg_get_int(cfg_doc *doc, const char *path, long long def, long long *out) {
  config_setting_t *s = find(doc, path);
  if (s) return read_int(doc, path, s, out);
  int fits = def >= INT32_MIN && def <= INT32_MAX;
  DD_TRY(insert_default(doc, path, fits ? CONFIG_TYPE_INT : CONFIG_TYPE_INT64, &s),
         "default for %s", path);
  if (fits)
    config_setting_set_int(s, (int)def);
  else
    config_setting_set_int64(s, def);
  *out = def;
  return DD_OK;
}

dd_status cfg_need_int(cfg_doc *doc, const char *path, long long *out) {
  config_setting_t *s = find(doc, path);
  if (!s) return cfg_error(doc, path, "missing required key (an integer)");
  return read_int(doc, path, s, out);
}

static dd_status check_range(cfg_doc *doc, const char *path, long long v, long long lo,
                             long long hi) {
  if (v >= lo && v <= hi) return DD_OK;
  return cfg_error(doc, path, "must be in [%lld, %lld], got %lld", lo, hi, v);
}

dd_status cfg_get_int_range(cfg_doc *doc, const char *path, long long def, long long lo,
                            long long hi, long long *out) {
  if (def < lo || def > hi)
    return DD_FAIL(DD_ERR_INTERNAL, "%s: default %lld outside [%lld, %lld]", path, def, lo, hi);
  DD_TRY(cfg_get_int(doc, path, def, out), "reading %s", path);
  return check_range(doc, path, *out, lo, hi);
}

dd_status cfg_need_int_range(cfg_doc *doc, const char *path, long long lo, long long hi,
                             long long *out) {
  DD_TRY(cfg_need_int(doc, path, out), "reading %s", path);
  return check_range(doc, path, *out, lo, hi);
}

dd_status cfg_get_bool(cfg_doc *doc, const char *path, int def, int *out) {
  config_setting_t *s = find(doc, path);
  if (s) {
    int t = config_setting_type(s);
    if (t != CONFIG_TYPE_BOOL)
      return cfg_error(doc, path, "expected true or false, got %s", type_name(t));
    mark(s);
    *out = config_setting_get_bool(s);
    return DD_OK;
  }
  DD_TRY(insert_default(doc, path, CONFIG_TYPE_BOOL, &s), "default for %s", path);
  config_setting_set_bool(s, def);
  *out = def;
  return DD_OK;
}

static dd_status copy_string(cfg_doc *doc, const char *path, const char *v, char *buf, size_t cap) {
  size_t n = strlen(v);
  if (n + 1 > cap) return cfg_error(doc, path, "string longer than %zu characters", cap - 1);
  memcpy(buf, v, n + 1);
  return DD_OK;
}

/* A string key given a number or boolean by an unquoted --set value
 * (--set run.name=2024): the key's type decides, so the value becomes the
 * string as typed.  Returns the setting to read (s when nothing changed). */
static config_setting_t *override_as_string(cfg_doc *doc, const char *path, config_setting_t *s) {
  int t = config_setting_type(s);
  if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64 && t != CONFIG_TYPE_FLOAT &&
      t != CONFIG_TYPE_BOOL)
    return s;
  int oi = override_index(doc, path);
  if (oi < 0) return s;
  const char *val = strchr(doc->over_text[oi], '=');
  if (!val) return s;
  val++;
  while (*val == ' ') val++;
  if (!bare_string(val)) return s;
  config_setting_t *parent = config_setting_parent(s);
  const char *name = config_setting_name(s);
  if (!parent || !name) return s;
  char nm[256];
  snprintf(nm, sizeof nm, "%s", name);
  config_setting_remove(parent, nm);
  config_setting_t *n = config_setting_add(parent, nm, CONFIG_TYPE_STRING);
  if (!n) return config_lookup(&doc->cfg, path);
  config_setting_set_string(n, val);
  return n;
}

static dd_status read_string(cfg_doc *doc, const char *path, config_setting_t *s, char *buf,
                             size_t cap) {
  s = override_as_string(doc, path, s);
  int t = config_setting_type(s);
  if (t != CONFIG_TYPE_STRING)
    return cfg_error(doc, path, "expected a string \"...\", got %s", type_name(t));
  mark(s);
  return copy_string(doc, path, config_setting_get_string(s), buf, cap);
}

dd_status cfg_get_string(cfg_doc *doc, const char *path, const char *def, char *buf, size_t cap) {
  config_setting_t *s = find(doc, path);
  if (s) return read_string(doc, path, s, buf, cap);
  DD_TRY(insert_default(doc, path, CONFIG_TYPE_STRING, &s), "default for %s", path);
  config_setting_set_string(s, def);
  return copy_string(doc, path, def, buf, cap);
}

dd_status cfg_need_string(cfg_doc *doc, const char *path, char *buf, size_t cap) {
  config_setting_t *s = find(doc, path);
  if (!s) return cfg_error(doc, path, "missing required key (a string)");
  return read_string(doc, path, s, buf, cap);
}

dd_status cfg_get_choice(cfg_doc *doc, const char *path, const char *def,
                         const char *const *choices, int n, int *index) {
  char buf[256];
  DD_TRY(cfg_get_string(doc, path, def, buf, sizeof buf), "reading %s", path);
  for (int i = 0; i < n; i++)
    if (strcmp(buf, choices[i]) == 0) {
      *index = i;
      return DD_OK;
    }
  char list[1024];
  size_t off = 0;
  list[0] = '\0';
  for (int i = 0; i < n && off < sizeof list; i++)
    off += (size_t)snprintf(list + off, sizeof list - off, "%s\"%s\"", i ? ", " : "", choices[i]);
  return cfg_error(doc, path, "\"%s\" is not one of %s", buf, list);
}

/* ----------------------------------------------------------------- lists */

static dd_status read_range(cfg_doc *doc, const char *path, config_setting_t *g, double *out,
                            int cap, int *n) {
  int len = config_setting_length(g);
  int has_lin = 0, has_log = 0, has_pts = 0;
  double from = 0, to = 0;
  long long pts = 0;
  char sub[600];
  for (int i = 0; i < len; i++) {
    config_setting_t *e = config_setting_get_elem(g, (unsigned)i);
    const char *nm = config_setting_name(e);
    snprintf(sub, sizeof sub, "%s.%s", path, nm);
    if (strcmp(nm, "from") == 0 || strcmp(nm, "to") == 0) {
      has_lin = 1;
      DD_TRY(read_double(doc, sub, e, strcmp(nm, "from") == 0 ? &from : &to), "range");
    } else if (strcmp(nm, "log_from") == 0 || strcmp(nm, "log_to") == 0) {
      has_log = 1;
      DD_TRY(read_double(doc, sub, e, strcmp(nm, "log_from") == 0 ? &from : &to), "range");
    } else if (strcmp(nm, "points") == 0) {
      has_pts = 1;
      DD_TRY(read_int(doc, sub, e, &pts), "range");
    } else {
      return cfg_error(doc, sub,
                       "unknown key in a range (use from/to/points or "
                       "log_from/log_to/points)");
    }
  }
  mark(g);
  if (has_lin == has_log || !has_pts)
    return cfg_error(doc, path,
                     "a range needs either {from, to, points} or {log_from, "
                     "log_to, points}");
  if (pts < 1) return cfg_error(doc, path, "points must be >= 1, got %lld", pts);
  if (pts > cap) return cfg_error(doc, path, "%lld points, at most %d allowed", pts, cap);
  if (has_log && !(from > 0 && to > 0))
    return cfg_error(doc, path, "log_from and log_to must be > 0 (got %g, %g)", from, to);
  for (long long i = 0; i < pts; i++) {
    double f = pts == 1 ? 0.0 : (double)i / (double)(pts - 1);
    out[i] = has_log ? exp(log(from) + f * (log(to) - log(from))) : from + f * (to - from);
  }
  out[0] = from;
  if (pts > 1) out[pts - 1] = to; /* endpoints exact, as written */
  *n = (int)pts;
  return DD_OK;
}

dd_status cfg_get_double_list(cfg_doc *doc, const char *path, const double *def, int n_def,
                              double *out, int cap, int *n) {
  *n = 0;
  config_setting_t *s = find(doc, path);
  if (!s) {
    if (!def || n_def == 0) return cfg_error(doc, path, "missing required key (a list of numbers)");
    if (n_def > cap) return cfg_error(doc, path, "default longer than %d", cap);
    DD_TRY(insert_default(doc, path, CONFIG_TYPE_ARRAY, &s), "default for %s", path);
    for (int i = 0; i < n_def; i++) {
      config_setting_set_float_elem(s, -1, def[i]);
      out[i] = def[i];
    }
    *n = n_def;
    return DD_OK;
  }
  int t = config_setting_type(s);
  if (is_number(t)) {
    if (cap < 1) return cfg_error(doc, path, "no room for values");
    DD_TRY(read_double(doc, path, s, &out[0]), "list");
    *n = 1;
    return DD_OK;
  }
  if (t == CONFIG_TYPE_GROUP) return read_range(doc, path, s, out, cap, n);
  if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
    return cfg_error(doc, path, "expected a list of numbers or a range, got %s", type_name(t));
  int len = config_setting_length(s);
  if (len == 0) return cfg_error(doc, path, "empty list");
  if (len > cap) return cfg_error(doc, path, "%d values, at most %d allowed", len, cap);
  for (int i = 0; i < len; i++) {
    config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
    if (!is_number(config_setting_type(e)))
      return cfg_error(doc, path, "element %d: expected a number, got %s", i,
                       type_name(config_setting_type(e)));
    out[i] = number_of(e);
    if (!isfinite(out[i])) return cfg_error(doc, path, "element %d is not finite", i);
    mark(e);
  }
  mark(s);
  *n = len;
  return DD_OK;
}

dd_status cfg_get_string_list(cfg_doc *doc, const char *path, const char *const *def, int n_def,
                              char *buf, size_t cap_each, int cap, int *n) {
  *n = 0;
  config_setting_t *s = find(doc, path);
  if (!s) {
    if (!def || n_def == 0) return cfg_error(doc, path, "missing required key (a list of strings)");
    if (n_def > cap) return cfg_error(doc, path, "default longer than %d", cap);
    DD_TRY(insert_default(doc, path, CONFIG_TYPE_ARRAY, &s), "default for %s", path);
    for (int i = 0; i < n_def; i++) {
      config_setting_set_string_elem(s, -1, def[i]);
      DD_TRY(copy_string(doc, path, def[i], buf + (size_t)i * cap_each, cap_each), "list");
    }
    *n = n_def;
    return DD_OK;
  }
  int t = config_setting_type(s);
  if (t == CONFIG_TYPE_STRING) {
    DD_TRY(read_string(doc, path, s, buf, cap_each), "list");
    *n = 1;
    return DD_OK;
  }
  if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
    return cfg_error(doc, path, "expected a list of strings, got %s", type_name(t));
  int len = config_setting_length(s);
  if (len == 0) return cfg_error(doc, path, "empty list");
  if (len > cap) return cfg_error(doc, path, "%d values, at most %d allowed", len, cap);
  for (int i = 0; i < len; i++) {
    config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
    if (config_setting_type(e) != CONFIG_TYPE_STRING)
      return cfg_error(doc, path, "element %d: expected a string, got %s", i,
                       type_name(config_setting_type(e)));
    DD_TRY(
        copy_string(doc, path, config_setting_get_string(e), buf + (size_t)i * cap_each, cap_each),
        "list");
    mark(e);
  }
  mark(s);
  *n = len;
  return DD_OK;
}

/* ------------------------------------------------------------- structure */

int cfg_exists(const cfg_doc *doc, const char *path) {
  return find(doc, path) != NULL;
}

int cfg_length(const cfg_doc *doc, const char *path) {
  config_setting_t *s = find(doc, path);
  if (!s) return 0;
  int t = config_setting_type(s);
  if (t == CONFIG_TYPE_GROUP || t == CONFIG_TYPE_ARRAY || t == CONFIG_TYPE_LIST)
    return config_setting_length(s);
  return 1;
}

void cfg_mark_used(cfg_doc *doc, const char *path) {
  config_setting_t *s = find(doc, path);
  if (s) mark(s);
}

/* Levenshtein distance, capped: enough for "did you mean" hints. */
static int edit_distance(const char *a, const char *b) {
  int la = (int)strlen(a), lb = (int)strlen(b);
  if (la > 63 || lb > 63) return 99;
  int d[64][64];
  for (int i = 0; i <= la; i++) d[i][0] = i;
  for (int j = 0; j <= lb; j++) d[0][j] = j;
  for (int i = 1; i <= la; i++)
    for (int j = 1; j <= lb; j++) {
      int c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      if (d[i - 1][j] + 1 < c) c = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < c) c = d[i][j - 1] + 1;
      d[i][j] = c;
    }
  return d[la][lb];
}

static int subtree_used(const config_setting_t *s) {
  if (is_marked(s)) return 1;
  if (config_setting_is_aggregate(s)) {
    int n = config_setting_length(s);
    for (int i = 0; i < n; i++)
      if (subtree_used(config_setting_get_elem(s, (unsigned)i))) return 1;
  }
  return 0;
}

/* Depth-first: the first setting in document order that nothing read. */
static const config_setting_t *first_unused(const config_setting_t *s, char *path, size_t cap) {
  if (is_marked(s)) return NULL;
  int t = config_setting_type(s);
  int is_root = config_setting_parent(s) == NULL;
  /* A group nothing under which was read is reported as a whole (a
   * misspelt group name), otherwise descend to the first unread key. */
  if ((t == CONFIG_TYPE_GROUP || t == CONFIG_TYPE_LIST) &&
      (is_root || (config_setting_length(s) > 0 && subtree_used(s)))) {
    size_t base = strlen(path);
    int n = config_setting_length(s);
    for (int i = 0; i < n; i++) {
      const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
      if (t == CONFIG_TYPE_LIST)
        snprintf(path + base, cap - base, "%s[%d]", base ? "." : "", i);
      else
        snprintf(path + base, cap - base, "%s%s", base ? "." : "", config_setting_name(e));
      const config_setting_t *u = first_unused(e, path, cap);
      if (u) return u;
      path[base] = '\0';
    }
    return NULL;
  }
  return s;
}

dd_status cfg_check_unused(const cfg_doc *doc) {
  char path[1024] = "";
  const config_setting_t *root = config_root_setting(&doc->cfg);
  const config_setting_t *u = first_unused(root, path, sizeof path);
  if (!u) return DD_OK;
  /* Hint: the closest sibling that was read. */
  const config_setting_t *parent = config_setting_parent(u);
  const char *best = NULL;
  int best_d = 4;
  if (parent && config_setting_is_group(parent) && config_setting_name(u)) {
    int n = config_setting_length(parent);
    for (int i = 0; i < n; i++) {
      const config_setting_t *e = config_setting_get_elem(parent, (unsigned)i);
      if (e == u || !subtree_used(e)) continue;
      int d = edit_distance(config_setting_name(u), config_setting_name(e));
      if (d < best_d) {
        best_d = d;
        best = config_setting_name(e);
      }
    }
  }
  if (best) return cfg_error(doc, path, "unknown key (did you mean '%s'?)", best);
  return cfg_error(doc, path, "unknown key (see configs/example.cfg for every key)");
}

/* ------------------------------------------------------ resolved / hash */

dd_status cfg_resolved_text(const cfg_doc *doc, char **out) {
  *out = NULL;
  char *buf = NULL;
  size_t len = 0;
  FILE *fp = open_memstream(&buf, &len);
  if (!fp) return DD_FAIL(DD_ERR_NOMEM, "resolved configuration buffer");
  config_write(&doc->cfg, fp);
  if (fclose(fp) != 0) {
    free(buf);
    return DD_FAIL(DD_ERR_NOMEM, "resolved configuration buffer");
  }
  *out = buf;
  return DD_OK;
}

static uint64_t hash_setting(uint64_t h, const config_setting_t *s) {
  int t = config_setting_type(s);
  const char *nm = config_setting_name(s);
  h = dd_hash_str(h, nm ? nm : "");
  if (is_number(t)) {
    double v = number_of(s); /* 1 and 1.0 mean the same: hash them alike */
    h = dd_hash_bytes(h, "n", 1);
    return dd_hash_bytes(h, &v, sizeof v);
  }
  if (t == CONFIG_TYPE_STRING)
    return dd_hash_str(dd_hash_bytes(h, "s", 1), config_setting_get_string(s));
  if (t == CONFIG_TYPE_BOOL) {
    int b = config_setting_get_bool(s);
    return dd_hash_bytes(dd_hash_bytes(h, "b", 1), &b, sizeof b);
  }
  int n = config_setting_length(s);
  h = dd_hash_bytes(h, &t, sizeof t);
  h = dd_hash_bytes(h, &n, sizeof n);
  for (int i = 0; i < n; i++) h = hash_setting(h, config_setting_get_elem(s, (unsigned)i));
  return h;
}

uint64_t cfg_hash(const cfg_doc *doc, const char *const *paths, int n) {
  uint64_t h = DD_HASH_INIT;
  for (int i = 0; i < n; i++) {
    h = dd_hash_str(h, paths[i]);
    const config_setting_t *s = find(doc, paths[i]);
    h = s ? hash_setting(h, s) : dd_hash_str(h, "(absent)");
  }
  return h;
}
