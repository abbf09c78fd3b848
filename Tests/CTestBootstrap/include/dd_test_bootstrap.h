#ifndef DD_TEST_BOOTSTRAP_H
#define DD_TEST_BOOTSTRAP_H

/// Runs when the test executable loads, before any test: picks the OpenBLAS kernel exactly as the
/// programs do (it may restart the test process with another `OPENBLAS_CORETYPE`), so that the tests check
/// the kernel the programs run. Defined in Swift (`TestSupport`, `BLASBootstrap.swift`).
void dogdoor_tests_select_blas_kernel(int argc, char **argv);

#endif
