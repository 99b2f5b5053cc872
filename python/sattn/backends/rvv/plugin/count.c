/*
 * libcount: a QEMU TCG plugin that counts the dynamic instructions of the sattn kernel region
 * and profiles the vector instructions by the vector configuration they executed under.
 *
 * Debian's qemu-user 7.2 ships no <qemu-plugin.h>, so the few plugin-API declarations used
 * here are written out below; they match QEMU 7.2 (plugin API version 1).
 *
 * Counting: every translated block (TB) gets three inline 64-bit adds at its entry (total,
 * vector, vector-memory instructions of the block). The kernel brackets its region with two
 * marker instructions (HINT encodings that are no-ops on RISC-V):
 *     slti x0, x0, 0x5a1   -> region begin
 *     slti x0, x0, 0x5a2   -> region end
 * A callback on each marker snapshots the counters. Because the inline adds run at TB entry,
 * each snapshot is corrected by the part of the marker's own TB that lies on the other side
 * of the marker, so the region count is exact: the instructions strictly between the two
 * markers.
 *
 * Classification (RVV 1.0): opcode OP-V (0x57) is a vector instruction (arithmetic and
 * vsetvl*); LOAD-FP (0x07) / STORE-FP (0x27) with width field 0,5,6,7 are vector loads and
 * stores (widths 1..4 are scalar FP). 16-bit compressed instructions are never vector.
 *
 * Vector profile (plugin argument vlen=N, the VLEN qemu runs with): the plugin follows the
 * vector configuration as the program executes it. vsetvli / vsetivli carry vtype as an
 * immediate (SEW, LMUL decoded here). The VL is known exactly for vsetivli (AVL immediate:
 * VL = min(AVL, VLMAX)) and for vsetvli with rs1 = x0 (rd != x0: VL = VLMAX; rd = x0: VL kept).
 * For vsetvli with a register AVL the plugin cannot know VL: QEMU 7.2's plugin API has no way
 * to read guest registers (qemu_plugin_read_register arrived in QEMU 9.0), so VL is modelled
 * as VLMAX and the instructions executed under such a VL are flagged: an upper bound for
 * strip-mined tails. vsetvl (vtype in a register) leaves the configuration unknown until the
 * next vsetvli / vsetivli. Each executed vector instruction is tallied by (class, element
 * width in bits, element count, VL modelled?) — see the CL_* classes — and the histogram of
 * the region is written as "vop <class> <bits> <elements> <vl_modelled> <count>" lines; the
 * Python side (sattn.backends.rvv.cycle_model) turns it into modelled cycles.
 *
 * Plugin arguments: out=<path> — where the counts are written at exit as key=value lines;
 * vlen=<bits> — enables the vector profile.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the subset of QEMU 7.2's qemu-plugin.h used here ---- */
typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
#define QEMU_PLUGIN_EXPORT __attribute__((visibility("default")))
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op,
                                              void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb,
                                          enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn,
                                            qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);

QEMU_PLUGIN_EXPORT int qemu_plugin_version = 1;

/* ---- counting ---- */
enum { C_TOTAL, C_VEC, C_VMEM, C_N };
static uint64_t counts[C_N];          /* running totals, bumped inline at every TB entry */
static uint64_t at_begin[C_N], at_end[C_N];
static int n_begin, n_end;           /* how many times each marker ran */
static char out_path[4096];

#define MARK_BEGIN 0x5a102013u /* slti x0, x0, 0x5a1 */
#define MARK_END 0x5a202013u   /* slti x0, x0, 0x5a2 */

