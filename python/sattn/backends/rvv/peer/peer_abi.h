/*
 * The part of IREE's executable-library ABI that a host needs to call a statically linked
 * llvm-cpu executable, declared here from IREE's published descriptions: the standalone header
 * runtime/src/iree/hal/local/executable_library.h ("versioned as if this was a schema") for the
 * environment, dispatch state and workgroup state, and the struct comments of
 * compiler/plugins/target/LLVMCPU/LibraryBuilder.cpp for the library and export tables of the
 * version IREE 3.13 emits (6: its query function returns the library only when asked for
 * exactly that version). A query function returns the library; each export is called once per
 * workgroup with (environment, dispatch state, workgroup state). Field order and widths follow
 * those descriptions; nothing is copied. The harness checks the version it gets.
 */
#ifndef SATTN_PEER_ABI_H
#define SATTN_PEER_ABI_H
#include <stddef.h>
#include <stdint.h>

#define PEER_LIBRARY_VERSION 6u

typedef struct {
    uint32_t version;
    const char *name;
    uint32_t features;
    int32_t sanitizer;
} peer_library_header;

typedef int (*peer_import_fn)(void *params);
typedef int (*peer_import_thunk)(peer_import_fn fn, void *params);

typedef struct {
    const uint32_t *constants;
    peer_import_thunk import_thunk;
    const peer_import_fn *imports;
    uint64_t processor[8];
} peer_environment;

typedef struct {
    uint32_t workgroup_size_x, workgroup_size_y;
    uint16_t workgroup_size_z;
    uint16_t push_constant_count;
    uint32_t workgroup_count_x, workgroup_count_y;
    uint16_t workgroup_count_z;
    uint8_t max_concurrency;
    uint8_t binding_count;
    const uint32_t *push_constants;
    void *const *binding_ptrs;
    const size_t *binding_lengths;
} peer_dispatch_state;

typedef struct {
    uint32_t workgroup_id_x, workgroup_id_y;
    uint16_t workgroup_id_z;
    uint16_t reserved;
    uint32_t processor_id;
    void *local_memory;
    uint32_t local_memory_size;
} peer_workgroup_state;

typedef int (*peer_dispatch_fn)(const peer_environment *env, const peer_dispatch_state *dispatch,
                                const peer_workgroup_state *workgroup);

typedef struct {
    uint64_t flags;
    uint16_t local_memory_pages;
    uint8_t constant_count;
    uint8_t binding_count;
    uint32_t workgroup_size_x, workgroup_size_y;
    uint16_t workgroup_size_z;
    uint16_t parameter_count;
    uint64_t reserved[5];
} peer_dispatch_attrs;

typedef struct {
    const peer_library_header *header;
    struct { uint32_t count; const char *const *symbols; } imports;
    struct {
        uint32_t count;
        const peer_dispatch_fn *ptrs;
        const peer_dispatch_attrs *attrs;
        const void *params;
        const void *occupancy;
        const char *const *names;
        const char *const *tags;
        const char *const *parameter_names;
        const void *source_locations;
        const void *stage_locations;
    } exports;
    struct { uint32_t count; } constants;
    struct { uint32_t count; const void *files; } sources;
} peer_library_v0;

typedef const peer_library_header **(*peer_query_fn)(uint32_t max_version,
                                                     const peer_environment *env);

/* The host side of one module, generated from its --output-format=vm-asm by
 * sattn.backends.rvv.peer.iree: buffers (inputs 0..2 are Q, K, V), dispatches in order. */
#define PEER_MAX_BINDINGS 16
#define PEER_MAX_CONSTANTS 64
typedef struct {
    const char *export_name;
    uint32_t workgroups[3];
    uint32_t n_constants;
    uint32_t constants[PEER_MAX_CONSTANTS];
    uint32_t n_bindings;
    struct { int buffer; size_t offset, length; } bindings[PEER_MAX_BINDINGS];
} peer_dispatch;

extern const peer_query_fn peer_queries[];
extern const int peer_n_queries;
extern const size_t peer_buffer_sizes[];
extern const int peer_buffer_input[];   /* input ordinal of each buffer, or -1 */
extern const int peer_n_buffers;
extern const int peer_output_buffer;
extern const size_t peer_output_offset, peer_output_length;
extern const peer_dispatch peer_dispatches[];
extern const int peer_n_dispatches;
#endif
