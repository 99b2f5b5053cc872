#include "sattn_rvv.h"
int run_topk_nm(ctx_t *c) { (void)c; return 7; }
int run_lsh(ctx_t *c) { (void)c; return 7; }
int run_landmark(ctx_t *c) { (void)c; return 7; }
int run_compblock(ctx_t *c) { (void)c; return 7; }
void sel_scores(const ctx_t *c, const uint8_t *qrow, const uint8_t *kbase, long nkeys, long ksb, double *out) { (void)c; (void)qrow; (void)kbase; (void)nkeys; (void)ksb; (void)out; }
void row_to_float(const ctx_t *c, const uint8_t *row, float *out) { (void)c; (void)row; (void)out; }