/* ---- vector profile ---- */
/* Classes of executed vector instructions (names printed by class_name, costed in Python). */
enum {
    CL_VSET,        /* vsetvli / vsetivli */
    CL_VSETVL,      /* vsetvl: vtype from a register, configuration unknown afterwards */
    CL_ARITH,       /* element-wise at SEW: add, mul, fma, compare, convert, slide, merge, ext */
    CL_WIDE,        /* widening / narrowing: the wide side is 2*SEW */
    CL_DIV,         /* divide, square root (costed as CL_ARITH; listed apart) */
    CL_RED,         /* unordered reduction at SEW */
    CL_RED_WIDE,    /* widening reduction */
    CL_RED_ORD,     /* ordered reduction (vfredosum, vfwredosum) */
    CL_PERM,        /* vrgather, vrgatherei16, vcompress: element by element */
    CL_MASK,        /* mask-register logic, vcpop, vfirst, vmsbf/vmsif/vmsof: VL bits */
    CL_MOVE,        /* scalar <-> element 0 moves: vmv.x.s, vmv.s.x, vfmv.f.s, vfmv.s.f */
    CL_VMVR,        /* whole-register move vmv<nr>r.v */
    CL_LD_UNIT, CL_ST_UNIT, CL_LD_STRIDED, CL_ST_STRIDED, CL_LD_INDEXED, CL_ST_INDEXED,
    CL_N
};
static const char *const class_names[CL_N] = {
    "vset", "vsetvl", "arith", "wide", "div", "red", "red_wide", "red_ord", "perm", "mask",
    "move", "vmvr", "ld_unit", "st_unit", "ld_strided", "st_strided", "ld_indexed", "st_indexed",
};
#define N_BITS 6            /* element width codes: 0 -> 1 bit (masks), 1..5 -> 8..128 bits */
#define N_MAX 1024          /* element counts 0..N_MAX; VLEN <= 1024 keeps every count below */
#define N_UNKNOWN (N_MAX + 1)
#define N_SLOTS (N_MAX + 2)
#define HIST_SIZE ((size_t)CL_N * N_BITS * N_SLOTS * 2)
static uint64_t *hist, *hist_begin, *hist_end;
static unsigned vlen;               /* 0: no vector profile */

static inline uint32_t hidx(unsigned cls, unsigned bits_code, unsigned n, unsigned modelled) {
    return (((uint32_t)cls * N_BITS + bits_code) * N_SLOTS + n) * 2 + modelled;
}

/* The vector configuration between instructions. */
struct vstate {
    bool known;     /* vtype known (a vsetvli/vsetivli ran, no vsetvl since) */
    bool modelled;  /* VL came from a register AVL: modelled as VLMAX */
    uint8_t sew_code;  /* SEW = 8 << sew_code */
    int8_t lmul_log2;  /* LMUL = 2^lmul_log2, -3..3 */
    uint16_t vl;
};

static inline uint32_t pack_state(struct vstate s) {
    return (uint32_t)s.known | (uint32_t)s.modelled << 1 | (uint32_t)s.sew_code << 2 |
           (uint32_t)(s.lmul_log2 + 3) << 4 | (uint32_t)s.vl << 8;
}

static struct vstate cur = {0};

/* A decoded vector instruction of a TB. */
enum { K_VSETVLI, K_VSETIVLI, K_VSETVL, K_ARITH, K_MEM };
struct vop {
    uint16_t insn;      /* index in the TB */
    uint8_t kind;
    uint8_t cls;
    uint8_t eew_code;   /* memory: EEW of the data (0 = use SEW: indexed); arith: width factor */
    uint8_t nf;         /* memory: fields (segment loads); whole-register: registers */
    bool whole;         /* memory / vmvr: whole-register (ignores VL) */
    bool mask_mem;      /* vlm / vsm: ceil(VL / 8) bytes */
    uint16_t vtypei;    /* vset*: the immediate vtype */
    uint8_t rd, rs1;    /* vset*: rd, rs1 (or uimm for vsetivli) */
};

struct tbinfo {
    size_t n;
    bool memo;
    uint32_t memo_in, memo_out;
    struct vstate memo_out_state;
    uint32_t *memo_idx;   /* histogram slot of each op in the memoised execution */
    struct vop ops[];
};
static struct tbinfo *last_tb;      /* the TB whose entry callback ran last */

