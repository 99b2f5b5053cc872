// sattn-materialize-indices: index tables for static patterns (from sattn.specs), selection
// plans for data-dependent ones. S = tile_S = 16 throughout.
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-materialize-indices)' | filecheck %s

// Sliding window w=2: stencil -2..2; 16*5 pairs minus 6 cut at the edges = 74.
"sattn.sparse_attention"() { window_size = 2 : i64, tile_S = 16 : i64, tile_D = 8 : i64 } : () -> ()
// CHECK: materialized_indices, index_table = {kind = "stencil", offsets = array<i32: -2, -1, 0, 1, 2>, wrap = 0 : i64, causal = 0 : i64, rows = 16 : i64, heads = 1 : i64, nnz = 74 : i64, min_keys = 3 : i64, max_keys = 5 : i64}}

// Dilated ring: offsets step 3, every row keeps 5 keys (16*5 = 80).
"sattn.sparse_attention"() { window_size = 2 : i64, dilation = 3 : i64, wrap = 1 : i64, tile_S = 16 : i64, tile_D = 8 : i64 } : () -> ()
// CHECK: index_table = {kind = "stencil", offsets = array<i32: -6, -3, 0, 3, 6>, wrap = 1 : i64, causal = 0 : i64, rows = 16 : i64, heads = 1 : i64, nnz = 80 : i64, min_keys = 5 : i64, max_keys = 5 : i64}

// block_local_global, blocks of 4, 2 global tokens: query block 0 holds the global queries
// (all 4 key blocks); blocks 1..3 see their neighbours and block 0 (the global keys).
// Pairs: 2*16 (global rows) + 2*8 + 4*12 + 4*14 + 4*10 = 192.
"sattn.sparse_attention"() { global_tokens = 2 : i64, block_size = 4 : i64, tile_S = 16 : i64, tile_D = 8 : i64 } : () -> ()
// CHECK: index_table = {kind = "block_csr", source = "structural", block_size = 4 : i64, q_blocks = 4 : i64, k_blocks = 4 : i64, heads = 1 : i64, per_head = 0 : i64, nnz_blocks = 14 : i64, nnz = 192 : i64, global_tokens = 2 : i64, indptr = array<i32: 0, 4, 7, 11, 14>, indices = array<i32: 0, 1, 2, 3, 0, 1, 2, 0, 1, 2, 3, 0, 2, 3>}

// bsr: the plan (keep 2 of 4 blocks, diagonal always) and the layout it yields on the
// synthetic data: every row keeps its diagonal block.
"sattn.sparse_attention"() { keep_ratio = 0.5 : f64, block_size = 4 : i64, tile_S = 16 : i64, tile_D = 8 : i64 } : () -> ()
// CHECK: index_table = {kind = "block_csr", source = "synthetic", block_size = 4 : i64, q_blocks = 4 : i64, k_blocks = 4 : i64, heads = 1 : i64, per_head = 1 : i64, nnz_blocks = 8 : i64, nnz = 128 : i64, indptr = array<i32: 0, 2, 4, 6, 8>, indices = array<i32: 0, 1, 0, 1, 0, 2, 0, 3>}
// CHECK-SAME: selection_plan = {kind = "block_topk", block_size = 4 : i64, keep_blocks = 2 : i64, keep_ratio = 5.000000e-01 : f64, always = "diagonal", data_dependent = 1 : i64, score = "mean_pool_blocks"

// Dense causal: the lower triangle, 16*17/2 = 136 pairs.
"sattn.sparse_attention"() { spec = "dense", causal = 1 : i64, tile_S = 16 : i64, tile_D = 8 : i64 } : () -> ()
// CHECK: index_table = {kind = "dense", rows = 16 : i64, heads = 1 : i64, causal = 1 : i64, nnz = 136 : i64}

// Data-dependent patterns: plans only.
"sattn.sparse_attention"() { nm_n = 2 : i64, nm_m = 4 : i64, tile_S = 16 : i64 } : () -> ()
// CHECK: materialized_indices, selection_plan = {kind = "nm", n = 2 : i64, m = 4 : i64, groups_per_row = 4 : i64, data_dependent = 1 : i64, score = "group_qk"
// CHECK-NOT: index_table
"sattn.sparse_attention"() { topk_k = 40 : i64, tile_S = 16 : i64 } : () -> ()
// CHECK: selection_plan = {kind = "topk", k = 16 : i64, data_dependent = 1 : i64
"sattn.sparse_attention"() { lsh_buckets = 4 : i64, tile_S = 16 : i64, precision = "bf16" } : () -> ()
// CHECK: selection_plan = {kind = "lsh", buckets = 4 : i64, hash = "random_hyperplane", bits = 2 : i64, seed = 23159 : i64, data_dependent = 1 : i64, score = "group_qk"}
"sattn.sparse_attention"() { num_landmarks = 4 : i64, landmark_iters = 2 : i64, tile_S = 16 : i64 } : () -> ()
// CHECK: selection_plan = {kind = "landmark", landmarks = 4 : i64, iters = 2 : i64, init = "evenly_spaced", key_space = "landmarks"

// NSA-style compression scoring and a GQA group of 2 sharing the selection.
"sattn.sparse_attention"() { spec = "bsr", keep_ratio = 0.5 : f64, block_size = 4 : i64, comp_block_size = 2 : i64, gqa_group_size = 2 : i64, num_heads = 4 : i64, tile_S = 16 : i64, tile_D = 8 : i64 } : () -> ()
// CHECK: index_table = {kind = "block_csr", source = "synthetic", block_size = 4 : i64, q_blocks = 4 : i64, k_blocks = 4 : i64, heads = 2 : i64, per_head = 1 : i64, nnz_blocks = 16 : i64
// CHECK-SAME: selection_plan = {kind = "block_topk", {{.*}}comp_block_size = 2 : i64, data_dependent = 1 : i64, score = "compression_blocks"}
