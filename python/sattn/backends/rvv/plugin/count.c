/*
 * libcount: a QEMU TCG plugin that counts the dynamic instructions of the sattn kernel region.
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
 * Plugin argument: out=<path> — where the counts are written at exit as key=value lines.
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

/* The part of a TB that the marker snapshot must take back out (see the header comment). */
struct marker {
    bool is_begin;
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

static void on_marker(unsigned int vcpu, void *ud) {
    (void)vcpu;
    struct marker *m = ud;
    uint64_t *dst = m->is_begin ? at_begin : at_end;
    for (int i = 0; i < C_N; i++) dst[i] = counts[i] - m->adjust[i];
    if (m->is_begin) n_begin++; else n_end++;
}

static void on_tb(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    uint64_t tbc[C_N] = {0};
    uint32_t *words = calloc(n ? n : 1, sizeof *words);
    size_t *sizes = calloc(n ? n : 1, sizeof *sizes);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        size_t sz = qemu_plugin_insn_size(insn);
        uint32_t w = 0;
        memcpy(&w, qemu_plugin_insn_data(insn), sz < 4 ? sz : 4);
        words[i] = w;
        sizes[i] = sz;
        classify(w, sz, tbc);
    }
    for (int c = 0; c < C_N; c++)
        if (tbc[c]) qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &counts[c], tbc[c]);
    for (size_t i = 0; i < n; i++) {
        if (sizes[i] != 4 || (words[i] != MARK_BEGIN && words[i] != MARK_END)) continue;
        struct marker *m = calloc(1, sizeof *m);  /* lives as long as the translation */
        m->is_begin = words[i] == MARK_BEGIN;
        /* begin: the region starts after the marker, so the instructions of this TB up to
         * and including the marker are not region. end: the marker and what follows it in
         * this TB are not region. */
        size_t lo = m->is_begin ? 0 : i, hi = m->is_begin ? i + 1 : n;
        for (size_t j = lo; j < hi; j++) classify(words[j], sizes[j], m->adjust);
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
    if (f != stderr) fclose(f);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv) {
    (void)info;
    for (int i = 0; i < argc; i++)
        if (strncmp(argv[i], "out=", 4) == 0)
            snprintf(out_path, sizeof out_path, "%s", argv[i] + 4);
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb);
    qemu_plugin_register_atexit_cb(id, on_exit_cb, NULL);
    return 0;
}
