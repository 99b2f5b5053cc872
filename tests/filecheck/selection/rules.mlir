// Every rule of the spec, in the spec's order, and the rule recorded for it.
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec)' | filecheck %s

// global_tokens > 0 forces block_local_global, whatever else is set (it comes first).
"sattn.sparse_attention"() { global_tokens = 1 : i64, nm_n = 2 : i64, nm_m = 4 : i64, topk_k = 4 : i64, lsh_buckets = 4 : i64, window_size = 2 : i64 } : () -> ()
// CHECK: spec = "block_local_global", spec_rule = "global_tokens"
// global_tokens = 0 is "not set".
"sattn.sparse_attention"() { global_tokens = 0 : i64, nm_n = 2 : i64, nm_m = 4 : i64, topk_k = 4 : i64 } : () -> ()
// CHECK: spec = "nm_structured", spec_rule = "nm"
"sattn.sparse_attention"() { topk_k = 4 : i64, lsh_buckets = 4 : i64, num_landmarks = 4 : i64 } : () -> ()
// CHECK: spec = "topk_per_query", spec_rule = "topk"
"sattn.sparse_attention"() { lsh_buckets = 4 : i64, num_landmarks = 4 : i64, window_size = 2 : i64 } : () -> ()
// CHECK: spec = "lsh", spec_rule = "lsh"
// landmark right after lsh, before the cost model.
"sattn.sparse_attention"() { num_landmarks = 4 : i64, window_size = 2 : i64, keep_ratio = 0.5 : f64 } : () -> ()
// CHECK: spec = "landmark", spec_rule = "landmark"
// The cost model: only sliding_window computable (window_size set).
"sattn.sparse_attention"() { window_size = 8 : i64, tile_D = 32 : i64, tile_S = 128 : i64 } : () -> ()
// CHECK: spec = "sliding_window", spec_rule = "cost_model"
// Only bsr computable (keep_ratio set).
"sattn.sparse_attention"() { keep_ratio = 0.25 : f64, block_size = 32 : i64 } : () -> ()
// CHECK: spec = "bsr", spec_rule = "cost_model"
// Both computable: a narrow window is cheaper than a quarter of the blocks at S=1024 ...
"sattn.sparse_attention"() { keep_ratio = 0.25 : f64, block_size = 64 : i64, window_size = 4 : i64, seq_len = 1024 : i64 } : () -> ()
// CHECK: spec = "sliding_window", spec_rule = "cost_model"
// ... and a wide one is not: 2*300+1 keys per query against 4 blocks of 32 (S=1024).
"sattn.sparse_attention"() { keep_ratio = 0.125 : f64, block_size = 32 : i64, window_size = 300 : i64, seq_len = 1024 : i64 } : () -> ()
// CHECK: spec = "bsr", spec_rule = "cost_model"
// Neither cost computable: bsr.
"sattn.sparse_attention"() { tile_S = 128 : i64 } : () -> ()
// CHECK: spec = "bsr", spec_rule = "default_bsr"
"sattn.sparse_attention"() {} : () -> ()
// CHECK: spec = "bsr", spec_rule = "default_bsr"