struct marker {
    bool is_begin;
    uint16_t insn;
    struct tbinfo *tb;   /* NULL when the marker's TB has no vector instructions */
    uint64_t adjust[C_N];
};

static void classify(uint32_t w, size_t size, uint64_t c[C_N]) {
    c[C_TOTAL] += 1;
    if (size != 4) return;
    uint32_t opcode = w & 0x7f, width = (w >> 12) & 7;
    if (opcode == 0x57) {
        c[C_VEC] += 1;
    } else if ((opcode == 0x07 || opcode == 0x27) && (width == 0 || width >= 5)) {
        c[C_VEC] += 1;
        c[C_VMEM] += 1;
    }
}

static int eew_code_of_width(uint32_t width) {
    switch (width) { case 0: return 1; case 5: return 2; case 6: return 3; default: return 4; }
}

/* Decode an OP-V arithmetic instruction's class (RVV 1.0 opcode tables, chapter 19). */
static uint8_t arith_class(uint32_t w, uint8_t *wide_factor, uint8_t *nreg) {
    uint32_t f3 = (w >> 12) & 7, f6 = w >> 26, vs1 = (w >> 15) & 31;
    *wide_factor = 1;
    *nreg = 0;
    switch (f3) {
    case 0: case 3: case 4:  /* OPIVV, OPIVI, OPIVX */
        if (f6 == 0x0c || (f6 == 0x0e && f3 == 0)) return CL_PERM;          /* vrgather(ei16) */
        if (f6 == 0x27 && f3 == 3) { *nreg = (uint8_t)(((w >> 15) & 7) + 1); return CL_VMVR; }
        if (f6 >= 0x2c && f6 <= 0x2f) { *wide_factor = 2; return CL_WIDE; }  /* vnsrl.. vnclip */
        if ((f6 == 0x30 || f6 == 0x31) && f3 == 0) { *wide_factor = 2; return CL_RED_WIDE; }
        return CL_ARITH;
    case 2: case 6:  /* OPMVV, OPMVX */
        if (f6 <= 0x07 && f3 == 2) return CL_RED;
        if (f6 == 0x10) {
            if (f3 == 6) return CL_MOVE;                   /* vmv.s.x */
            return vs1 == 0 ? CL_MOVE : CL_MASK;           /* vmv.x.s : vcpop, vfirst */
        }
        if (f6 == 0x14 && f3 == 2) return vs1 >= 16 ? CL_ARITH : CL_MASK;  /* viota, vid : vms*f */
        if (f6 == 0x17 && f3 == 2) return CL_PERM;         /* vcompress */
        if (f6 >= 0x18 && f6 <= 0x1f && f3 == 2) return CL_MASK;  /* vmand .. vmxnor */
        if (f6 >= 0x20 && f6 <= 0x23) return CL_DIV;
        if (f6 >= 0x30) { *wide_factor = 2; return CL_WIDE; }
        return CL_ARITH;
    case 1: case 5:  /* OPFVV, OPFVF */
        if (f3 == 1 && (f6 == 0x01 || f6 == 0x05 || f6 == 0x07)) return CL_RED;
        if (f3 == 1 && f6 == 0x03) return CL_RED_ORD;
        if (f3 == 1 && f6 == 0x31) { *wide_factor = 2; return CL_RED_WIDE; }
        if (f3 == 1 && f6 == 0x33) { *wide_factor = 2; return CL_RED_ORD; }
        if (f6 == 0x10) return CL_MOVE;                    /* vfmv.f.s / vfmv.s.f */
        if (f6 == 0x12 && f3 == 1 && vs1 >= 8 && vs1 < 24) { *wide_factor = 2; return CL_WIDE; }
        if (f6 == 0x13 && f3 == 1 && vs1 == 0) return CL_DIV;  /* vfsqrt */
        if (f6 == 0x20 || f6 == 0x21) return CL_DIV;       /* vfdiv, vfrdiv */
        if (f6 >= 0x30) { *wide_factor = 2; return CL_WIDE; }
        return CL_ARITH;
    }
    return CL_ARITH;
}

