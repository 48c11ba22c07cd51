/*
 * standalone_main.c — replays inputs through LLVMFuzzerTestOneInput when a
 * harness is built without libFuzzer (gcc, or TCPU_FUZZ off), so every
 * seed corpus runs as a plain ctest.
 *
 *   fuzz_seg_replay FILE|DIR...
 *
 * Each FILE, and each regular file directly inside each DIR (in name order,
 * dot files skipped), is read into a buffer of exactly its size, so the
 * sanitizers catch any read past the end.  Exits nonzero when a path
 * cannot be read or nothing was run.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path) {
  FILE *f;
  uint8_t *buf = NULL;
  long size;
  int rc = -1;

  errno = 0;
  f = fopen(path, "rb");
  if (f == NULL)
    goto out;
  if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
      fseek(f, 0, SEEK_SET) != 0)
    goto out;
  /* malloc(0) may return NULL; one spare byte keeps the size exact to the
   * harness, which is handed size, not the allocation. */
  buf = malloc((size_t)size + 1);
  if (buf == NULL || fread(buf, 1, (size_t)size, f) != (size_t)size)
    goto out;
  LLVMFuzzerTestOneInput(buf, (size_t)size);
  rc = 0;
out:
  if (rc != 0)
    fprintf(stderr, "%s: %s\n", path, errno ? strerror(errno) : "read error");
  free(buf);
  if (f != NULL)
    fclose(f);
  return rc;
}

static int skip_dot(const struct dirent *d) { return d->d_name[0] != '.'; }

/* Returns the number of inputs run, or -1. */
static long run_dir(const char *dir) {
  struct dirent **ents;
  int n = scandir(dir, &ents, skip_dot, alphasort);
  long count = 0;

  if (n < 0) {
    fprintf(stderr, "%s: %s\n", dir, strerror(errno));
    return -1;
  }
  for (int i = 0; i < n; i++) {
    char path[4096];
    struct stat st;

    if (count >= 0 &&
        snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name) <
            (int)sizeof(path) &&
        stat(path, &st) == 0 && S_ISREG(st.st_mode))
      count = run_file(path) == 0 ? count + 1 : -1;
    free(ents[i]);
  }
  free(ents);
  return count;
}

int main(int argc, char **argv) {
  long total = 0;

  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
    return 2;
  }
  for (int i = 1; i < argc; i++) {
    struct stat st;
    long n;

    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
      return 1;
    }
    if (S_ISDIR(st.st_mode))
      n = run_dir(argv[i]);
    else
      n = run_file(argv[i]) == 0 ? 1 : -1;
    if (n < 0)
      return 1;
    total += n;
  }
  printf("%s: ran %ld inputs\n", argv[0], total);
  return total > 0 ? 0 : 1;
}
