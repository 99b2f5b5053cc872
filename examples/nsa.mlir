module {
  "sattn.sparse_attention"() { spec = "nsa", block_size = 16 : i64, select_blocks = 4 : i64, window_size = 32 : i64, seq_len = 256 : i64, head_dim = 32 : i64, num_heads = 4 : i64, gqa_group_size = 2 : i64 } : () -> ()
}
