module {
  "sattn.sparse_attention"() { precision = "bf16", window_size = 8 : i64, tile_D = 32 : i64, tile_S = 128 : i64 } : () -> ()
}
