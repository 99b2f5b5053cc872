/*
 * sattn RVV kernels: shared declarations.
 *
 * One static binary runs every pattern and precision; the input file's header picks the
 * pattern (mode), the precision and the LMUL at run time. See main.c for the file layout and
 * attend.c for the attention core.
 */
#ifndef SATTN_RVV_H
#define SATTN_RVV_H

#include <stddef.h>
#include <stdint.h>

enum { MODE_DENSE = 0, MODE_WINDOW = 1, MODE_TABLE = 2, MODE_TOPK = 3, MODE_NM = 4,
       MODE_LSH = 5, MODE_LANDMARK = 6, MODE_COMPBLOCK = 7, MODE_COUNT };
/* macros, not an enum: attend_core.h tests them in #if */
#define PREC_FP32 0
#define PREC_BF16 1
#define PREC_I8 2
#define PREC_I4 3
#define PREC_COUNT 4

#define LOG2E 1.4426950408889634f

/* Everything the kernels read; filled by main.c from the input file. */
typedef struct {
    long mode, prec, lmul;
    long H, Hkv, S, D, group;  /* group = H / Hkv query heads per KV head */
    long causal;
    long window, dilation, wrap;
    long topk, nm_n, nm_m, lsh_buckets, lsh_planes;
    long landmarks, landmark_iters;
    long block_size, comp_block_size, keep_blocks, global_tokens;
    float score_scale;  /* multiplies the raw dot product: 1/sqrt(D) [* scale_q * scale_k] */
    float v_scale;      /* multiplies P.V: 1 or scale_v */
    long row_bytes;     /* bytes of one row of Q/K/V in storage precision */
    const uint8_t *q, *k, *v;        /* [H,S,row_bytes], [Hkv,S,row_bytes] */
    const int64_t *indptr;           /* MODE_TABLE: [Hkv*(S+1)] offsets into indices */
    const int32_t *indices;
    const float *aux;                /* LSH hyperplanes [lsh_planes, D] (fp32) */
    float *out;                      /* [H,S,D] fp32 */
    /* optional dump of the selection the kernel made (CSR per KV head, like MODE_TABLE) */
    int64_t *sel_indptr;             /* [Hkv*(S+1)] or NULL */
    int32_t *sel_indices;            /* capacity sel_cap */
    long sel_cap;
} ctx_t;

/* A row's keys: either a strided range (lo + t*stride) or an index list. */
typedef struct {
    const int32_t *idx; /* NULL for a strided range */
    long lo, stride, n;
} keys_t;

/* Attention of one query row of head h over the keys `ks` of the K/V rows at kbase/vbase
 * (row_bytes apart). Writes D floats to out. Scratch must hold the row's working set. */
typedef void (*attend_fn)(const ctx_t *c, const uint8_t *qrow, const uint8_t *kbase,
                          const uint8_t *vbase, const keys_t *ks, float *out, void *scratch);

attend_fn attend_lookup(long prec, long lmul);
size_t attend_scratch_bytes(const ctx_t *c, long max_keys);

/* Selection scores in float64 (exactly the reference's ranking for integer precisions; for
 * fp32/bf16 the products are exact and the sum is float64, as NumPy's). */
void sel_scores(const ctx_t *c, const uint8_t *qrow, const uint8_t *kbase, long nkeys,
                long key_stride_bytes, double *out);
/* Values of one stored row as floats (dequantised codes for i8/i4: the integer codes). */
void row_to_float(const ctx_t *c, const uint8_t *row, float *out);

/* Pattern drivers (one file per family). Each fills c->out. */
int run_dense_window(ctx_t *c);
int run_table(ctx_t *c);
int run_topk_nm(ctx_t *c);
int run_lsh(ctx_t *c);
int run_landmark(ctx_t *c);
int run_compblock(ctx_t *c);

void *xmalloc(size_t n);
void sel_record(ctx_t *c, long g, long i, const int32_t *idx, long n, long *cursor);

#endif
