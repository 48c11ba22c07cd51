/*
 * malloc_hook.h — for unit tests that compile a library file into
 * themselves: `#define malloc(n) hooked_malloc(n)` before the #include
 * routes its allocations here, where a failure can be injected at any one.
 */
#ifndef TCPU_TESTS_MALLOC_HOOK_H
#define TCPU_TESTS_MALLOC_HOOK_H

#include <stdlib.h>

/* -1: never fail.  n >= 0: n more allocations succeed, then one fails. */
static long fail_after = -1;
static unsigned allocations; /* successful ones */

static void *hooked_malloc(size_t n) {
  if (fail_after == 0) {
    fail_after = -1;
    return NULL;
  }
  if (fail_after > 0)
    fail_after--;
  allocations++;
  return malloc(n);
}

#endif /* TCPU_TESTS_MALLOC_HOOK_H */
