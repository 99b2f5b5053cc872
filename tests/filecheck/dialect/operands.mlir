// Q, K, V operands: their tensor types give the shape (H=4 query heads over H_kv=2, S=64,
// D=32), the call forwards operands and result, and the shape reaches the pass records.
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-lower-rvv)' | filecheck %s

func.func @attn(%q: tensor<4x64x32xf32>, %k: tensor<2x64x32xf32>, %v: tensor<2x64x32xf32>) -> tensor<4x64x32xf32> {
  %o = "sattn.sparse_attention"(%q, %k, %v) {window_size = 4 : i64} : (tensor<4x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>) -> tensor<4x64x32xf32>
  func.return %o : tensor<4x64x32xf32>
}

// CHECK:      %o = "sattn.rvv_call"(%q, %k, %v) {window_size = 4 : i64, spec = "sliding_window"
// fp32 Q and out: 4*64*32*4 bytes; K and V: 2*64*32*4 bytes. Index bound per KV head:
// (S + 1 + S*(2w+1)) * 4 = (65 + 576) * 4 = 2564, two heads: 5128.
// CHECK-SAME: buffers = {q = 32768 : i64, k = 16384 : i64, v = 16384 : i64, out = 32768 : i64, index = 5128 : i64
// CHECK-SAME: : (tensor<4x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>) -> tensor<4x64x32xf32>
// CHECK-NEXT: func.return %o : tensor<4x64x32xf32>
