// nsa runs on the reference only: lowering it to RVV or RoCC (either pipeline, or the single
// lowering pass) is one line naming the op, exit status 1, nothing printed.
// RUN: not %sattn-opt %s -pass-pipeline='builtin.module(sattn-lower-rvv)' > %t.rvv 2> %t.err
// RUN: filecheck %s --check-prefix=RVV --match-full-lines < %t.err
// RUN: not test -s %t.rvv
// RUN: not %sattn-opt %s -pass-pipeline='builtin.module(sattn-lower-rocc)' 2>&1 | filecheck %s --check-prefix=ROCC --match-full-lines
// RUN: not %sattn-opt %s -pass-pipeline='builtin.module(sattn-lower-to-rvv)' 2>&1 | filecheck %s --check-prefix=RVV --match-full-lines
// RUN: not %sattn-opt %s -pass-pipeline='builtin.module(sattn-lower-to-rocc)' 2>&1 | filecheck %s --check-prefix=ROCC --match-full-lines
// Selection alone, and the passes before the RoCC lowering, accept it.
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec,sattn-materialize-indices)' | filecheck %s --check-prefix=PLAN
// RVV: sattn-opt: error: {{.*}}nsa-refused.mlir:16:3: 'sattn.sparse_attention' spec 'nsa' runs on the reference; RVV/RoCC: not yet (rvv asked for; run it with --backend reference)
// ROCC: sattn-opt: error: {{.*}}nsa-refused.mlir:16:3: 'sattn.sparse_attention' spec 'nsa' runs on the reference; RVV/RoCC: not yet (rocc asked for; run it with --backend reference)
// PLAN: selection_plan = {kind = "nsa", block_size = 16 : i64, select_blocks = 4 : i64, window = 32 : i64, comp_block = 16 : i64, comp_stride = 16 : i64, data_dependent = 1 : i64, score = "compressed_probabilities"}

module {
  "sattn.sparse_attention"() { select_blocks = 4 : i64, block_size = 16 : i64, window_size = 32 : i64, seq_len = 256 : i64 } : () -> ()
}
