/*
 * fuzz.h — the libFuzzer entry point every harness (fuzz_<x>.c) defines.
 * Built with -fsanitize=fuzzer it is driven by libFuzzer; otherwise
 * standalone_main.c replays a corpus through it.
 */
#ifndef TCPU_TESTS_FUZZ_H
#define TCPU_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* TCPU_TESTS_FUZZ_H */
