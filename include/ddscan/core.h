/* core.h - ddscan's foundation: status codes with a context chain, rank-aware
 * logging, timers, hashing, provenance and the Philox4x32-10 counter-based RNG.
 * Uses nothing but the C standard library; every other module builds on it. */
#ifndef DDSCAN_CORE_H
#define DDSCAN_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ------------------------------------------------------------------------ */
/* Status codes and the per-process error context (STYLE.md §4)              */
/* ------------------------------------------------------------------------ */

/* Every function that can fail returns a dd_status; results come back through
 * out-parameters.  The numeric values are also the process exit codes chosen
 * by main (after 1 = generic failure, 2 = usage error), so never renumber. */
typedef enum dd_status {
  DD_OK = 0,
  DD_ERR_NOMEM = 10,
  DD_ERR_IO = 11,
  DD_ERR_CONFIG = 12,
  DD_ERR_HDF5 = 13,
  DD_ERR_MPI = 14,
  DD_ERR_NUMERIC = 15,
  DD_ERR_ARG = 16,
  DD_ERR_INTERNAL = 17
} dd_status;

/* Name of a status ("DD_ERR_CONFIG"). */
const char *dd_status_name(dd_status st);

/* Records the first (innermost) failure: "file:line func: message".  Returns
 * st so that a failing site can write `return DD_FAIL(DD_ERR_IO, "...")`.
 * Use the macros below rather than calling these directly. */