static bool decode_vop(uint32_t w, size_t size, struct vop *op) {
    if (size != 4) return false;
    uint32_t opcode = w & 0x7f, width = (w >> 12) & 7;
    memset(op, 0, sizeof *op);
    if (opcode == 0x57) {
        if (width == 7) {
            op->rd = (w >> 7) & 31;
            op->rs1 = (w >> 15) & 31;
            if (!(w >> 31)) { op->kind = K_VSETVLI; op->vtypei = (w >> 20) & 0x7ff; op->cls = CL_VSET; }
            else if ((w >> 30) == 3) { op->kind = K_VSETIVLI; op->vtypei = (w >> 20) & 0x3ff; op->cls = CL_VSET; }
            else { op->kind = K_VSETVL; op->cls = CL_VSETVL; }
            return true;
        }
        op->kind = K_ARITH;
        op->cls = arith_class(w, &op->eew_code, &op->nf);
        op->whole = op->cls == CL_VMVR;
        return true;
    }
    if ((opcode == 0x07 || opcode == 0x27) && (width == 0 || width >= 5)) {
        bool store = opcode == 0x27;
        uint32_t mop = (w >> 26) & 3, lumop = (w >> 20) & 31;
        op->kind = K_MEM;
        op->nf = (uint8_t)((w >> 29) + 1);
        op->eew_code = (uint8_t)eew_code_of_width(width);
        if (mop == 0) {
            op->cls = store ? CL_ST_UNIT : CL_LD_UNIT;
            op->whole = lumop == 8;
            op->mask_mem = lumop == 11;
        } else if (mop == 2) {
            op->cls = store ? CL_ST_STRIDED : CL_LD_STRIDED;
        } else {
            op->cls = store ? CL_ST_INDEXED : CL_LD_INDEXED;
            op->eew_code = 0;  /* the data elements are SEW wide; the EEW is the index's */
        }
        return true;
    }
    return false;
}

static unsigned vlmax_of(unsigned sew_code, int lmul_log2) {
    unsigned bits = vlen >> sew_code >> 3;  /* VLEN / SEW */
    return lmul_log2 >= 0 ? bits << lmul_log2 : bits >> -lmul_log2;
}

/* Apply one vector instruction to the state; return its histogram slot (vset: class slot). */
static uint32_t step(const struct vop *op, struct vstate *s) {
    switch (op->kind) {
    case K_VSETVLI: case K_VSETIVLI: {
        unsigned vlmul = op->vtypei & 7, sew_code = (op->vtypei >> 3) & 7;
        if (sew_code > 3 || vlmul == 4) {  /* reserved: vill */
            s->known = false;
            return hidx(CL_VSET, 0, 0, 0);
        }
        int lmul_log2 = vlmul < 4 ? (int)vlmul : (int)vlmul - 8;
        unsigned vlmax = vlmax_of(sew_code, lmul_log2);
        struct vstate n = {true, false, (uint8_t)sew_code, (int8_t)lmul_log2, 0};
        if (op->kind == K_VSETIVLI) {
            n.vl = (uint16_t)(op->rs1 < vlmax ? op->rs1 : vlmax);
        } else if (op->rs1 != 0) {
            n.vl = (uint16_t)vlmax;  /* AVL in a register: cannot be read, modelled as VLMAX */
            n.modelled = true;
        } else if (op->rd != 0) {
            n.vl = (uint16_t)vlmax;
        } else {  /* keep VL (the ratio SEW/LMUL is unchanged in a legal program) */
            n.vl = s->vl < vlmax ? s->vl : (uint16_t)vlmax;
            n.modelled = s->modelled;
            if (!s->known) { n.known = false; }
        }
        *s = n;
        return hidx(CL_VSET, 0, 0, 0);
    }
    case K_VSETVL:
        s->known = false;
        return hidx(CL_VSETVL, 0, 0, 0);
    default: break;
    }
    if (op->whole) {  /* whole-register load/store/move: nf (or nreg) registers of VLEN bits */
        unsigned code = op->cls == CL_VMVR ? 1 : op->eew_code;  /* vmv<nr>r: counted in bytes */
        unsigned n = op->nf * vlen / (8u << (code - 1));
        return hidx(op->cls, code, n > N_MAX ? N_MAX : n, 0);
    }
    if (!s->known) return hidx(op->cls, 0, N_UNKNOWN, 0);
    unsigned vl = s->vl, code;
    if (op->kind == K_MEM) {
        if (op->mask_mem) return hidx(op->cls, 0, vl, s->modelled);  /* 1-bit elements */
        code = op->eew_code ? op->eew_code : s->sew_code + 1u;
        unsigned n = vl * op->nf;
        return hidx(op->cls, code, n > N_MAX ? N_MAX : n, s->modelled);
    }
    if (op->cls == CL_MASK) return hidx(op->cls, 0, vl, s->modelled);
    code = s->sew_code + 1u + (op->eew_code == 2 ? 1u : 0u);
    if (code >= N_BITS) code = N_BITS - 1;
    return hidx(op->cls, code, vl, s->modelled);
}

