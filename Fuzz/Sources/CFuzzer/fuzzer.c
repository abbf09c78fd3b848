// The declaration in include/dd_fuzzer.h is all this target provides.
#include "dd_fuzzer.h"
