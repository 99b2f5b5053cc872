// sattn-select-spec: records the selected spec and the deciding rule on the op itself.
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec)' | filecheck %s
// Idempotent: running it twice keeps the first rule.
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec,sattn-select-spec)' | filecheck %s

"sattn.sparse_attention"() { global_tokens = 8 : i64, block_size = 64 : i64, tile_M = 16 : i64, tile_D = 32 : i64, tile_S = 128 : i64 } : () -> ()
// CHECK: "sattn.sparse_attention"() {global_tokens = 8 : i64, block_size = 64 : i64, tile_M = 16 : i64, tile_D = 32 : i64, tile_S = 128 : i64, spec = "block_local_global", spec_rule = "global_tokens"} : () -> ()
"sattn.sparse_attention"() { window_size = 8 : i64, tile_D = 32 : i64, tile_S = 128 : i64 } : () -> ()
// CHECK: "sattn.sparse_attention"() {window_size = 8 : i64, tile_D = 32 : i64, tile_S = 128 : i64, spec = "sliding_window", spec_rule = "cost_model"} : () -> ()
// An explicit spec keeps its place in the dictionary.
"sattn.sparse_attention"() { spec = "dense", window_size = 8 : i64 } : () -> ()
// CHECK: "sattn.sparse_attention"() {spec = "dense", window_size = 8 : i64, spec_rule = "attr_spec"} : () -> ()
// Calls were selected already; the pass leaves them alone.
"sattn.rvv_call"() { spec = "bsr" } : () -> ()
// CHECK: "sattn.rvv_call"() {spec = "bsr"} : () -> ()
