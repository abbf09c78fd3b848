#ifndef DD_FUZZER_H
#define DD_FUZZER_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver, for programs that have a `main` of their own (a Swift executable does). Declared
/// here because libFuzzer ships no header; the runtime comes with `-sanitize=fuzzer`.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*test_one_input)(const uint8_t *data, size_t size));

#endif
