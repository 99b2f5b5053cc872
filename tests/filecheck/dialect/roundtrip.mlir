// The spec's examples parse, verify and print back in the generic form, attribute for attribute.
// RUN: %sattn-opt %s --allow-unregistered-dialect | filecheck %s
// Printing is a fixed point: parse(print(x)) prints the same text.
// RUN: %sattn-opt %s --allow-unregistered-dialect | %sattn-opt --allow-unregistered-dialect | filecheck %s

module {
  "sattn.sparse_attention"() { global_tokens = 8 : i64, block_size = 64 : i64, tile_M = 16 : i64, tile_D = 32 : i64, tile_S = 128 : i64 } : () -> ()
  "sattn.sparse_attention"() { window_size = 8 : i64, tile_D = 32 : i64, tile_S = 128 : i64 } : () -> ()
  "sattn.sparse_attention"() { precision = "bf16", window_size = 8 : i64, tile_D = 32 : i64, tile_S = 128 : i64 } : () -> ()
  "sattn.sparse_attention"() { precision = "i8", scale_q = 0.05 : f32, scale_k = 0.05 : f32, scale_v = 0.05 : f32, window_size = 8 : i64, tile_D = 32 : i64, tile_S = 128 : i64 } : () -> ()
  "sattn.sparse_attention"() { dilation = 2 : i64, wrap = 1 : i64, window_size = 4 : i64 } : () -> ()
  "sattn.sparse_attention"() { num_landmarks = 16 : i64, landmark_iters = 2 : i64, causal = true } : () -> ()
  "sattn.sparse_attention"() { gqa_group_size = 2 : i64, comp_block_size = 8 : i64, keep_ratio = 0.5 : f64, block_size = 32 : i64 } : () -> ()
  // Integers of any width for int attributes, integers for float attributes.
  "sattn.sparse_attention"() { window_size = 8 : i32, keep_ratio = 1 : i64, spec = "bsr" } : () -> ()
  "other.op"() : () -> ()
}

// CHECK:      "sattn.sparse_attention"() {global_tokens = 8 : i64, block_size = 64 : i64, tile_M = 16 : i64, tile_D = 32 : i64, tile_S = 128 : i64} : () -> ()
// CHECK-NEXT: "sattn.sparse_attention"() {window_size = 8 : i64, tile_D = 32 : i64, tile_S = 128 : i64} : () -> ()
// CHECK-NEXT: "sattn.sparse_attention"() {precision = "bf16", window_size = 8 : i64, tile_D = 32 : i64, tile_S = 128 : i64} : () -> ()
// CHECK-NEXT: "sattn.sparse_attention"() {precision = "i8", scale_q = 5.000000e-02 : f32, scale_k = 5.000000e-02 : f32, scale_v = 5.000000e-02 : f32, window_size = 8 : i64, tile_D = 32 : i64, tile_S = 128 : i64} : () -> ()
// CHECK-NEXT: "sattn.sparse_attention"() {dilation = 2 : i64, wrap = 1 : i64, window_size = 4 : i64} : () -> ()
// CHECK-NEXT: "sattn.sparse_attention"() {num_landmarks = 16 : i64, landmark_iters = 2 : i64, causal = true} : () -> ()
// CHECK-NEXT: "sattn.sparse_attention"() {gqa_group_size = 2 : i64, comp_block_size = 8 : i64, keep_ratio = 5.000000e-01 : f64, block_size = 32 : i64} : () -> ()
// CHECK-NEXT: "sattn.sparse_attention"() {window_size = 8 : i32, keep_ratio = 1 : i64, spec = "bsr"} : () -> ()
// CHECK-NEXT: "other.op"() : () -> ()
