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

/* header slots, modes, precision codes: generated from python/sattn/backends/rvv/abi.py */
#include "sattn_rvv_abi.h"

#define LOG2E 1.4426950408889634f

/* Everything the kernels read; filled by main.c from the input file. */
typedef struct {
    long mode, prec, lmul;
    long H, Hkv, S, D, group;  /* S = Skv keys per KV head; group = H / Hkv query heads per KV head */
    long Dv;                   /* the value dimension (P.V, the output rows); D: queries and keys */
    long Sq, off;              /* Sq query rows; row i sits at position off + i (off = S - Sq) */
    long causal;
    long window, dilation, wrap;
    long topk, nm_n, nm_m, lsh_buckets, lsh_planes;
    long landmarks, landmark_iters;
    long block_size, comp_block_size, keep_blocks, global_tokens;
    long comp_stride, select_blocks, nsa_window; /* NSA: d, n, w (block_size b, comp_block_size l) */
    double scales[3];   /* scale_q, scale_k, scale_v (i8/i4; 1 otherwise) */
    float score_scale;  /* multiplies the raw dot product: 1/sqrt(D) [* scale_q * scale_k] */
    float v_scale;      /* multiplies P.V: 1 or scale_v */
    long row_bytes;     /* bytes between rows of Q/K/V (the longer of a D and a Dv row in
                         * storage precision: the shorter rows are padded) */
    const uint8_t *q, *k, *v;        /* [H,Sq,row_bytes], [Hkv,S,row_bytes] */
    const int64_t *indptr;           /* MODE_TABLE: [Hkv*(Sq+1)] offsets into indices */
    const int32_t *indices;
    const float *aux;                /* LSH hyperplanes [lsh_planes, D] (fp32) */
    const float *kblock_sums;        /* bsr: the KV cache's K block sums [Hkv, nb, D] (fp32,
                                      * rows added in order), or NULL: the kernel sums them */
    const float *gates;              /* NSA: [3, Sq, H] g_cmp, g_slc, g_swa, or NULL (all 1.0) */
    const float *comp_kv;            /* NSA: the KV cache's compressed K [Hkv, ncv, D] then V
                                      * [Hkv, ncv, Dv] (fp32), or NULL: the kernel compresses */
    float *out;                      /* [H,Sq,Dv] fp32 */
    /* optional dump of the selection the kernel made (CSR per KV head, like MODE_TABLE) */
    int64_t *sel_indptr;             /* [Hkv*(Sq+1)] or NULL */
    int32_t *sel_indices;            /* capacity sel_cap */
    long sel_cap;
    long stop_after; /* topk / nm / compblock: 1 stop after the selection's scoring pass (the
                      * measured scoring floor, bench/rvv_instructions.py); those and lsh,
                      * landmark, bsr, nsa: 2 after the selection (no attention, no output: the
                      * selection's own cost); 0 the whole kernel */
} ctx_t;

/* A row's keys: either a strided range (lo + t*stride) or an index list. An index list must be
 * ascending and unique: the core takes a strip whose last - first == length - 1 for a
 * contiguous run (and pairs rows by list prefixes), which is only sound for such lists. */
typedef struct {
    const int32_t *idx; /* NULL for a strided range */
    long lo, stride, n;
} keys_t;

/* Attention of one query row of head h over the keys `ks` of the K/V rows at kbase/vbase
 * (row_bytes apart). Writes D floats to out. Scratch must hold the row's working set. */
typedef void (*attend_fn)(const ctx_t *c, const uint8_t *qrow, const uint8_t *kbase,
                          const uint8_t *vbase, const keys_t *ks, float *out, void *scratch);

attend_fn attend_lookup(long prec, long lmul);

/* Two query rows (qa, qb) over one key list; row a sees list positions [alo, ahi), row b
 * [blo, bhi). With npairs > 1 it goes on with the rows two further on (q, out advance by two
 * rows; a strided key range's lo by lo_step), npairs pairs in all: one call for a run of
 * identical dense or sliding-window row pairs. NULL for precisions without a two-row kernel (i4). */
typedef void (*attend2_fn)(const ctx_t *c, const uint8_t *qa, const uint8_t *qb, const uint8_t *kbase,
                           const uint8_t *vbase, const keys_t *ks, long alo, long ahi, long blo,
                           long bhi, float *outa, float *outb, void *scratch, long npairs, long lo_step);
