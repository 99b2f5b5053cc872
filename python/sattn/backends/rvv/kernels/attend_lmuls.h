/*
 * Instantiate attend_core.h for every LMUL the runner can ask for, at the precision the
 * includer has #defined as PREC. No include guard: included once per precision.
 */
#define LMUL 1
#include "attend_core.h"
#undef LMUL
#define LMUL 2
#include "attend_core.h"
#undef LMUL
#define LMUL 4
#include "attend_core.h"
#undef LMUL
#define LMUL 8
#include "attend_core.h"
#undef LMUL
