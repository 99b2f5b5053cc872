// Unit testbench of sattn_topn (the top-n unit) alone: tests/hw/test_topn.py drives it.
//
// stdin: cases, each "n count" then count lines "score_bits idx gap" (gap: idle cycles before
// the score). Per case it clears the unit, streams the scores (one per cycle when gap = 0) and,
// one cycle after the last, prints "kept <idx of rank 0> <idx of rank 1> ..." (valid entries
// only) and "cycles <cycles from the first score to a final list>".
#include "Vsattn_topn.h"
#include "verilated.h"

#include <cstdint>
#include <cstdio>

namespace {
Vsattn_topn *top;
uint64_t now = 0;
void tick() {
  top->clk = 0;
  top->eval();
  top->clk = 1;
  top->eval();
  ++now;
}
}  // namespace

int main(int argc, char **argv) {
  Verilated::commandArgs(argc, argv);
  top = new Vsattn_topn;
  top->rst_n = 0;
  top->clear = 0;
  top->in_valid = 0;
  tick();
  tick();
  top->rst_n = 1;
  unsigned n, count;
  while (std::scanf("%u %u", &n, &count) == 2) {
    top->n = n;
    top->clear = 1;
    tick();
    top->clear = 0;
    uint64_t t0 = now;
    for (unsigned i = 0; i < count; ++i) {
      unsigned bits, idx, gap;
      if (std::scanf("%u %u %u", &bits, &idx, &gap) != 3) return 2;
      for (unsigned g = 0; g < gap; ++g) tick();
      top->in_valid = 1;
      top->in_score = bits;
      top->in_idx = idx;
      tick();
      top->in_valid = 0;
    }
    std::printf("kept");
    for (int r = 0; r < 32; ++r) {
      if (!((top->kept_valid >> r) & 1)) continue;
      // kept_idx is packed [NMAX-1:0][15:0]: rank r in bits 16r .. 16r + 15
      unsigned w = top->kept_idx[r / 2];
      std::printf(" %u", (r % 2) ? (w >> 16) : (w & 0xffff));
    }
    std::printf("\ncycles %llu\n", (unsigned long long)(now - t0));
  }
  top->final();
  delete top;
  return 0;
}
