// Batch B > 1 and a value dimension Dv != D: Q [B,H,Sq,D], K [B,Hkv,Skv,D], V [B,Hkv,Skv,Dv],
// the result Q's shape with Dv last. The types give batch and head_dim_v; without operands the
// attributes do (head_dim_v defaults to head_dim). The buffers record sizes V and out by Dv.
// RUN: %sattn-opt %s --split-input-file -pass-pipeline='builtin.module(sattn-lower-rvv)' | filecheck %s

// B=2, H=2 over Hkv=1, S=64, D=32, Dv=16. fp32 Q 2*2*64*32*4 = 32768, K 2*1*64*32*4 = 16384,
// V 2*1*64*16*4 = 8192, out 2*2*64*16*4 = 16384.
// CHECK:      %o = "sattn.rvv_call"(%q, %k, %v) {window_size = 4 : i64, spec = "sliding_window"
// CHECK-SAME: buffers = {q = 32768 : i64, k = 16384 : i64, v = 8192 : i64, out = 16384 : i64
// CHECK-SAME: : (tensor<2x2x64x32xf32>, tensor<2x1x64x32xf32>, tensor<2x1x64x16xf32>) -> tensor<2x2x64x16xf32>
func.func @attn(%q: tensor<2x2x64x32xf32>, %k: tensor<2x1x64x32xf32>, %v: tensor<2x1x64x16xf32>) -> tensor<2x2x64x16xf32> {
  %o = "sattn.sparse_attention"(%q, %k, %v) {window_size = 4 : i64} : (tensor<2x2x64x32xf32>, tensor<2x1x64x32xf32>, tensor<2x1x64x16xf32>) -> tensor<2x2x64x16xf32>
  func.return %o : tensor<2x2x64x16xf32>
}

// -----
// The attributes alone: batch = 3, head_dim = 32, head_dim_v = 64, S = 64, one head.
// Q 3*64*32*4 = 24576, K 24576, V 3*64*64*4 = 49152, out 49152.
// CHECK:      "sattn.rvv_call"() {window_size = 4 : i64, batch = 3 : i64, seq_len = 64 : i64, head_dim = 32 : i64, head_dim_v = 64 : i64, spec = "sliding_window"
// CHECK-SAME: buffers = {q = 24576 : i64, k = 24576 : i64, v = 49152 : i64, out = 49152 : i64
"sattn.sparse_attention"() {window_size = 4 : i64, batch = 3 : i64, seq_len = 64 : i64, head_dim = 32 : i64, head_dim_v = 64 : i64} : () -> ()
