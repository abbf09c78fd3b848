#include "dd_gpiod.h"
