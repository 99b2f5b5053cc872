// Verilator testbench of rocc_sattn: a RoCC "core" issuing custom instructions, and a memory
// model with configurable latency (cycles from request to first beat) and bandwidth (bytes per
// cycle, shared by reads and writes).
//
//   Vrocc_sattn --desc S.desc --idx S.txt --q Q.bin --k K.bin --v V.bin --out OUT.bin
//               [--lat N] [--bw B] [--max-cycles N]
//   Vrocc_sattn --probe
//
// Q.bin is [H, S, D], K.bin/V.bin are [G, NUM_KEYS, D], in the precision's element format
// (fp32 / bf16 little-endian, int8 codes, or int4 codes two per byte, low nibble first).
// OUT.bin receives [H, S, D] float32. Everything printed as a counter is read from the RTL's
// counter registers; the memory model's own byte counts are printed for cross-checking.
#include "Vrocc_sattn.h"
#include "verilated.h"
#include "sattn_isa.h"

#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace sattn_isa;

namespace {

[[noreturn]] void fail(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fprintf(stderr, "verilator_tb: error: ");
  std::vfprintf(stderr, fmt, ap);
  std::fprintf(stderr, "\n");
  va_end(ap);
  std::exit(code);
}

struct Args {
  std::string desc, idx, q, k, v, out;
  int lat = 20;
  double bw = 16.0;
  uint64_t max_cycles = 2000000000ull;
  bool probe = false;
};

Args parse_args(int argc, char **argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) fail(2, "option %s needs a value", s.c_str());
      return argv[++i];
    };
    if (s == "--desc") a.desc = next();
    else if (s == "--idx") a.idx = next();
    else if (s == "--q") a.q = next();
    else if (s == "--k") a.k = next();
    else if (s == "--v") a.v = next();
    else if (s == "--out") a.out = next();
    else if (s == "--lat") a.lat = std::atoi(next().c_str());
    else if (s == "--bw") a.bw = std::atof(next().c_str());
    else if (s == "--max-cycles") a.max_cycles = std::strtoull(next().c_str(), nullptr, 10);
    else if (s == "--probe") a.probe = true;
    else if (s.rfind("+verilator", 0) == 0) {}
    else fail(2, "unknown option '%s'", s.c_str());
  }
  if (a.lat < 1) fail(2, "--lat must be >= 1, got %d", a.lat);
  if (!(a.bw > 0)) fail(2, "--bw must be > 0 bytes/cycle, got %g", a.bw);
  if (!a.probe && (a.desc.empty() || a.idx.empty() || a.q.empty() || a.k.empty() ||
                   a.v.empty() || a.out.empty()))
    fail(2, "need --desc, --idx, --q, --k, --v and --out (or --probe)");
  return a;
}

std::vector<uint8_t> read_file(const std::string &path, const char *what) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(2, "cannot open %s file '%s'", what, path.c_str());
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

struct Desc {
  std::map<std::string, std::string> kv;
  std::string path;
  bool has(const std::string &k) const { return kv.count(k) != 0; }
  std::string str(const std::string &k, const char *dflt = nullptr) const {
    auto it = kv.find(k);
    if (it == kv.end()) {
      if (dflt) return dflt;
      fail(2, "%s: missing key '%s'", path.c_str(), k.c_str());
    }
    return it->second;
  }
  long long integer(const std::string &k, const char *dflt = nullptr) const {
    std::string s = str(k, dflt);
    char *end = nullptr;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || *end) fail(2, "%s: key '%s' is not an integer: '%s'", path.c_str(), k.c_str(), s.c_str());
    return v;
  }
  double real(const std::string &k, const char *dflt = nullptr) const {
    std::string s = str(k, dflt);
    char *end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end) fail(2, "%s: key '%s' is not a number: '%s'", path.c_str(), k.c_str(), s.c_str());
    return v;
  }
};

