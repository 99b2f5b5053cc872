// The spec's heuristic nudges: GQA penalises sliding_window; compression blocks smaller than
// the block discount block_local_global. --explain-selection shows every candidate's cost.
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec)' | filecheck %s
// RUN: %sattn-opt %s --explain-selection 2>&1 >/dev/null | filecheck %s --check-prefix=EXPLAIN

// GQA: the same op with 1 and 4 query heads per KV head (compression blocks of 8 make
// block_local_global compete). With 4 heads the 1.3x sliding-window penalty flips it.
"sattn.sparse_attention"() { seq_len = 128 : i64, head_dim = 64 : i64, window_size = 16 : i64, keep_ratio = 0.5 : f64, block_size = 16 : i64, tile_D = 32 : i64, comp_block_size = 8 : i64, num_heads = 4 : i64, gqa_group_size = 1 : i64 } : () -> ()
// CHECK: gqa_group_size = 1 : i64, spec = "sliding_window", spec_rule = "cost_model"
"sattn.sparse_attention"() { seq_len = 128 : i64, head_dim = 64 : i64, window_size = 16 : i64, keep_ratio = 0.5 : f64, block_size = 16 : i64, tile_D = 32 : i64, comp_block_size = 8 : i64, num_heads = 4 : i64, gqa_group_size = 4 : i64 } : () -> ()
// CHECK: gqa_group_size = 4 : i64, spec = "block_local_global", spec_rule = "cost_model"

// Compression blocks: without them sliding_window wins; comp_block_size = 2 < 16 takes
// 0.25*(1 - 2/16) off the block_local_global cost and it wins.
"sattn.sparse_attention"() { seq_len = 128 : i64, head_dim = 64 : i64, window_size = 16 : i64, block_size = 16 : i64, tile_D = 32 : i64, gqa_group_size = 2 : i64, num_heads = 2 : i64 } : () -> ()
// CHECK: num_heads = 2 : i64, spec = "sliding_window", spec_rule = "cost_model"
"sattn.sparse_attention"() { seq_len = 128 : i64, head_dim = 64 : i64, window_size = 16 : i64, block_size = 16 : i64, tile_D = 32 : i64, gqa_group_size = 2 : i64, num_heads = 2 : i64, comp_block_size = 2 : i64 } : () -> ()
// CHECK: comp_block_size = 2 : i64, spec = "block_local_global", spec_rule = "cost_model"

// EXPLAIN: cost-model.mlir:8:1: sattn.sparse_attention
// EXPLAIN-NEXT: selection: spec=sliding_window rule=cost_model
// EXPLAIN-NEXT: reason: cheapest computable candidate: sliding_window
// EXPLAIN-NEXT: hints: force=none prefer=none l1_bytes=32768 disabled=none
// EXPLAIN-NEXT: candidate bsr {{ +}}ok
// EXPLAIN-NEXT: candidate sliding_window {{ +}}chosen {{ +}}cost={{.*}} [d_steps=1.229e+04, dot_keys=1600, keys=8128, strips=256, pairs=256, fixed=1, gqa_x=1, prefer_x=1]
// EXPLAIN-NEXT: candidate block_local_global {{ +}}ok {{ +}}cost={{.*}}comp_x=0.875, l1_x=1, prefer_x=1]
// EXPLAIN: cost-model.mlir:10:1: sattn.sparse_attention
// EXPLAIN-NEXT: selection: spec=block_local_global rule=cost_model
// EXPLAIN: candidate sliding_window {{ +}}ok {{ +}}cost={{.*}}gqa_x=1.3, prefer_x=1]
// EXPLAIN: cost-model.mlir:17:1: sattn.sparse_attention
// EXPLAIN-NEXT: selection: spec=block_local_global rule=cost_model
// EXPLAIN: candidate bsr {{ +}}not computable (needs keep_ratio)
// EXPLAIN: candidate block_local_global {{ +}}chosen {{ +}}cost={{.*}}comp_x=0.7812, l1_x=1, prefer_x=1]
