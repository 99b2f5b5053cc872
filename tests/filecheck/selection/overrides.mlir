// Overrides: SATTN_FORCE_SPEC beats the attributes, force_spec beats spec, and both beat
// every rule (and the probes).
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec)' | filecheck %s
// RUN: env SATTN_FORCE_SPEC=sliding_window %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec)' | filecheck %s --check-prefix=ENV
// RUN: env SATTN_FORCE_SPEC=bsr SATTN_DISABLE_BSR=1 %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec)' | filecheck %s --check-prefix=ENVBSR
// The override reaches the lowered call:
// RUN: env SATTN_FORCE_SPEC=block_local_global %sattn-opt %s -pass-pipeline='builtin.module(sattn-lower-rocc)' | filecheck %s --check-prefix=ROCC

"sattn.sparse_attention"() { spec = "dense", global_tokens = 4 : i64 } : () -> ()
// CHECK: spec = "dense", global_tokens = 4 : i64, spec_rule = "attr_spec"
// ENV: spec = "sliding_window", global_tokens = 4 : i64, spec_rule = "env_force_spec"
// ENVBSR: spec = "bsr", global_tokens = 4 : i64, spec_rule = "env_force_spec"
// ROCC: "sattn.rocc_call"() {spec = "block_local_global", global_tokens = 4 : i64, spec_rule = "env_force_spec", {{.*}}blg_enabled = true

"sattn.sparse_attention"() { force_spec = "lsh", topk_k = 4 : i64 } : () -> ()
// CHECK: force_spec = "lsh", topk_k = 4 : i64, spec = "lsh", spec_rule = "attr_force_spec"
// ENV: spec = "sliding_window", spec_rule = "env_force_spec"

"sattn.sparse_attention"() { force_spec = "topk_per_query", spec = "nm_structured", topk_k = 4 : i64 } : () -> ()
// CHECK: force_spec = "topk_per_query", spec = "topk_per_query", topk_k = 4 : i64, spec_rule = "attr_force_spec"

// dense is a valid override.
"sattn.sparse_attention"() { force_spec = "dense", window_size = 3 : i64 } : () -> ()
// CHECK: spec = "dense", spec_rule = "attr_force_spec"
// ROCC: "sattn.rocc_call"() {force_spec = "dense", window_size = 3 : i64, spec = "block_local_global", spec_rule = "env_force_spec"
