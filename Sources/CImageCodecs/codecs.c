#include "dd_codecs.h"
