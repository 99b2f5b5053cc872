func.func @attn(%q: tensor<1x2x64x32xf32>, %k: tensor<1x2x64x32xf32>, %v: tensor<1x2x64x32xf32>) -> tensor<1x2x64x32xf32> {
  %o = "sattn.sparse_attention"(%q, %k, %v) {pattern = "block_topk", softmax_mode = "logsumexp", keep_ratio = 0.25 : f64, block_size = 16 : i64} : (tensor<1x2x64x32xf32>, tensor<1x2x64x32xf32>, tensor<1x2x64x32xf32>) -> tensor<1x2x64x32xf32>
  func.return %o : tensor<1x2x64x32xf32>
}