/* TB entry: run the TB's vector instructions through the configuration, tally them. */
static void on_tb_exec(unsigned int vcpu, void *ud) {
    (void)vcpu;
    struct tbinfo *t = ud;
    last_tb = t;
    uint32_t in = pack_state(cur);
    if (t->memo && t->memo_in == in) {
        for (size_t i = 0; i < t->n; i++) hist[t->memo_idx[i]]++;
        cur = t->memo_out_state;
        return;
    }
    for (size_t i = 0; i < t->n; i++) {
        t->memo_idx[i] = step(&t->ops[i], &cur);
        hist[t->memo_idx[i]]++;
    }
    t->memo = true;
    t->memo_in = in;
    t->memo_out_state = cur;
}

static void on_marker(unsigned int vcpu, void *ud) {
    (void)vcpu;
    struct marker *m = ud;
    uint64_t *dst = m->is_begin ? at_begin : at_end;
    for (int i = 0; i < C_N; i++) dst[i] = counts[i] - m->adjust[i];
    if (m->is_begin) n_begin++; else n_end++;
    if (!hist) return;
    uint64_t *hdst = m->is_begin ? hist_begin : hist_end;
    memcpy(hdst, hist, HIST_SIZE * sizeof *hist);
    /* the TB's entry callback tallied all of its vector instructions: take back those on the
     * other side of the marker (begin: after it; end: after it too, the marker excluded) */
    if (m->tb && last_tb == m->tb)
        for (size_t i = 0; i < m->tb->n; i++)
            if (m->tb->ops[i].insn > m->insn) hdst[m->tb->memo_idx[i]]--;
}

