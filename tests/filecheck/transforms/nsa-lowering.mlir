// nsa lowers to an RVV call that records the resolved NSA parameters the kernel runs with
// (the runner builds the kernel's NsaConfig from them: the defaults select_blocks 16,
// window_size 0, comp_block_size = block_size, comp_stride = comp_block_size, precision fp32
// made explicit). RoCC lowers it to a call that records the same parameters and the whole
// command stream (NSA selects on chip: the program depends on the shape only; three jobs per
// KV head and row, SCORE / SELECT / window, two without a window), with the parameters it was
// planned for beside it (an edited call is planned again).
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-lower-rvv)' | filecheck %s --check-prefix=RVV
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-lower-to-rvv)' | filecheck %s --check-prefix=RVV
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-lower-rocc)' | filecheck %s --check-prefix=ROCC
// Selection alone, and the passes before the RoCC lowering, accept it.
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec,sattn-materialize-indices)' | filecheck %s --check-prefix=PLAN
// RVV: "sattn.rvv_call"() {select_blocks = 4 : i64, block_size = 16 : i64, window_size = 32 : i64, seq_len = 256 : i64, spec = "nsa", spec_rule = "select_blocks", comp_block_size = 16 : i64, comp_stride = 16 : i64, precision = "fp32",
// RVV-NEXT: "sattn.rvv_call"() {block_size = 8 : i64, seq_len = 64 : i64, precision = "i8", spec = "nsa", spec_rule = {{.*}}, select_blocks = 16 : i64, window_size = 0 : i64, comp_block_size = 8 : i64, comp_stride = 8 : i64,
// ROCC: "sattn.rocc_call"() {select_blocks = 4 : i64, block_size = 16 : i64, window_size = 32 : i64, seq_len = 256 : i64, spec = "nsa", spec_rule = "select_blocks",
// ROCC-SAME: comp_block_size = 16 : i64, comp_stride = 16 : i64, precision = "fp32",
// ROCC-SAME: rocc_program = {layout = {q_base = 4096 : i64, {{.*}}}, jobs = 768 : i64, commands = array<i64: 7, 0, 0, 1, 33, 8191,
// ROCC-SAME: nsa = {block_size = 16 : i64, select_blocks = 4 : i64, window_size = 32 : i64, comp_block_size = 16 : i64, comp_stride = 16 : i64, precision = "fp32"}}
// ROCC: "sattn.rocc_call"() {block_size = 8 : i64, seq_len = 64 : i64, precision = "i8", spec = "nsa",
// ROCC-SAME: jobs = 128 : i64,
// ROCC-SAME: nsa = {block_size = 8 : i64, select_blocks = 16 : i64, window_size = 0 : i64, comp_block_size = 8 : i64, comp_stride = 8 : i64, precision = "i8"}}
// PLAN: selection_plan = {kind = "nsa", block_size = 16 : i64, select_blocks = 4 : i64, window = 32 : i64, comp_block = 16 : i64, comp_stride = 16 : i64, data_dependent = 1 : i64, score = "compressed_probabilities"}

module {
  "sattn.sparse_attention"() { select_blocks = 4 : i64, block_size = 16 : i64, window_size = 32 : i64, seq_len = 256 : i64 } : () -> ()
  "sattn.sparse_attention"() { block_size = 8 : i64, seq_len = 64 : i64, precision = "i8", spec = "nsa" } : () -> ()
}
