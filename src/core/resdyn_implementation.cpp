// The one translation unit that compiles the header's non-inline parts: the bodies behind
// RESDYN_IMPLEMENTATION and the float and double instances of its hosted templates.
#define RESDYN_IMPLEMENTATION
#include "resdyn.h"