static void on_tb(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    uint64_t tbc[C_N] = {0};
    uint32_t *words = calloc(n ? n : 1, sizeof *words);
    size_t *sizes = calloc(n ? n : 1, sizeof *sizes);
    size_t nv = 0;
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        size_t sz = qemu_plugin_insn_size(insn);
        uint32_t w = 0;
        memcpy(&w, qemu_plugin_insn_data(insn), sz < 4 ? sz : 4);
        words[i] = w;
        sizes[i] = sz;
        uint64_t before = tbc[C_VEC];
        classify(w, sz, tbc);
        nv += tbc[C_VEC] - before;
    }
    for (int c = 0; c < C_N; c++)
        if (tbc[c]) qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &counts[c], tbc[c]);
    struct tbinfo *t = NULL;  /* lives as long as the translation */
    if (hist && nv) {
        t = calloc(1, sizeof *t + nv * sizeof(struct vop));
        t->memo_idx = calloc(nv, sizeof *t->memo_idx);
        struct vop op;
        for (size_t i = 0; i < n; i++)
            if (decode_vop(words[i], sizes[i], &op)) {
                op.insn = (uint16_t)i;
                t->ops[t->n++] = op;
            }
        qemu_plugin_register_vcpu_tb_exec_cb(tb, on_tb_exec, QEMU_PLUGIN_CB_NO_REGS, t);
    }
    for (size_t i = 0; i < n; i++) {
        if (sizes[i] != 4 || (words[i] != MARK_BEGIN && words[i] != MARK_END)) continue;
        struct marker *m = calloc(1, sizeof *m);  /* lives as long as the translation */
        m->is_begin = words[i] == MARK_BEGIN;
        m->insn = (uint16_t)i;
        m->tb = t;
        /* The inline adds counted the whole TB at its entry. begin: the region starts after
         * the marker, so the snapshot takes back what follows the marker in this TB. end: the
         * marker and what follows it are not region. */
        for (size_t j = m->is_begin ? i + 1 : i; j < n; j++) classify(words[j], sizes[j], m->adjust);
        qemu_plugin_register_vcpu_insn_exec_cb(qemu_plugin_tb_get_insn(tb, i), on_marker,
                                               QEMU_PLUGIN_CB_NO_REGS, m);
    }
    free(words);
    free(sizes);
}

static void on_exit_cb(qemu_plugin_id_t id, void *ud) {
    (void)id; (void)ud;
    FILE *f = out_path[0] ? fopen(out_path, "w") : stderr;
    if (!f) return;
    bool ok = n_begin == 1 && n_end == 1;
    uint64_t r[C_N];
    for (int i = 0; i < C_N; i++) r[i] = ok ? at_end[i] - at_begin[i] : 0;
    fprintf(f, "region_begin=%d\nregion_end=%d\n", n_begin, n_end);
    fprintf(f, "instructions=%" PRIu64 "\nvector=%" PRIu64 "\nvector_mem=%" PRIu64 "\n",
            r[C_TOTAL], r[C_VEC], r[C_VMEM]);
    fprintf(f, "program_instructions=%" PRIu64 "\n", counts[C_TOTAL]);
    if (hist && ok) {
        fprintf(f, "vlen=%u\n", vlen);
        for (unsigned cls = 0; cls < CL_N; cls++)
            for (unsigned b = 0; b < N_BITS; b++)
                for (unsigned nn = 0; nn < N_SLOTS; nn++)
                    for (unsigned md = 0; md < 2; md++) {
                        uint32_t k = hidx(cls, b, nn, md);
                        uint64_t c = hist_end[k] - hist_begin[k];
                        if (!c) continue;
                        unsigned bits = b ? 4u << b : 1u;
                        if (nn == N_UNKNOWN)
                            fprintf(f, "vop %s %u unknown %u %" PRIu64 "\n", class_names[cls], bits, md, c);
                        else
                            fprintf(f, "vop %s %u %u %u %" PRIu64 "\n", class_names[cls], bits, nn, md, c);
                    }
    }
    if (f != stderr) fclose(f);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv) {
    (void)info;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "out=", 4) == 0)
            snprintf(out_path, sizeof out_path, "%s", argv[i] + 4);
        else if (strncmp(argv[i], "vlen=", 5) == 0)
            vlen = (unsigned)strtoul(argv[i] + 5, NULL, 10);
    }
    if (vlen) {
        if (vlen < 64 || vlen > N_MAX || (vlen & (vlen - 1))) {
            fprintf(stderr, "libcount: vlen=%u must be a power of two in [64, %d]\n", vlen, N_MAX);
            return -1;
        }
        hist = calloc(HIST_SIZE, sizeof *hist);
        hist_begin = calloc(HIST_SIZE, sizeof *hist_begin);
        hist_end = calloc(HIST_SIZE, sizeof *hist_end);
        if (!hist || !hist_begin || !hist_end) return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb);
    qemu_plugin_register_atexit_cb(id, on_exit_cb, NULL);
    return 0;
}
