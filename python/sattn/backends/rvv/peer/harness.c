/*
 * Host harness for an IREE llvm-cpu static library under qemu-riscv64: reads Q, K, V (raw
 * float32, as the plan's input buffers), resolves the exports of every linked library by name,
 * runs the plan's dispatches in order, every workgroup in turn (x fastest), between the two
 * region markers of the counting plugin, and writes the output buffer.
 *
 *     peer INPUT OUTPUT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer_abi.h"

__attribute__((noinline)) static void mark_begin(void) { __asm__ volatile("slti x0, x0, 0x5a1"); }
__attribute__((noinline)) static void mark_end(void) { __asm__ volatile("slti x0, x0, 0x5a2"); }

static int call_import(peer_import_fn fn, void *params) { return fn(params); }

typedef struct {
    peer_dispatch_fn fn;
    uint16_t local_pages;
    const peer_dispatch_attrs *attrs;
} resolved;

static int die(const char *what) {
    fprintf(stderr, "peer: %s\n", what);
    return 3;
}

int main(int argc, char **argv) {
    if (argc != 3) return die("usage: peer INPUT OUTPUT");
    static peer_environment env;
    env.import_thunk = call_import;
    const peer_library_v0 *libs[16];
    if (peer_n_queries > 16) return die("too many libraries");
    for (int i = 0; i < peer_n_queries; i++) {
        const peer_library_header **h = peer_queries[i](PEER_LIBRARY_VERSION, &env);
        if (!h || !*h) return die("the library does not offer executable-library ABI version 6");
        if ((*h)->version != PEER_LIBRARY_VERSION) return die("unexpected library version");
        libs[i] = (const peer_library_v0 *)h;
        if (libs[i]->imports.count) return die("the library imports functions; none are provided");
    }
    resolved fns[64];
    if (peer_n_dispatches > 64) return die("too many dispatches");
    for (int d = 0; d < peer_n_dispatches; d++) {
        fns[d].fn = NULL;
        for (int i = 0; i < peer_n_queries && !fns[d].fn; i++)
            for (uint32_t e = 0; e < libs[i]->exports.count; e++)
                if (libs[i]->exports.names &&
                    strcmp(libs[i]->exports.names[e], peer_dispatches[d].export_name) == 0) {
                    fns[d].fn = libs[i]->exports.ptrs[e];
                    fns[d].attrs = libs[i]->exports.attrs ? &libs[i]->exports.attrs[e] : NULL;
                    fns[d].local_pages = fns[d].attrs ? fns[d].attrs->local_memory_pages : 0;
                    break;
                }
        if (!fns[d].fn) {
            fprintf(stderr, "peer: export %s not found\n", peer_dispatches[d].export_name);
            return 3;
        }
    }
    void *buf[32];
    if (peer_n_buffers > 32) return die("too many buffers");
    FILE *in = fopen(argv[1], "rb");
    if (!in) return die("cannot open the input");
    for (int b = 0; b < peer_n_buffers; b++) {
        buf[b] = aligned_alloc(64, (peer_buffer_sizes[b] + 63) / 64 * 64);
        if (!buf[b]) return die("out of memory");
        memset(buf[b], 0, peer_buffer_sizes[b]);
    }
    for (int i = 0; i < 3; i++)
        for (int b = 0; b < peer_n_buffers; b++)
            if (peer_buffer_input[b] == i &&
                fread(buf[b], 1, peer_buffer_sizes[b], in) != peer_buffer_sizes[b])
                return die("short input");
    fclose(in);
    static uint8_t local_memory[1 << 20] __attribute__((aligned(64)));
    mark_begin();
    for (int d = 0; d < peer_n_dispatches; d++) {
        const peer_dispatch *pd = &peer_dispatches[d];
        void *ptrs[PEER_MAX_BINDINGS];
        size_t lens[PEER_MAX_BINDINGS];
        for (uint32_t i = 0; i < pd->n_bindings; i++) {
            ptrs[i] = (char *)buf[pd->bindings[i].buffer] + pd->bindings[i].offset;
            lens[i] = pd->bindings[i].length;
        }
        const peer_dispatch_attrs *at = fns[d].attrs;
        peer_dispatch_state ds = {at ? at->workgroup_size_x : 1, at ? at->workgroup_size_y : 1,
                                  at ? at->workgroup_size_z : 1, (uint16_t)pd->n_constants, pd->workgroups[0],
                                  pd->workgroups[1], (uint16_t)pd->workgroups[2], 1,
                                  (uint8_t)pd->n_bindings, pd->constants, ptrs, lens};
        peer_workgroup_state ws = {0};
        ws.local_memory = fns[d].local_pages ? local_memory : NULL;
        ws.local_memory_size = fns[d].local_pages ? sizeof local_memory : 0;
        if ((size_t)fns[d].local_pages * 4096 > sizeof local_memory) return die("local memory");
        for (uint32_t z = 0; z < pd->workgroups[2]; z++)
            for (uint32_t y = 0; y < pd->workgroups[1]; y++)
                for (uint32_t x = 0; x < pd->workgroups[0]; x++) {
                    ws.workgroup_id_x = x;
                    ws.workgroup_id_y = y;
                    ws.workgroup_id_z = (uint16_t)z;
                    if (fns[d].fn(&env, &ds, &ws)) return die("a workgroup failed");
                }
    }
    mark_end();
    FILE *out = fopen(argv[2], "wb");
    if (!out) return die("cannot open the output");
    size_t n = peer_output_length;
    if (fwrite((char *)buf[peer_output_buffer] + peer_output_offset, 1, n, out) != n)
        return die("short write");
    fclose(out);
    return 0;
}