attend2_fn attend2_lookup(long prec, long lmul);
/* Whether list a (na entries) is a prefix of list b (nb >= na), vectorised. */
int is_prefix(const int32_t *a, long na, const int32_t *b, long nb);
size_t attend_scratch_bytes(const ctx_t *c, long max_keys);

/* Values of one stored row as floats (fp32/bf16 values; i8/i4 integer codes): D of them
 * (a Q or K row); row_to_float_n: n of them (a V row: Dv). */
void row_to_float(const ctx_t *c, const uint8_t *row, float *out);
void row_to_float_n(const ctx_t *c, const uint8_t *row, long n, float *out);

/* select_common.c */
float *key_floats(const ctx_t *c, long g);
float *key_columns_f32(const ctx_t *c, long g);
void query_sum_f32(const ctx_t *c, long g, long i, float *tmp, float *out);
void score_keys_f32(const float *x0, const float *x1, const float *kt, long S, long D, long n0,
                    long n1, uint32_t *k0, uint32_t *k1, uint32_t *lmax0, uint32_t *lmax1);
long topk_select_f32(const uint32_t *key, long n, long k, const uint32_t *lmax, long nl,
                     uint32_t *work, int32_t *out);
long topk_select_blocks_f32(const uint32_t *key, long n, long k, uint32_t *work, int32_t *out);
int nm_pattern(long m, void *pat);
long nm_select_u32(uint32_t *key, long n, long nkeep, long m, int32_t *out, float *masked, const void *pat);
/* fp32, one row or two over the contiguous keys [0, n) whose scores (raw dot products, -inf
 * for keys not kept) are given: softmax and P.V only (attend_core.h) */
typedef void (*attend_scored2_fn)(const ctx_t *c, const float *sa, const float *sb, long n,
                                  const uint8_t *vbase, float *outa, float *outb, void *scratch);
attend_scored2_fn attend_scored2_lookup(long prec, long lmul);
#ifdef __riscv_vector
#include <riscv_vector.h>
/* Order-preserving unsigned image of fp32 scores: a < b <=> key(a) < key(b), a == b <=>
 * key(a) == key(b) (-0 is first made +0, so the two zeros stay equal as they are for NumPy);
 * every ranking is then an unsigned integer compare. */
static inline vuint32m8_t f32_order_keys(vfloat32m8_t x, size_t vl) {
    vint32m8_t b = __riscv_vreinterpret_v_f32m8_i32m8(__riscv_vfadd_vf_f32m8(x, 0.0f, vl));
    vint32m8_t flip = __riscv_vor_vx_i32m8(__riscv_vsra_vx_i32m8(b, 31, vl), INT32_MIN, vl);
    return __riscv_vreinterpret_v_i32m8_u32m8(__riscv_vxor_vv_i32m8(b, flip, vl));
}
/* attend.c: the attention core's vectorised exp2 (x <= 0; 3.7e-7 relative) */
vfloat32m8_t vexp2_f32(vfloat32m8_t x, size_t vl);
#endif

/* Run query row i (of Sq) of every head of KV head g over `list` (and record it in the selection
 * dump). */
void attend_heads(ctx_t *c, long g, long i, const uint8_t *kb, const uint8_t *vb,
                  const int32_t *list, long n, attend_fn attend, void *scratch, long *cursor);

/* Pattern drivers (one file per family). Each fills c->out. */
int run_dense_window(ctx_t *c);
int run_table(ctx_t *c);
int run_topk_nm(ctx_t *c);
int run_lsh(ctx_t *c);
int run_landmark(ctx_t *c);
int run_compblock(ctx_t *c);
int run_bsr(ctx_t *c);
void bsr_attend_qblock(ctx_t *c, long g, long b, const int32_t *blk, long nk, int32_t *list,
                       attend_fn attend, attend2_fn attend2, void *scratch, long *cursor);
int run_nsa(ctx_t *c);

/* runtime.c: the kernel arena and the selection dump */
void arena_reserve(size_t n);
void *xmalloc(size_t n);
void sel_record(ctx_t *c, long g, long i, const int32_t *idx, long n, long *cursor);

#endif
