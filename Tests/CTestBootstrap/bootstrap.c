#include "dd_test_bootstrap.h"

// glibc calls ELF constructors with the program's arguments, which a restart needs. Nothing else of the
// test process exists yet, so restarting here loses nothing.
__attribute__((constructor)) static void select_blas_kernel(int argc, char **argv, char **envp) {
    (void)envp;
    dogdoor_tests_select_blas_kernel(argc, argv);
}
