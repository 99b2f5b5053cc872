// Each selector environment variable, on inputs where it changes the decision.
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec)' | filecheck %s --check-prefix=BASE
// RUN: env SATTN_PREFER_BSR=1 %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec)' | filecheck %s --check-prefix=PBSR
// RUN: env SATTN_PREFER_SW=1 %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec)' | filecheck %s --check-prefix=PSW
// RUN: env SATTN_HW_L1_BYTES=65536 %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec)' | filecheck %s --check-prefix=L1
// "0" turns a flag off.
// RUN: env SATTN_PREFER_BSR=0 %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec)' | filecheck %s --check-prefix=BASE
// The tool's flags map to the same variables.
// RUN: %sattn-opt %s --prefer-bsr -pass-pipeline='builtin.module(sattn-select-spec)' | filecheck %s --check-prefix=PBSR
// RUN: %sattn-opt %s --l1-bytes 65536 -pass-pipeline='builtin.module(sattn-select-spec)' | filecheck %s --check-prefix=L1
// The pass options are the same hints (sattn-select-spec's and the pipelines', forwarded).
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec{prefer=bsr})' | filecheck %s --check-prefix=PBSR
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec{prefer=sw})' | filecheck %s --check-prefix=PSW
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec{l1-bytes=65536})' | filecheck %s --check-prefix=L1
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-lower-rvv{prefer=bsr})' | filecheck %s --check-prefix=PBSR
// An option beats the edge's variable.
// RUN: env SATTN_PREFER_BSR=1 %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec{prefer=none})' | filecheck %s --check-prefix=BASE
// Conflicting preferences are an error.
// RUN: env SATTN_PREFER_BSR=1 SATTN_PREFER_SW=1 not %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec)' 2>&1 | filecheck %s --check-prefix=BOTH
// BOTH: sattn-opt: error: SATTN_PREFER_BSR and SATTN_PREFER_SW are both set; choose one

// The inputs sit within reach of the nudges of a flip of the default (rvv) cost model
// (docs/selector.md: its modelled cycles in parentheses).
// (1) sliding_window cheaper (S=128, w=20, 613k vs 37.5% of 16-token blocks, 763k):
// SATTN_PREFER_BSR (block costs x0.75, sliding window x1.1) flips it to bsr.
"sattn.sparse_attention"() { seq_len = 128 : i64, head_dim = 64 : i64, window_size = 20 : i64, keep_ratio = 0.375 : f64, block_size = 16 : i64, tile_D = 32 : i64 } : () -> ()
// BASE: spec = "sliding_window", spec_rule = "cost_model"
// PBSR: spec = "bsr", spec_rule = "cost_model"
// PSW:  spec = "sliding_window", spec_rule = "cost_model"
// L1:   spec = "sliding_window", spec_rule = "cost_model"

// (2) bsr cheaper (a quarter of the blocks, 545k, vs w=24, 650k): SATTN_PREFER_SW flips it.
"sattn.sparse_attention"() { seq_len = 128 : i64, head_dim = 64 : i64, window_size = 24 : i64, keep_ratio = 0.25 : f64, block_size = 16 : i64, tile_D = 32 : i64 } : () -> ()
// BASE: spec = "bsr", spec_rule = "cost_model"
// PBSR: spec = "bsr", spec_rule = "cost_model"
// PSW:  spec = "sliding_window", spec_rule = "cost_model"

// (3) 128-token blocks with 128-wide D tiles overflow a 32 KiB L1 five times
// ((64 + 2*128) * 128 * 4 bytes), 64 KiB 2.5 times: the L1 factor of the block candidates is
// 2.5 / 5 (the weights are fitted at 32 KiB), and bsr (2.85M -> 1.42M) beats w=48 (2.26M).
"sattn.sparse_attention"() { seq_len = 256 : i64, head_dim = 64 : i64, window_size = 48 : i64, keep_ratio = 0.125 : f64, block_size = 128 : i64, tile_D = 128 : i64 } : () -> ()
// BASE: spec = "sliding_window", spec_rule = "cost_model"
// L1:   spec = "bsr", spec_rule = "cost_model"
