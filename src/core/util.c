/* util.c - hashing (FNV-1a 64), checked allocation and the small file helpers
 * every stage needs: atomic whole-file writes (tmp + fsync + rename), whole-
 * file reads and mkdir -p. */
#define _POSIX_C_SOURCE 200809L
#include "ddscan/core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

uint64_t dd_hash_bytes(uint64_t h, const void *data, size_t n) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= UINT64_C(0x100000001b3); /* FNV-1a 64-bit prime */
  }
  return h;
}

uint64_t dd_hash_str(uint64_t h, const char *s) {
  return dd_hash_bytes(h, s, strlen(s) + 1); /* include NUL: "ab","c" != "a","bc" */
}

dd_status dd_calloc(void **out, size_t n, size_t size, const char *what) {
  *out = NULL;
  if (n == 0 || size == 0) return DD_OK;
  if (n > SIZE_MAX / size)
    return DD_FAIL(DD_ERR_NOMEM, "allocating %s: %zu x %zu bytes overflows", what, n, size);
  *out = calloc(n, size);
  if (!*out)
    return DD_FAIL(DD_ERR_NOMEM, "out of memory allocating %s (%.1f MiB)", what,
                   (double)n * (double)size / 1048576.0);
  return DD_OK;
}

dd_status dd_alloc_aligned(void **out, size_t bytes, const char *what) {
  *out = NULL;
  if (bytes == 0) return DD_OK;
  size_t rounded = (bytes + 63) / 64 * 64; /* aligned_alloc wants a multiple */
  void *p = aligned_alloc(64, rounded);
  if (!p)
    return DD_FAIL(DD_ERR_NOMEM, "out of memory allocating %s (%.1f MiB)", what,
                   (double)bytes / 1048576.0);
  memset(p, 0, rounded);
  *out = p;
  return DD_OK;
}

void dd_free_aligned(void *p) {
  free(p);
}

dd_status dd_write_file_atomic(const char *path, const void *data, size_t n) {
  size_t len = strlen(path);
  char *tmp = malloc(len + 5);
  if (!tmp) return DD_FAIL(DD_ERR_NOMEM, "path buffer for '%s'", path);
  memcpy(tmp, path, len);
  memcpy(tmp + len, ".tmp", 5);
  dd_status st = DD_OK;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    st = DD_FAIL(DD_ERR_IO, "cannot create '%s': %s", tmp, strerror(errno));
    goto cleanup;
  }
  const char *p = data;
  size_t left = n;
  while (left > 0) {
    ssize_t w = write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      st = DD_FAIL(DD_ERR_IO, "%swriting '%s': %s",
                   errno == ENOSPC || errno == EDQUOT ? "disk full: " : "", tmp, strerror(errno));
      close(fd);
      unlink(tmp);
      goto cleanup;
    }
    p += w;
    left -= (size_t)w;
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    st = DD_FAIL(DD_ERR_IO, "%sflushing '%s': %s",
                 errno == ENOSPC || errno == EDQUOT ? "disk full: " : "", tmp, strerror(errno));
    unlink(tmp);
    goto cleanup;
  }
  if (rename(tmp, path) != 0) {
    st = DD_FAIL(DD_ERR_IO, "renaming '%s' to '%s': %s", tmp, path, strerror(errno));
    unlink(tmp);
  }
cleanup:
  free(tmp);
  return st;
}

dd_status dd_read_file(const char *path, char **out, size_t *n_out) {
  *out = NULL;
  FILE *fp = fopen(path, "rb");
  if (!fp) return DD_FAIL(DD_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  dd_status st = DD_OK;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  if (!buf) {
    fclose(fp);
    return DD_FAIL(DD_ERR_NOMEM, "reading '%s'", path);
  }
  for (;;) {
    if (n + 1 >= cap) {
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        st = DD_FAIL(DD_ERR_NOMEM, "reading '%s'", path);
        break;
      }
      buf = nb;
      cap *= 2;
    }
    size_t r = fread(buf + n, 1, cap - n - 1, fp);
    n += r;
    if (r == 0) {
      if (ferror(fp)) st = DD_FAIL(DD_ERR_IO, "reading '%s': %s", path, strerror(errno));
      break;
    }
  }
  fclose(fp);
  if (st != DD_OK) {
    free(buf);
    return st;
  }
  buf[n] = '\0';
  *out = buf;
  if (n_out) *n_out = n;
  return DD_OK;
}

dd_status dd_mkdir_p(const char *path) {
  char buf[4096];
  size_t len = strlen(path);
  if (len == 0) return DD_OK;
  if (len >= sizeof buf) return DD_FAIL(DD_ERR_ARG, "path too long: '%s'", path);
  memcpy(buf, path, len + 1);
  for (size_t i = 1; i <= len; i++) {
    if (buf[i] == '/' || buf[i] == '\0') {
      char c = buf[i];
      buf[i] = '\0';
      if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return DD_FAIL(DD_ERR_IO, "cannot create directory '%s': %s", buf, strerror(errno));
      buf[i] = c;
    }
  }
  struct stat sb;
  if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
    return DD_FAIL(DD_ERR_IO, "'%s' exists and is not a directory", path);
  return DD_OK;
}

int dd_path_exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

double dd_peak_rss_bytes(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0.0;
  return (double)ru.ru_maxrss * 1024.0; /* Linux reports kilobytes */
}
