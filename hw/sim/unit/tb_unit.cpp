// Unit test of the MAC array and the streaming softmax alone (Verilator, C++).
//
//   Vsattn_unit_top [--seed N] [--cases N]
//
// MAC array: random dot products of 1..8 chunks of up to 16 lanes (partial lane masks), fed one
// chunk per cycle back to back (the array is pipelined and never stalls), integer mode (int8/int4
// codes: must be exact) and fp32 mode (compared with a double-precision dot: error /
// sum|a_i b_i| reported); results and row-end markers must come out in order, each once.
// Softmax: random rows of scores streamed with random gaps and back-pressure, each (p, alpha)
// compared with double math: p = e^(s - m'), alpha = e^(m - m'); l = l * alpha + p over the
// unit's outputs in fp32 (what the core's l lane computes) against sum_j e^(s_j - max). Errors are printed as one line
//   unit: mac_int_mismatch=N mac_fp_max_rel=F marker_errors=N sm_p_max_ulp=F sm_alpha_max_ulp=F
//         sm_l_max_rel=F sm_out_rows=N
// and the exit status is 1 when a bound (int exact, fp 1e-6, p/alpha <= 2 ulp, l 1e-6) fails.
#include "Vsattn_unit_top.h"
#include "verilated.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <random>
#include <string>
#include <vector>

static uint32_t fbits(float x) { uint32_t u; std::memcpy(&u, &x, 4); return u; }
static float bitsf(uint32_t u) { float x; std::memcpy(&x, &u, 4); return x; }
static double ulp_err(float got, double want) {
  if (want == 0) return got == 0 ? 0 : 1e9;
  int e; std::frexp(want, &e);
  double ulp = std::ldexp(1.0, e - 24);
  return std::fabs(got - want) / ulp;
}

struct Tb {
  Vsattn_unit_top t;
  void tick() { t.clk = 0; t.eval(); t.clk = 1; t.eval(); }
  Tb() {
    t.rst_n = 0; t.mac_in_valid = 0; t.sm_in_valid = 0; t.sm_out_ready = 1; t.sm_soft_reset = 0;
    tick(); tick(); t.rst_n = 1;
  }
};

