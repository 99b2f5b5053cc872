// sattn-lower-rocc = select-spec, materialize-indices, tile, fuse-softmax, lower-to-rocc, bufferize.
// lower-to-rocc records the command stream (rocc_program) the RoCC backend runs.
// RUN: %sattn-opt %s --allow-unregistered-dialect -pass-pipeline='builtin.module(sattn-lower-rocc)' | filecheck %s
// RUN: %sattn-opt %s --allow-unregistered-dialect -pass-pipeline='builtin.module(sattn-select-spec,sattn-materialize-indices,sattn-tile,sattn-fuse-softmax,sattn-lower-to-rocc,sattn-bufferize)' | filecheck %s
// RUN: %launcher %s --allow-unregistered-dialect -pass-pipeline='builtin.module(sattn-lower-rocc)' | filecheck %s
// The output parses, verifies and prints unchanged; lowering it again changes nothing.
// RUN: %sattn-opt %s --allow-unregistered-dialect -pass-pipeline='builtin.module(sattn-lower-rocc)' | %sattn-opt --allow-unregistered-dialect -pass-pipeline='builtin.module(sattn-lower-rocc)' | filecheck %s

module {
  "sattn.sparse_attention"() { global_tokens = 8 : i64, block_size = 64 : i64, tile_M = 16 : i64, tile_D = 32 : i64, tile_S = 128 : i64 } : () -> ()
  "sattn.sparse_attention"() { window_size = 8 : i64, tile_D = 32 : i64, tile_S = 128 : i64 } : () -> ()
}

// S=128, blocks of 64: 2 query blocks, each sees both key blocks; 8 global tokens.
// Tiles: 8 row tiles of 16, one key tile of 128, one d tile of 32.
// CHECK:      "sattn.rocc_call"() {global_tokens = 8 : i64, block_size = 64 : i64, tile_M = 16 : i64, tile_D = 32 : i64, tile_S = 128 : i64, spec = "block_local_global", spec_rule = "global_tokens",
// CHECK-SAME: materialized_indices, index_table = {kind = "block_csr", source = "structural", block_size = 64 : i64, q_blocks = 2 : i64, k_blocks = 2 : i64, heads = 1 : i64, per_head = 0 : i64, nnz_blocks = 4 : i64, nnz = 16384 : i64, global_tokens = 8 : i64, indptr = array<i32: 0, 2, 4>, indices = array<i32: 0, 1, 0, 1>},
// CHECK-SAME: tiled, tile_grid = {kv_heads = 1 : i64, m_tiles = 8 : i64, m_rem = 0 : i64, s_tiles = 1 : i64, s_rem = 0 : i64, d_tiles = 1 : i64, d_rem = 0 : i64, tiles = 8 : i64, active_tiles = 8 : i64, active_source = "structural"},
// CHECK-SAME: fused_softmax, softmax_region = {stages = ["gather_kv", "qk", "online_softmax", "pv", "normalize"], rows = 16 : i64,
// CHECK-SAME: blg_enabled = true, m_rows = 16 : i64, head_dim_d = 32 : i64, s_tokens = 128 : i64,
// The command stream the accelerator runs (docs/rocc.md, "Command stream"): Q, K, V, OUT at 4 KiB
// bases; (funct, rs1, rs2) triples: CLEAR_COUNTERS; GET_REG CAPS / RUN_DEPTH / ROWPTR_DEPTH
// reading the values the plan was made for; IDX_RESET; SET_REG PRECISION 0, HEAD_DIM 32,
// SEQ_LEN 128, NUM_KEYS 128, GROUP 1, Q/O strides, SCORE_SCALE 1/sqrt(32) as fp32 bits ...
// CHECK-SAME: rocc_program = {layout = {q_base = 4096 : i64, q_bytes = 16384 : i64, k_base = 20480 : i64, v_base = 36864 : i64, kv_bytes = 16384 : i64, o_base = 53248 : i64, o_bytes = 16384 : i64, row_bytes = 128 : i64}, jobs = 1 : i64,
// CHECK-SAME: commands = array<i64: 7, 0, 0, 1, 33, 8191, 1, 37, 16384, 1, 38, 2052, 4, 0, 0, 0, 0, 0, 0, 1, 32, 0, 2, 128, 0, 3, 128, 0, 4, 1, 0, 12, 16384, 0, 13, 16384, 0, 14, 1043662067,
// ... and the one job ends with SET_REG O_BASE and START (rs1 = 1: a fresh K/V scratchpad).
// CHECK-SAME: 0, 11, 53248, 5, 1, 0>},
// CHECK-SAME: bufferized, buffer_layout = "rowmajor", buffers = {q = 16384 : i64, k = 16384 : i64, v = 16384 : i64, out = 16384 : i64, index = 66052 : i64, index_exact = 1 : i64, total = 131588 : i64}} : () -> ()
// The sliding window gets the default tile_M and its stencil (128*17 - 72 = 2104 pairs).
// CHECK-NEXT: "sattn.rocc_call"() {window_size = 8 : i64, tile_D = 32 : i64, tile_S = 128 : i64, spec = "sliding_window", spec_rule = "cost_model", materialized_indices, index_table = {kind = "stencil", offsets = array<i32: -8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8>, wrap = 0 : i64, causal = 0 : i64, rows = 128 : i64, heads = 1 : i64, nnz = 2104 : i64, min_keys = 9 : i64, max_keys = 17 : i64}, tile_M = 64 : i64, tiled,
// CHECK-SAME: m_rows = 64 : i64, head_dim_d = 32 : i64, s_tokens = 128 : i64, rocc_program = {layout = {{.*}}}, jobs = 1 : i64, commands = array<i64: {{.*}}>}, bufferized
// CHECK-NOT: blg_enabled