Desc read_desc(const std::string &path) {
  Desc d;
  d.path = path;
  std::ifstream f(path);
  if (!f) fail(2, "cannot open descriptor '%s'", path.c_str());
  std::string line;
  int n = 0;
  while (std::getline(f, line)) {
    ++n;
    if (line.empty() || line[0] == '#') continue;
    auto eq = line.find('=');
    if (eq == std::string::npos) fail(2, "%s:%d: expected key=value, got '%s'", path.c_str(), n, line.c_str());
    d.kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return d;
}

// ---------------------------------------------------------------- the simulated system
struct ReadReq {
  uint64_t addr;
  uint32_t len;
  uint64_t ready_at;
  uint32_t sent = 0;
};

struct System {
  Vrocc_sattn *top;
  std::vector<uint8_t> mem;
  std::deque<ReadReq> reads;
  uint64_t now = 0;
  int lat;
  double bw, credit = 0;
  uint64_t max_cycles;
  uint64_t served_read = 0, received_write = 0;
  static constexpr size_t MAXQ = 256;
  static constexpr uint32_t BEAT = BUS_BYTES;

  System(int lat_, double bw_, uint64_t maxc) : lat(lat_), bw(bw_), max_cycles(maxc) {
    top = new Vrocc_sattn;
    top->clk = 0;
    top->rst_n = 0;
    top->cmd_valid = 0;
    top->resp_ready = 1;
    for (int i = 0; i < 4; ++i) cycle();
    top->rst_n = 1;
  }
  ~System() { top->final(); delete top; }

  void check_range(uint64_t addr, uint64_t len, const char *what) {
    if (addr + len > mem.size() || addr + len < addr)
      fail(4, "the accelerator %s memory out of range: [0x%" PRIx64 ", +%" PRIu64 ") (memory is %zu bytes)",
           what, addr, len, mem.size());
  }

  void cycle() {
    // memory model drives this cycle's inputs
    credit = std::min(credit + bw, bw + BEAT);
    bool beat = false;
    uint32_t beat_bytes = 0;
    if (!reads.empty() && reads.front().ready_at <= now) {
      ReadReq &r = reads.front();
      beat_bytes = std::min<uint32_t>(BEAT, r.len - r.sent);
      if (credit >= beat_bytes) beat = true;
    }
    top->mem_rd_resp_valid = beat;
    uint32_t words[BEAT / 4] = {0};
    if (beat) {
      ReadReq &r = reads.front();
      check_range(r.addr + r.sent, beat_bytes, "read");
      std::memcpy(words, &mem[r.addr + r.sent], beat_bytes);
    }
    for (uint32_t w = 0; w < BEAT / 4; ++w) top->mem_rd_resp_data[w] = words[w];
    top->mem_rd_req_ready = reads.size() < MAXQ;
    top->mem_wr_ready = credit > 0;
    top->clk = 0;
    top->eval();
    // handshakes of this cycle
    bool rd_req = top->mem_rd_req_valid && top->mem_rd_req_ready;
    uint64_t rq_addr = top->mem_rd_req_addr;
    uint32_t rq_len = top->mem_rd_req_len;
    bool wr = top->mem_wr_valid && top->mem_wr_ready;
    uint64_t wr_addr = top->mem_wr_addr;
    uint32_t wr_strb = top->mem_wr_strb;
    uint32_t wr_words[BEAT / 4];
    for (uint32_t w = 0; w < BEAT / 4; ++w) wr_words[w] = top->mem_wr_data[w];
    top->clk = 1;
    top->eval();
    // model state after the edge
    if (beat) {
      ReadReq &r = reads.front();
      r.sent += beat_bytes;
      credit -= beat_bytes;
      served_read += beat_bytes;
      if (r.sent >= r.len) reads.pop_front();
    }
    if (rd_req) {
      if (rq_len == 0) fail(4, "the accelerator issued a zero-length read");
      check_range(rq_addr, rq_len, "read");
      reads.push_back({rq_addr, rq_len, now + (uint64_t)lat});
    }
    if (wr) {
      const uint8_t *bytes = reinterpret_cast<const uint8_t *>(wr_words);
      uint32_t n = 0;
      for (uint32_t b = 0; b < BEAT; ++b) {
        if (wr_strb >> b & 1) {
          check_range(wr_addr + b, 1, "write");
          mem[wr_addr + b] = bytes[b];
          ++n;
        }
      }
      received_write += n;
      credit -= n;
    }
    ++now;
    if (now > max_cycles) fail(5, "simulation exceeded --max-cycles=%" PRIu64 " (hang?)", max_cycles);
  }

  // one RoCC instruction; returns rd for xd instructions
  uint64_t rocc(uint32_t funct, uint64_t rs1, uint64_t rs2, bool xd) {
    top->cmd_valid = 1;
    top->cmd_funct = funct;
    top->cmd_rs1 = rs1;
    top->cmd_rs2 = rs2;
    top->cmd_xd = xd;
    top->cmd_rd = xd ? 10 : 0;
    for (;;) {
      top->clk = 0;
      top->eval();
      bool fire = top->cmd_ready;
      cycle();
      if (fire) break;
    }
    top->cmd_valid = 0;
    if (!xd) return 0;
    for (;;) {
      top->clk = 0;
      top->eval();
      if (top->resp_valid) {
        uint64_t v = top->resp_data;
        cycle();
        return v;
      }
      cycle();
    }
  }
  void set(uint32_t reg, uint64_t v) { rocc(F_SET_REG, reg, v, false); }
  uint64_t get(uint32_t reg) { return rocc(F_GET_REG, reg, 0, true); }
};

int precision_code(const std::string &p) {
  if (p == "fp32") return P_FP32;
  if (p == "bf16") return P_BF16;
  if (p == "i8") return P_I8;
  if (p == "i4") return P_I4;
  return 7;  // not a precision this hardware knows: it refuses the job (ERR_PRECISION)
}

uint32_t float_bits(double x) {
  float f = (float)x;
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

uint32_t bits_from_desc(const Desc &d, const std::string &key, double fallback) {
  if (d.has(key)) {
    std::string s = d.str(key);
    return (uint32_t)std::strtoul(s.c_str(), nullptr, 0);
  }
  return float_bits(fallback);
}

void print_hw(System &sys) {
  uint64_t ver = sys.get(R_VERSION), caps = sys.get(R_CAPS);
  auto b = [&](uint32_t m) { return (caps & m) ? 1 : 0; };
  std::printf("rocc_hw: ver=0x%04" PRIx64 " caps=0x%04" PRIx64 " [bsr=%d sw=%d gqa=%d comp=%d] "
              "fp32=%d bf16=%d i8=%d i4=%d host_select=%d landmark=%d causal=%d lanes=%" PRIu64
              " dmax=%" PRIu64 " kv_rows=%" PRIu64 " run_depth=%" PRIu64 " rowptr_depth=%" PRIu64 "\n",
              ver, caps, b(CAP_BSR), b(CAP_SW), b(CAP_GQA), b(CAP_COMP), b(CAP_FP32), b(CAP_BF16),
              b(CAP_I8), b(CAP_I4), b(CAP_HOST_SELECT), b(CAP_LANDMARK), b(CAP_CAUSAL),
              sys.get(R_LANES), sys.get(R_DMAX), sys.get(R_KV_ROWS), sys.get(R_RUN_DEPTH),
              sys.get(R_ROWPTR_DEPTH));
}

}  // namespace

int main(int argc, char **argv) {
  Verilated::commandArgs(argc, argv);
  Args args = parse_args(argc, argv);
  System sys(args.lat, args.bw, args.max_cycles);

  if (args.probe) {
    print_hw(sys);
    return 0;
  }

  Desc d = read_desc(args.desc);
  const std::string spec = d.str("spec", "unknown");
  const std::string prec = d.str("precision", "fp32");
  const long long D = d.integer("head_dim_d"), S = d.integer("s_tokens");
  const long long H = d.integer("num_heads"), G = d.integer("kv_heads");
  const long long group = d.integer("gqa_group_size", "1");
  const long long nkeys = d.integer("num_keys", std::to_string(S).c_str());
  const long long nnz = d.integer("index_nnz");
  if (D <= 0 || S <= 0 || H <= 0 || G <= 0 || nkeys <= 0)
    fail(2, "%s: head_dim_d, s_tokens, num_heads, kv_heads and num_keys must be > 0", args.desc.c_str());
  if (H != G * group)
    fail(2, "%s: num_heads=%lld is not kv_heads=%lld x gqa_group_size=%lld", args.desc.c_str(), H, G, group);
  const int pcode = precision_code(prec);
  // an unknown precision is sized as bytes here; the hardware refuses it at START
  const int bits = pcode == P_FP32 ? 32 : pcode == P_BF16 ? 16 : pcode == P_I4 ? 4 : 8;
  const long long row_bytes = (D * bits + 7) / 8;

  // row pointers (token CSR over g*S + r) and the index list
  std::vector<long long> row_ptr;
  {
    std::stringstream ss(d.str("row_ptr"));
    std::string tok;
    while (std::getline(ss, tok, ',')) row_ptr.push_back(std::strtoll(tok.c_str(), nullptr, 10));
  }
  if ((long long)row_ptr.size() != G * S + 1)
    fail(2, "%s: row_ptr has %zu entries, expected kv_heads*s_tokens+1 = %lld", args.desc.c_str(),
         row_ptr.size(), G * S + 1);
  std::vector<long long> idx;
  {
    std::ifstream f(args.idx);
    if (!f) fail(2, "cannot open index file '%s'", args.idx.c_str());
    std::string line;
    while (std::getline(f, line)) {
      if (line.empty()) continue;
      char *end = nullptr;
      long long v = std::strtoll(line.c_str(), &end, 10);
      if (*end) fail(2, "%s:%zu: not an integer: '%s'", args.idx.c_str(), idx.size() + 1, line.c_str());
      idx.push_back(v);
    }
  }
  if ((long long)idx.size() != nnz)
    fail(2, "%s has %zu indices but %s says index_nnz=%lld", args.idx.c_str(), idx.size(), args.desc.c_str(), nnz);
  for (size_t i = 1; i < row_ptr.size(); ++i)
    if (row_ptr[i] < row_ptr[i - 1] || row_ptr[i] > nnz || row_ptr[0] != 0)
      fail(2, "%s: row_ptr is not ascending within [0, index_nnz]", args.desc.c_str());

  // memory image: Q, K, V, OUT at 4 KiB-aligned bases
  std::vector<uint8_t> qb = read_file(args.q, "Q"), kb = read_file(args.k, "K"), vb = read_file(args.v, "V");
  const long long q_bytes = H * S * row_bytes, kv_bytes = G * nkeys * row_bytes, o_bytes = H * S * D * 4;
  if ((long long)qb.size() != q_bytes) fail(2, "Q file '%s' has %zu bytes, expected %lld", args.q.c_str(), qb.size(), q_bytes);
  if ((long long)kb.size() != kv_bytes) fail(2, "K file '%s' has %zu bytes, expected %lld", args.k.c_str(), kb.size(), kv_bytes);
  if ((long long)vb.size() != kv_bytes) fail(2, "V file '%s' has %zu bytes, expected %lld", args.v.c_str(), vb.size(), kv_bytes);
  auto align = [](uint64_t x) { return (x + 4095) & ~uint64_t(4095); };
  const uint64_t q_base = 0x1000, k_base = align(q_base + q_bytes), v_base = align(k_base + kv_bytes);
  const uint64_t o_base = align(v_base + kv_bytes);
  sys.mem.assign(o_base + o_bytes + 64, 0);
  std::memcpy(&sys.mem[q_base], qb.data(), qb.size());
  std::memcpy(&sys.mem[k_base], kb.data(), kb.size());
  std::memcpy(&sys.mem[v_base], vb.data(), vb.size());

  // identification and the static descriptor
  sys.rocc(F_CLEAR_COUNTERS, 0, 0, false);
  const uint64_t caps = sys.get(R_CAPS);
  const uint64_t run_depth = sys.get(R_RUN_DEPTH), rp_depth = sys.get(R_ROWPTR_DEPTH);
  const double inv_sqrt_d = 1.0 / std::sqrt((double)D);
  const bool is_int = pcode == P_I8 || pcode == P_I4;
  const double sq = d.real("scale_q", "1"), sk = d.real("scale_k", "1"), sv = d.real("scale_v", "1");
  sys.rocc(F_IDX_RESET, 0, 0, false);
  sys.set(R_PRECISION, pcode);
  sys.set(R_HEAD_DIM, D);
  sys.set(R_SEQ_LEN, S);
  sys.set(R_NUM_KEYS, nkeys);
  sys.set(R_GROUP, group);
  sys.set(R_Q_HSTRIDE, S * row_bytes);
  sys.set(R_O_HSTRIDE, S * D * 4);
  sys.set(R_SCORE_SCALE, bits_from_desc(d, "hw_score_scale_bits", is_int ? sq * sk * inv_sqrt_d : inv_sqrt_d));
  sys.set(R_OUT_SCALE, bits_from_desc(d, "hw_out_scale_bits", is_int ? sv : 1.0));

  long long jobs = 0;
  for (long long g = 0; g < G; ++g) {
    // runs of consecutive keys per row; rows split into jobs that fit the index RAMs
    std::vector<std::vector<uint32_t>> runs(S);
    for (long long r = 0; r < S; ++r) {
      long long a = row_ptr[g * S + r], b = row_ptr[g * S + r + 1];
      for (long long i = a; i < b;) {
        long long st = idx[i];
        if (st < 0 || st > 0xffff)
          fail(2, "%s:%lld: index %lld does not fit the 16-bit index-run format", args.idx.c_str(), i + 1, st);
        long long n = 1;
        while (i + n < b && idx[i + n] == st + n && n < 0xffff) ++n;
        runs[r].push_back((uint32_t)st | (uint32_t)n << 16);
        i += n;
      }
    }
    long long r0 = 0;
    bool first = true;
    while (r0 < S) {
      long long r1 = r0, nruns = 0;
      while (r1 < S && (r1 - r0 + 2) <= (long long)rp_depth - 3 &&
             nruns + (long long)runs[r1].size() <= (long long)run_depth - 3) {
        nruns += runs[r1].size();
        ++r1;
      }
      if (r1 == r0) fail(2, "row %lld of kv head %lld has %zu index runs: more than the run RAM holds (%" PRIu64 ")",
                         r0, g, runs[r0].size(), run_depth);
      std::vector<uint32_t> flat, ptr{0};
      for (long long r = r0; r < r1; ++r) {
        flat.insert(flat.end(), runs[r].begin(), runs[r].end());
        ptr.push_back((uint32_t)flat.size());
      }
      sys.rocc(F_IDX_RESET, 0, 0, false);
      auto load4 = [&](uint32_t funct, const std::vector<uint32_t> &v) {
        for (size_t i = 0; i < v.size(); i += 4) {
          uint32_t e[4] = {0, 0, 0, 0};
          for (size_t k = 0; k < 4 && i + k < v.size(); ++k) e[k] = v[i + k];
          sys.rocc(funct, (uint64_t)e[1] << 32 | e[0], (uint64_t)e[3] << 32 | e[2], false);
        }
      };
      load4(F_LOAD_RUNS, flat);
      load4(F_LOAD_ROWPTR, ptr);
      sys.set(R_ROW_BASE, r0);
      sys.set(R_ROW_COUNT, r1 - r0);
      sys.set(R_N_RUNS, flat.size());
      sys.set(R_Q_BASE, q_base + (uint64_t)(g * group) * S * row_bytes);
      sys.set(R_K_BASE, k_base + (uint64_t)g * nkeys * row_bytes);
      sys.set(R_V_BASE, v_base + (uint64_t)g * nkeys * row_bytes);
      sys.set(R_O_BASE, o_base + (uint64_t)(g * group) * S * D * 4);
      sys.rocc(F_START, first ? 1 : 0, 0, false);
      while (sys.top->busy) sys.cycle();
      uint64_t status = sys.rocc(F_STATUS, 0, 0, true);
      uint32_t err = (status >> 8) & 0xff;
      if (err != E_NONE)
        fail(3, "hardware refused the job (kv head %lld, rows %lld..%lld): error %s: %s [status=0x%04" PRIx64 "]",
             g, r0, r1 - 1, error_name(err), error_doc(err), status);
      ++jobs;
      first = false;
      r0 = r1;
    }
  }

  // counters (read from the RTL), then the output tensor
  uint64_t total = sys.get(R_CYC_TOTAL);
  const uint64_t busy = sys.get(R_CYC_BUSY), mac = sys.get(R_CYC_MAC), lanes_c = sys.get(R_LANE_CYCLES);
  const uint64_t gather = sys.get(R_CYC_GATHER), gather_act = sys.get(R_CYC_GATHER_ACTIVE);
  const uint64_t dq = sys.get(R_DMA_Q), dk = sys.get(R_DMA_K), dout = sys.get(R_DMA_OUT);
  const uint64_t pairs = sys.get(R_PAIRS), rows = sys.get(R_ROWS_DONE), stall = sys.get(R_CYC_STALL_KV);
  const uint64_t reqs = sys.get(R_DMA_REQS), lanes = sys.get(R_LANES);
  {
    std::ofstream f(args.out, std::ios::binary);
    if (!f) fail(2, "cannot write output file '%s'", args.out.c_str());
    f.write(reinterpret_cast<const char *>(&sys.mem[o_base]), o_bytes);
    if (!f) fail(2, "cannot write output file '%s'", args.out.c_str());
  }
  const double ideal = (double)pairs * D * 2.0 / lanes;
  // existing scripts read the integer after "completed in": it is the RTL's total_cycles
  std::printf("verilator_tb: completed in %" PRIu64 " cycles spec=%s precision=%s heads=%lld "
              "kv_heads=%lld S=%lld D=%lld num_keys=%lld jobs=%lld total_cycles=%" PRIu64
              " mem_read_bytes=%" PRIu64 " mem_write_bytes=%" PRIu64 " lat=%d bw=%g\n",
              total, spec.c_str(), prec.c_str(), H, G, S, D, nkeys, jobs, total, sys.served_read,
              sys.received_write, args.lat, args.bw);
  std::printf("rocc_counters(rtl): gather_cycles=%" PRIu64 " mac_cycles=%" PRIu64 " dma_bytes=%" PRIu64
              " dma_q=%" PRIu64 " dma_k=%" PRIu64 " dma_out=%" PRIu64 " total_cycles=%" PRIu64
              " busy_cycles=%" PRIu64 " lane_cycles=%" PRIu64 " pairs=%" PRIu64 " rows=%" PRIu64
              " stall_kv_cycles=%" PRIu64 " gather_active_cycles=%" PRIu64 " dma_reqs=%" PRIu64 "\n",
              gather, mac, dq + dk, dq, dk, dout, total, busy, lanes_c, pairs, rows, stall, gather_act, reqs);
  std::printf("spec_info: global_tokens=%lld gqa_group_size=%lld comp_block_size=%lld nm=(%lld,%lld) "
              "lsh_buckets=%lld keep_ratio=%g\n",
              d.integer("global_tokens", "0"), group, d.integer("comp_block_size", "0"),
              d.integer("nm_n", "0"), d.integer("nm_m", "0"), d.integer("lsh_buckets", "0"),
              d.real("keep_ratio", "0"));
  print_hw(sys);
  (void)caps;
  std::printf("rocc_util: util_mac=%.4f util_gather=%.4f lanes=%" PRIu64 " ideal_mac_cycles=%.0f "
              "ideal_ratio=%.4f\n",
              total ? (double)lanes_c / ((double)lanes * total) : 0.0,
              total ? (double)gather_act / total : 0.0, lanes, ideal, ideal > 0 ? total / ideal : 0.0);
  return 0;
}
