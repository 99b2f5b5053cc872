// The probe variables: a disabled forcing rule falls through to the next rule; disabled
// cost candidates leave the comparison; with nothing computable the default is bsr, or
// dense when bsr is disabled.
// RUN: env SATTN_DISABLE_NM=1 %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec)' | filecheck %s --check-prefix=NM
// RUN: env SATTN_DISABLE_NM=1 SATTN_DISABLE_TOPK=1 %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec)' | filecheck %s --check-prefix=TOPK
// RUN: env SATTN_DISABLE_NM=1 SATTN_DISABLE_TOPK=1 SATTN_DISABLE_LSH=1 %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec)' | filecheck %s --check-prefix=LSH
// RUN: env SATTN_DISABLE_NM=1 SATTN_DISABLE_TOPK=1 SATTN_DISABLE_LSH=1 SATTN_DISABLE_LANDMARK=1 %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec)' | filecheck %s --check-prefix=LANDMARK
// RUN: env SATTN_DISABLE_BLG=1 %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec)' | filecheck %s --check-prefix=BLG
// RUN: env SATTN_DISABLE_SW=1 %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec)' | filecheck %s --check-prefix=SW
// RUN: env SATTN_DISABLE_BSR=1 %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec)' | filecheck %s --check-prefix=BSR
// RUN: env SATTN_DISABLE_BSR=1 SATTN_DISABLE_SW=1 %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec)' | filecheck %s --check-prefix=BOTH

// The option disable= (names or keys) is the same hint and adds to the variables.
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec{disable=nm,topk_per_query})' | filecheck %s --check-prefix=TOPK
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec{disable=sliding_window,bsr})' | filecheck %s --check-prefix=BOTH
// RUN: env SATTN_DISABLE_BSR=1 %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec{disable=sw})' | filecheck %s --check-prefix=BOTH
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-lower-rocc{disable=bsr})' | filecheck %s --check-prefix=BSR
// Every forcing attribute at once, plus both costs computable.
"sattn.sparse_attention"() { nm_n = 2 : i64, nm_m = 4 : i64, topk_k = 4 : i64, lsh_buckets = 4 : i64, num_landmarks = 4 : i64, window_size = 4 : i64, keep_ratio = 0.25 : f64, seq_len = 1024 : i64 } : () -> ()
// NM: spec = "topk_per_query", spec_rule = "topk"
// TOPK: spec = "lsh", spec_rule = "lsh"
// LSH: spec = "landmark", spec_rule = "landmark"
// LANDMARK: spec = "sliding_window", spec_rule = "cost_model"

// global_tokens with SATTN_DISABLE_BLG falls through to the costs.
"sattn.sparse_attention"() { global_tokens = 4 : i64, window_size = 4 : i64 } : () -> ()
// BLG: spec = "sliding_window", spec_rule = "cost_model"

// Both costs computable (sliding window cheaper): the probes remove one or both.
"sattn.sparse_attention"() { window_size = 4 : i64, keep_ratio = 0.25 : f64, seq_len = 1024 : i64 } : () -> ()
// SW: spec = "bsr", spec_rule = "cost_model"
// BSR: spec = "sliding_window", spec_rule = "cost_model"
// BOTH: spec = "dense", spec_rule = "fallback_dense"

// Nothing computable and bsr disabled: dense.
"sattn.sparse_attention"() {} : () -> ()
// SW: spec = "bsr", spec_rule = "default_bsr"
// BSR: spec = "dense", spec_rule = "fallback_dense"
// BOTH: spec = "dense", spec_rule = "fallback_dense"
