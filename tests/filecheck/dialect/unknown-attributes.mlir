// Attributes sattn.sparse_attention does not know are discardable, as in MLIR: one warning line
// each on stderr (with the location and a did-you-mean hint), once however many passes run, and
// they travel to the lowered call untouched. --strict-attributes makes the first one the error.

// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-lower-rocc)' 2> %t.rocc.err | filecheck %s --check-prefix=ROCC
// RUN: filecheck %s --check-prefix=WARN --match-full-lines < %t.rocc.err
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-lower-rvv)' 2> %t.rvv.err | filecheck %s --check-prefix=RVV
// RUN: filecheck %s --check-prefix=WARN --match-full-lines < %t.rvv.err
// RUN: %sattn-opt %s 2>&1 >/dev/null | filecheck %s --check-prefix=WARN --match-full-lines

// WARN:      {{.*}}unknown-attributes.mlir:29:3: warning: 'sattn.sparse_attention' unknown attribute 'pattern'; kept and ignored
// WARN-NEXT: {{.*}}unknown-attributes.mlir:29:3: warning: 'sattn.sparse_attention' unknown attribute 'windw_size' (did you mean 'window_size'?); kept and ignored
// WARN-NEXT: {{.*}}unknown-attributes.mlir:29:3: warning: 'sattn.sparse_attention' unknown attribute 'softmax_mode'; kept and ignored
// WARN-NOT:  {{.}}

// ROCC: "sattn.rocc_call"() {pattern = "block_topk", windw_size = 3 : i64, softmax_mode = "logsumexp", keep_ratio = 2.500000e-01 : f64, block_size = 16 : i64, tile_S = 64 : i64, tile_D = 32 : i64, spec = "bsr"
// ROCC-SAME: bufferized
// RVV: "sattn.rvv_call"() {pattern = "block_topk", windw_size = 3 : i64, softmax_mode = "logsumexp", keep_ratio = 2.500000e-01 : f64, block_size = 16 : i64, tile_S = 64 : i64, tile_D = 32 : i64, spec = "bsr"
// RVV-SAME: vectorized

// RUN: not %sattn-opt %s --strict-attributes -pass-pipeline='builtin.module(sattn-lower-rvv)' -o %t.out > %t.strict.out 2> %t.strict.err
// RUN: filecheck %s --check-prefix=STRICT --match-full-lines < %t.strict.err
// RUN: not test -e %t.out
// RUN: not test -s %t.strict.out
// STRICT: sattn-opt: error: {{.*}}unknown-attributes.mlir:29:3: 'sattn.sparse_attention' unknown attribute 'pattern'
// STRICT-NOT: {{.}}

module {
  "sattn.sparse_attention"() { pattern = "block_topk", windw_size = 3 : i64, softmax_mode = "logsumexp", keep_ratio = 0.25 : f64, block_size = 16 : i64, tile_S = 64 : i64, tile_D = 32 : i64 } : () -> ()
}