int main(int argc, char **argv) {
  Verilated::commandArgs(argc, argv);
  unsigned seed = 1; int cases = 3000;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    if (s == "--seed" && i + 1 < argc) seed = std::atoi(argv[++i]);
    else if (s == "--cases" && i + 1 < argc) cases = std::atoi(argv[++i]);
  }
  std::mt19937 rng(seed);
  Tb tb;
  auto &t = tb.t;
  const int L = 16;
  long int_mismatch = 0, marker_err = 0;
  double fp_max_rel = 0;

  // ---------------- MAC array ----------------
  // Dot products are fed back to back (one chunk per cycle, as the core issues them), a row-end
  // marker after every third; each output must be the next expected one, in order. The mode
  // (a job's precision) changes only when the pipeline has drained.
  struct Want { bool end; uint32_t tag; bool is_int; long long iref; double fref, fabs_sum; };
  std::deque<Want> want;
  long mac_results = 0;
  auto check_out = [&]() {
    if (!t.mac_out_valid) return;
    if (want.empty()) { ++marker_err; return; }
    Want w = want.front();
    want.pop_front();
    if ((bool)t.mac_out_end != w.end || t.mac_out_tag != w.tag) { ++marker_err; return; }
    if (w.end) return;
    ++mac_results;
    float got = bitsf(t.mac_out_dot);
    if (w.is_int) { if (got != (float)w.iref) ++int_mismatch; }
    else fp_max_rel = std::max(fp_max_rel, std::fabs(got - w.fref) / std::max(w.fabs_sum, 1e-30));
  };
  auto mac_tick = [&]() { tb.tick(); check_out(); };
  auto drain = [&]() {
    t.mac_in_valid = 0;
    for (int i = 0; i < 64 && !want.empty(); ++i) mac_tick();
    if (!want.empty()) { marker_err += (long)want.size(); want.clear(); }
  };
  bool mode = true;
  for (int c = 0; c < cases; ++c) {
    bool is_int = (c / 8) % 2 == 0;
    if (is_int != mode) { drain(); mode = is_int; }
    int d = 1 + rng() % 128;
    int nch = (d + L - 1) / L;
    Want w{false, (uint32_t)(c & 0xff), is_int, 0, 0, 0};
    t.mac_is_int = is_int;
    for (int ch = 0; ch < nch; ++ch) {
      int n = std::min(L, d - ch * L);
      uint32_t en = 0;
      for (int k = 0; k < L; ++k) {
        uint32_t a, b;
        if (is_int) {
          int qmax = (c % 4 == 0) ? 127 : 7;
          int ia = (int)(rng() % (2 * qmax + 1)) - qmax, ib = (int)(rng() % (2 * qmax + 1)) - qmax;
          a = (uint32_t)ia; b = (uint32_t)ib;
          if (k < n) w.iref += (long long)ia * ib;
        } else {
          std::normal_distribution<float> nd(0.f, 1.f);
          float fa = nd(rng), fb = nd(rng);
          a = fbits(fa); b = fbits(fb);
          if (k < n) { w.fref += (double)fa * fb; w.fabs_sum += std::fabs((double)fa * fb); }
        }
        if (k < n) en |= 1u << k;
        t.mac_a[k] = a; t.mac_b[k] = b;
      }
      t.mac_lane_en = en; t.mac_in_valid = 1; t.mac_in_first = ch == 0; t.mac_in_last = ch == nch - 1;
      t.mac_in_end = 0; t.mac_in_tag = c & 0xff;
      if (ch == nch - 1) want.push_back(w);
      mac_tick();
    }
    if (c % 3 == 2) {  // a row-end marker passes through in order
      t.mac_in_valid = 1; t.mac_in_end = 1; t.mac_in_first = 0; t.mac_in_last = 0;
      t.mac_in_tag = 0xAA;
      want.push_back({true, 0xAA, is_int, 0, 0, 0});
      mac_tick();
      t.mac_in_end = 0;
    }
  }
  drain();
  tb.tick();
  if (t.mac_out_valid) ++marker_err;
  if (mac_results != cases) ++marker_err;

  // ---------------- softmax ----------------
  // Every row's scores and its end marker, streamed with random input gaps and random output
  // back-pressure (the unit is pipelined: results come out in order some cycles later).
  struct SmItem { bool end; float s; int tag; double pw, aw, l_want; };
  std::vector<SmItem> items;
  std::normal_distribution<float> sd(0.f, 4.f);
  const float scale = 0.125f;
  t.sm_score_scale = fbits(scale);
  for (int c = 0; c < cases / 4; ++c) {
    int n = rng() % 40;  // 0 keys: an empty row (l = 0)
    std::vector<float> s(n);
    for (auto &x : s) x = sd(rng) * (c % 3 == 0 ? 10.f : 1.f);
    double m = -INFINITY;
    for (int j = 0; j < n; ++j) {
      // the unit scales and subtracts in fp32 (as NumPy does); the exp is what is measured
      float sc = s[j] * scale;
      float mn = std::isinf(m) ? sc : std::max((float)m, sc);
      double pw = std::exp((double)(float)(sc - mn));
      double aw = std::isinf(m) ? 0.0 : std::exp((double)(float)((float)m - mn));
      items.push_back({false, s[j], j & 0xff, pw, aw, 0});
      m = mn;
    }
    double want = 0;
    if (n) { double mx = -INFINITY; for (float x : s) mx = std::max(mx, (double)(x * scale));
             for (float x : s) want += std::exp((double)(x * scale) - mx); }
    items.push_back({true, 0.f, n & 0xff, 0, 0, want});
  }
  double p_ulp = 0, a_ulp = 0, l_rel = 0;
  long rows = 0;
  size_t nin = 0, nout = 0;
  float l = 0;  // l = l * alpha + p from the unit's outputs, as the core's l lane computes it
  bool held = false; uint32_t held_p = 0, held_a = 0;
  for (long cyc = 0; nout < items.size() && cyc < 200L * (long)items.size(); ++cyc) {
    t.clk = 0;
    t.sm_in_valid = nin < items.size() && rng() % 4 != 0;
    if (t.sm_in_valid) {
      const SmItem &it = items[nin];
      t.sm_in_end = it.end; t.sm_in_dot = it.end ? 0 : fbits(it.s); t.sm_in_tag = it.tag;
    }
    t.sm_out_ready = rng() % 3 != 0;
    t.eval();
    if (held && (!t.sm_out_valid || t.sm_out_p != held_p || t.sm_out_alpha != held_a))
      ++marker_err;  // an output must hold while not taken
    held = false;
    if (t.sm_out_valid && t.sm_out_ready) {
      const SmItem &it = items[nout++];
      if (t.sm_out_end != it.end || t.sm_out_tag != (uint32_t)it.tag) ++marker_err;
      if (!it.end) {
        float p = bitsf(t.sm_out_p), a = bitsf(t.sm_out_alpha);
        p_ulp = std::max(p_ulp, ulp_err(p, it.pw));
        if (it.aw > 1e-37) a_ulp = std::max(a_ulp, ulp_err(a, it.aw));
        else if (it.aw == 0 && a != 0.f) ++marker_err;  // a row's first key: alpha = 0
        l = l * a + p;
      } else {
        l_rel = std::max(l_rel, it.l_want == 0 ? std::fabs(l) : std::fabs(l - it.l_want) / it.l_want);
        l = 0;
        ++rows;
      }
    } else if (t.sm_out_valid) {
      held = true; held_p = t.sm_out_p; held_a = t.sm_out_alpha;
    }
    if (t.sm_in_valid && t.sm_in_ready) ++nin;
    t.clk = 1; t.eval();
  }
  if (nout != items.size()) ++marker_err;
  std::printf("unit: mac_int_mismatch=%ld mac_fp_max_rel=%.3e marker_errors=%ld sm_p_max_ulp=%.3f "
              "sm_alpha_max_ulp=%.3f sm_l_max_rel=%.3e sm_out_rows=%ld\n",
              int_mismatch, fp_max_rel, marker_err, p_ulp, a_ulp, l_rel, rows);
  bool ok = int_mismatch == 0 && marker_err == 0 && fp_max_rel <= 1e-6 && p_ulp <= 2.0 &&
            a_ulp <= 2.0 && l_rel <= 1e-5;
  t.final();
  return ok ? 0 : 1;
}
