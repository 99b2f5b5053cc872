module {
  func.func @attn(%q: tensor<1x4x128x32xf32>, %k: tensor<1x2x128x32xf32>, %v: tensor<1x2x128x32xf32>) -> tensor<1x4x128x32xf32> {
    %o = "sattn.sparse_attention"(%q, %k, %v) {pattern = "sliding_window", softmax_mode = "logsumexp", window_size = 8 : i64} : (tensor<1x4x128x32xf32>, tensor<1x2x128x32xf32>, tensor<1x2x128x32xf32>) -> tensor<1x4x128x32xf32>
    func.return %o : tensor<1x4x128x32xf32>
  }
}