dd_status dd_error_set(dd_status st, const char *file, int line, const char *func, const char *fmt,
                       ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
/* Adds one line of context on the way up ("writing 'out.h5'").  Returns st. */
dd_status dd_error_push(dd_status st, const char *file, int line, const char *func, const char *fmt,
                        ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* The format string is part of __VA_ARGS__ so the macros stay C11-clean. */
#define DD_FAIL(st, ...) dd_error_set((st), __FILE__, __LINE__, __func__, __VA_ARGS__)
#define DD_CONTEXT(st, ...) dd_error_push((st), __FILE__, __LINE__, __func__, __VA_ARGS__)
/* Evaluate expr; on failure add a context line and return its status. */
#define DD_TRY(expr, ...)                                                \
  do {                                                                   \
    dd_status dd_try_st_ = (expr);                                       \
    if (dd_try_st_ != DD_OK) return DD_CONTEXT(dd_try_st_, __VA_ARGS__); \
  } while (0)

/* The status of the recorded failure (DD_OK when none). */
dd_status dd_error_status(void);
/* The innermost message without location ("key 'x': expected float"), or "". */
const char *dd_error_message(void);
/* The whole chain on one line: "DD_ERR_IO src/io/x.c:12 f: msg <- ctx <- ctx". */
const char *dd_error_chain(void);
/* Forget the recorded failure (tests, or after a handled error). */
void dd_error_clear(void);
/* The failure as the user reads it: the innermost message alone (it names the
 * file, line, key or dataset), without status name, source location or the
 * context chain; out-of-memory, MPI and internal errors say so first. */
const char *dd_error_user_message(void);
/* Prints "ddscan: error: " and the user message to fp; at log level DEBUG
 * (-v) the whole chain instead, after "rank R" when rank >= 0. */
void dd_error_print(FILE *fp, int rank);

/* ------------------------------------------------------------------------ */
/* Panic and assertions                                                      */
/* ------------------------------------------------------------------------ */

/* Unrecoverable error on one rank (STYLE.md §4 rule 3): prints with the rank,
 * flushes and calls the installed handler (main installs one that calls
 * MPI_Abort).  Never returns. */
_Noreturn void dd_panic(int code, const char *file, int line, const char *func, const char *fmt,
                        ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
#define DD_PANIC(code, ...) dd_panic((code), __FILE__, __LINE__, __func__, __VA_ARGS__)
typedef void (*dd_panic_handler)(int code);
void dd_set_panic_handler(dd_panic_handler h);
/* With on = 1, recording DD_ERR_NOMEM panics instead of returning: set by
 * par_world_init when more than one rank runs, since an allocation that
 * fails on one rank only would leave the others waiting in a collective. */
void dd_set_nomem_fatal(int on);

/* Cheap precondition checks in compute kernels; always on. */
#define DD_ASSERT(cond)                                                    \
  do {                                                                     \
    if (!(cond)) DD_PANIC(DD_ERR_INTERNAL, "assertion failed: %s", #cond); \
  } while (0)
/* Expensive checks, only in DEBUG builds. */
#ifdef DD_DEBUG
#define DD_DEBUG_ASSERT(cond) DD_ASSERT(cond)
#else
#define DD_DEBUG_ASSERT(cond) ((void)0)
#endif

/* ------------------------------------------------------------------------ */
/* Logging: "[rank/size] +elapsed_s message"                                 */
/* ------------------------------------------------------------------------ */

typedef enum dd_log_level {
  DD_LOG_QUIET = 0, /* errors and warnings only */
  DD_LOG_INFO = 1,  /* default: progress and results from rank 0 */
  DD_LOG_DEBUG = 2  /* -v */
} dd_log_level;

/* Sets the rank prefix and verbosity; also starts the elapsed-time clock. */
void dd_log_init(int rank, int size, dd_log_level level);
dd_log_level dd_log_get_level(void);
int dd_log_rank(void);
/* INFO: rank 0 only, stdout.  DEBUG: rank 0 only with -v.  WARN/ERROR: any
 * rank, stderr.  dd_progress is INFO that is also silenced by --quiet. */
void dd_info(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
void dd_debug(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
void dd_warn(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
void dd_log_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Progress meter for a loop over `total` items on rank 0: prints at most every
 * `interval_s` seconds "label: done/total (pct) rate unit/s ETA". */
typedef struct dd_progress {
  const char *label; /* borrowed */
  const char *unit;  /* borrowed, e.g. "images" */
  double total;
  double t_start;
  double t_last;
  double interval_s;
} dd_progress;
void dd_progress_start(dd_progress *p, const char *label, const char *unit, double total);
void dd_progress_update(dd_progress *p, double done);
void dd_progress_end(dd_progress *p, double done);

/* ------------------------------------------------------------------------ */
/* Timers, hashing, memory                                                   */
/* ------------------------------------------------------------------------ */

/* Monotonic wall clock in seconds. */
double dd_time_now(void);
/* Seconds since dd_log_init (or process start). */
double dd_time_elapsed(void);
/* Peak resident memory of this process so far, in bytes (getrusage; 0 where
 * the system does not say). */
double dd_peak_rss_bytes(void);

/* 64-bit FNV-1a hash, used for config and tensor-table hashes.  Chain calls by
 * passing the previous hash as h (start with DD_HASH_INIT). */
#define DD_HASH_INIT UINT64_C(0xcbf29ce484222325)
uint64_t dd_hash_bytes(uint64_t h, const void *data, size_t n);
uint64_t dd_hash_str(uint64_t h, const char *s);

/* Allocation helpers that record DD_ERR_NOMEM with the object's name.
 * *out is NULL on failure.  Memory is zeroed (calloc). */
dd_status dd_calloc(void **out, size_t n, size_t size, const char *what);
/* 64-byte aligned, zeroed; free with dd_free_aligned. */
dd_status dd_alloc_aligned(void **out, size_t bytes, const char *what);
void dd_free_aligned(void *p);

/* Writes a whole file through name.tmp + fsync + rename so that a file with
 * the final name is always complete. */
dd_status dd_write_file_atomic(const char *path, const void *data, size_t n);
/* Reads a whole file into a NUL-terminated malloc'ed buffer (caller frees). */
dd_status dd_read_file(const char *path, char **out, size_t *n_out);
/* mkdir -p. */
dd_status dd_mkdir_p(const char *path);
/* 1 if path exists (any type). */
int dd_path_exists(const char *path);

/* ------------------------------------------------------------------------ */
/* Provenance                                                                */
/* ------------------------------------------------------------------------ */

/* Version ("0.1.0-12-gabcdef" from git describe at build time), compiler and
 * flags, and the OpenBLAS build and kernel (core name) this process uses.
 * Strings are static; the MPI/HDF5 versions are added by io. */
typedef struct dd_provenance {
  const char *version;
  const char *git_rev;
  const char *compiler;
  const char *cflags;
  const char *build_date;
  const char *blas_config;   /* openblas_get_config() */
  const char *blas_corename; /* openblas_get_corename(): the kernel in use */
  char host[128];
} dd_provenance;
void dd_provenance_get(dd_provenance *p);
/* "ddscan 0.1.0-12-gabcdef (git abcdef, gcc 12.2.0, OpenBLAS 0.3.21 ... core Haswell)" */
const char *dd_version_string(void);

/* ------------------------------------------------------------------------ */
/* Philox4x32-10 counter-based RNG (Salmon et al., SC11)                     */
/* ------------------------------------------------------------------------ */

/* One Philox4x32 round: the multipliers M0 = 0xD2511F53, M1 = 0xCD9E8D57
 * of the SC11 paper, §4.2; (k0, k1) is the round key. */
#define DD_PHILOX_ROUND(x, k0, k1)                                                     \
  do {                                                                                 \
    uint64_t p0_ = UINT64_C(0xD2511F53) * (x)[0], p1_ = UINT64_C(0xCD9E8D57) * (x)[2]; \
    (x)[0] = (uint32_t)(p1_ >> 32) ^ (x)[1] ^ (k0);                                    \
    (x)[1] = (uint32_t)p1_;                                                            \
    (x)[2] = (uint32_t)(p0_ >> 32) ^ (x)[3] ^ (k1);                                    \
    (x)[3] = (uint32_t)p0_;                                                            \
  } while (0)

/* Raw block function: 10 rounds of Philox4x32 on ctr with key, the key
 * bumped by the Weyl steps W0 = 0x9E3779B9 (golden ratio), W1 = 0xBB67AE85
 * (sqrt(3) - 1) before every round but the first.  Written out round by
 * round and inline: the per-event detector simulation spends a third of its
 * instructions here (det_u32 in src/detector), and every other draw in
 * ddscan comes through dd_rng_u32, so there is one copy of the function. */
static inline void dd_philox4x32_10_inline(const uint32_t ctr[4], const uint32_t key[2],
                                           uint32_t out[4]) {
  const uint32_t w0 = UINT32_C(0x9E3779B9), w1 = UINT32_C(0xBB67AE85);
  const uint32_t k0 = key[0], k1 = key[1];
  uint32_t x[4] = {ctr[0], ctr[1], ctr[2], ctr[3]};
  DD_PHILOX_ROUND(x, k0, k1);
  DD_PHILOX_ROUND(x, k0 + w0, k1 + w1);
  DD_PHILOX_ROUND(x, k0 + 2 * w0, k1 + 2 * w1);
  DD_PHILOX_ROUND(x, k0 + 3 * w0, k1 + 3 * w1);
  DD_PHILOX_ROUND(x, k0 + 4 * w0, k1 + 4 * w1);
  DD_PHILOX_ROUND(x, k0 + 5 * w0, k1 + 5 * w1);
  DD_PHILOX_ROUND(x, k0 + 6 * w0, k1 + 6 * w1);
  DD_PHILOX_ROUND(x, k0 + 7 * w0, k1 + 7 * w1);
  DD_PHILOX_ROUND(x, k0 + 8 * w0, k1 + 8 * w1);
  DD_PHILOX_ROUND(x, k0 + 9 * w0, k1 + 9 * w1);
  out[0] = x[0];
  out[1] = x[1];
  out[2] = x[2];
  out[3] = x[3];
}

/* The same block function, out of line (tests, bindings). */
void dd_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* Streams: one enum whose values are never reused or renumbered.  Each says
 * what the counter words a, b, c mean.  Add new streams at the end. */
typedef enum dd_stream {
  DD_STREAM_TEST = 1,          /* tests only: a, b, c free */
  DD_STREAM_EVENT_ER = 2,      /* ER event: a = event index, b = retry, c = 0 */
  DD_STREAM_EVENT_NR = 3,      /* NR event: a = event index, b = retry, c = 0 */
  DD_STREAM_DETECTOR = 4,      /* fixed detector randomness (PMT QE, dead
                                  PMTs): a = PMT index, b = purpose, c = 0 */
  DD_STREAM_CEILING = 5,       /* information-ceiling sample: a = event,
                                  b = class, c = retry */
  DD_STREAM_NN_INIT = 6,       /* weight init: a = tensor index, b = element
                                  block, c = model id */
  DD_STREAM_SHUFFLE = 7,       /* epoch shuffle: a = epoch, b = model id */
  DD_STREAM_VAE_EPS = 8,       /* training VAE noise: a = epoch, b = sample */
  DD_STREAM_SCORE_EPS = 9,     /* scoring VAE noise: a = bank, b = event */
  DD_STREAM_TOYS = 10,         /* pseudo-experiments: a = grid point,
                                  b = toy, c = 0 */
  DD_STREAM_SPLIT = 11,        /* bank split assignment: a = bank, b = event */
  DD_STREAM_NN_DROPOUT = 12,   /* dropout masks: a = step, b = layer */
  DD_STREAM_INJECT = 13,       /* `ddscan inject` (seed = --seed): a = source, b = draw,
                                  c = 0 detector response, 1 the source's Poisson count
                                  (b = 0), 2 the event's time in the exposure */
  DD_STREAM_CLASSICAL_MC = 14, /* the classical baseline's detector MC (scan stage,
                                 stats.classical.mc_events): a = event index,
                                 b = retry, c = class (DET_ER, DET_NR) */
  DD_STREAM_SIGNAL = 15        /* the signal stage's sample (signal.model): a = event index,
                                 b = retry, c = signal model */
} dd_stream;

/* A small value-type generator: the key is (seed, stream), the counter is
 * (a, b, c, k) where k counts 128-bit blocks within the entity.  Copy it,
 * keep it on the stack; a draw depends only on the inputs of dd_rng_for and
 * the number of draws before it. */
typedef struct dd_rng {
  uint32_t key[2];
  uint32_t ctr[4];
  uint32_t buf[4];
  int pos;       /* next unused word in buf (4 = empty) */
  int has_spare; /* Box-Muller second normal available */
  double spare;
} dd_rng;

dd_rng dd_rng_for(uint32_t seed, dd_stream stream, uint32_t a, uint32_t b, uint32_t c);
/* Next raw 32-bit word. */
uint32_t dd_rng_u32(dd_rng *r);
/* Uniform on the open interval (0, 1), 53 random bits. */
double dd_rng_uniform(dd_rng *r);
/* Standard normal (Box-Muller, both values used). */
double dd_rng_normal(dd_rng *r);
/* Exponential with the given mean (mean > 0). */
double dd_rng_exponential(dd_rng *r, double mean);
/* Uniform integer in [0, n), n > 0, unbiased (rejection). */
uint32_t dd_rng_below(dd_rng *r, uint32_t n);

/* Next 32-bit word of r, inline: the same sequence as dd_rng_u32 (which
 * calls it), for samplers that draw millions of words. */
static inline uint32_t dd_rng_next32(dd_rng *r) {
  if (r->pos >= 4) {
    dd_philox4x32_10_inline(r->ctr, r->key, r->buf);
    r->ctr[3]++;
    r->pos = 0;
  }
  return r->buf[r->pos++];
}

/* Uniform on (0, 1) from one 32-bit word ((w + 1/2) 2^-32): enough
 * resolution for decisions, inversion and rejection tests at half the cost
 * of dd_rng_uniform's 53 bits. */
static inline double dd_rng_uniform32(dd_rng *r) {
  return ((double)dd_rng_next32(r) + 0.5) * (1.0 / 4294967296.0);
}

/* ------------------------------------------------------------------------ */
/* Fast exact samplers (sample.c): ziggurat normal and exponential, Poisson  */
/* and binomial.  Their tables live in a dd_sampler built once per owner.    */
/* ------------------------------------------------------------------------ */

#define DD_LOGFACT_N 8192 /* log k! tabulated below this k */

/* Read-only tables of the samplers (~140 kB): ziggurat layers of the normal
 * (128) and exponential (256) densities (Marsaglia and Tsang 2000), log k!
 * and 1/k.  Fill with dd_sampler_init; no allocation, nothing to free. */
typedef struct dd_sampler {
  uint32_t kn[128];
  double wn[128], fn[128];
  uint32_t ke[256];
  double we[256], fe[256];
  double logfact[DD_LOGFACT_N]; /* log(k!) */
  double inv_int[DD_LOGFACT_N]; /* 1/k (k > 0) */
} dd_sampler;

void dd_sampler_init(dd_sampler *s);

/* Tail and wedge branches of the ziggurat samplers (rare, out of line). */
double dd_sample_normal_slow(const dd_sampler *s, dd_rng *r, int32_t hz, uint32_t iz);
double dd_sample_exp_slow(const dd_sampler *s, dd_rng *r, uint32_t jz, uint32_t iz);

/* Standard normal by the ziggurat: one 32-bit word in about 98.8 % of draws.
 * The low 7 bits pick the layer, the upper 25 the position (kept apart to
 * avoid the layer/value correlation noted by Doornik, 2005). */
static inline double dd_sample_normal(const dd_sampler *s, dd_rng *r) {
  uint32_t u = dd_rng_next32(r), iz = u & 127u;
  int32_t hz = (int32_t)(u & ~127u);
  if ((uint32_t)(hz < 0 ? -(int64_t)hz : hz) < s->kn[iz]) return hz * s->wn[iz];
  return dd_sample_normal_slow(s, r, hz, iz);
}

/* Exponential with the given mean (> 0) by the ziggurat. */
static inline double dd_sample_exponential(const dd_sampler *s, dd_rng *r, double mean) {
  uint32_t u = dd_rng_next32(r), iz = u & 255u, jz = u & ~255u;
  if (jz < s->ke[iz]) return mean * jz * s->we[iz];
  return mean * dd_sample_exp_slow(s, r, jz, iz);
}

/* Poisson(mu), exact: unit-rate arrivals (ziggurat exponentials) below
 * mu = 3, inversion below 10, PTRS (Hormann 1993) above.  mu <= 0 or NaN
 * gives 0; mu must be finite. */
uint64_t dd_sample_poisson(const dd_sampler *s, dd_rng *r, double mu);
/* Binomial(n, p), exact: inversion below n min(p, 1-p) = 10, BTRS (Hormann
 * 1993) above.  p <= 0 (or NaN) gives 0, p >= 1 gives n. */
uint64_t dd_sample_binomial(const dd_sampler *s, dd_rng *r, uint64_t n, double p);
/* log(k!) for integer k >= 0: the table below DD_LOGFACT_N, Stirling's
 * series (error < 1e-15) above. */
double dd_sample_logfact(const dd_sampler *s, double k);

#endif /* DDSCAN_CORE_H */
