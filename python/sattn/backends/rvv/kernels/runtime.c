/*
 * The kernel runtime: the arena every kernel allocates from and the selection dump.
 *
 * Memory for the kernels comes from one arena reserved before the counted region starts
 * (arena_reserve), so that the region makes no allocator or system calls: its instruction
 * count is exactly repeatable. sel_record appends a row of the selection a kernel made to the
 * optional dump (main.c writes it out after the region).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sattn_rvv.h"

static uint8_t *arena;
static size_t arena_used, arena_size;

void arena_reserve(size_t n) {
    arena = aligned_alloc(4096, n);
    if (!arena) {
        fprintf(stderr, "sattn_rvv: out of memory for the kernel arena\n");
        exit(EXIT_OUT_OF_MEMORY);
    }
    arena_size = n;
    arena_used = 0;
    memset(arena, 0, n); /* touch it now, not inside the region */
}

void *xmalloc(size_t n) {
    n = (n + 63) & ~(size_t)63;
    if (arena && arena_used + n <= arena_size) {
        void *p = arena + arena_used;
        arena_used += n;
        return p;
    }
    void *p = aligned_alloc(64, n); /* only when the arena estimate was too small */
    if (!p) {
        fprintf(stderr, "sattn_rvv: out of memory (%zu bytes)\n", n);
        exit(EXIT_OUT_OF_MEMORY);
    }
    return p;
}

/* Append query row i (of Sq) of KV head g to the selection dump (rows arrive in order per head). */
void sel_record(ctx_t *c, long g, long i, const int32_t *idx, long n, long *cursor) {
    if (!c->sel_indptr) return;
    if (*cursor + n > c->sel_cap) {
        fprintf(stderr, "sattn_rvv: selection dump overflow (%ld > %ld)\n", *cursor + n, c->sel_cap);
        exit(EXIT_SELECTION_OVERFLOW);
    }
    memcpy(c->sel_indices + *cursor, idx, (size_t)n * 4);
    c->sel_indptr[g * (c->Sq + 1) + i] = *cursor;
    *cursor += n;
    c->sel_indptr[g * (c->Sq + 1) + i + 1] = *cursor;
}
