// make bench (tools/bench.sh): resdyn's speed on this machine, each figure beside a
// reference measured in the same run.
//   1. GEMM GFLOP/s on the training shapes of the paper's net, in float32 and in bfloat16
//      (section 2 of the header), against OpenBLAS's cblas_sgemm on the same threads (loaded
//      at run time if installed: the product never links it), or against a plain loop when
//      OpenBLAS is missing.
//   2. Training and inference samples/s of the paper's nets, in float32 and in bfloat16,
//      against PyTorch in float32 and under torch.autocast to bfloat16 (figures from
//      tools/bench_torch.py, passed in with --reference FILE), same threads and batches.
//   3. Inference of the same nets quantized to int8 (sections 4 and 9 of the header) against our
//      own float inference at its fastest batch (1000), same threads, same images.
// Synthetic data of MNIST's shape: speed does not depend on pixel values.
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "resdyn.h"

using namespace resdyn;

namespace {

double seconds_of(const std::function<void()>& fn, int reps) {
  std::vector<double> times;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];  // the median resists a noisy neighbour
}

// Runs fn for at least a quarter of a second, so that clocks and threads are up to speed.
void warm_up(const std::function<void()>& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  do fn();
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 0.25);
}

void settle() { std::this_thread::sleep_for(std::chrono::milliseconds(300)); }

// OpenBLAS, if installed, through its C interface (CBLAS enums: row-major 101, N 111, T 112).
struct OpenBlas {
  using Sgemm = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
  Sgemm sgemm = nullptr;
  void (*set_threads)(int) = nullptr;
  char* (*corename)() = nullptr;  // the kernels it chose (OPENBLAS_CORETYPE, or its own detection)
  OpenBlas() {
    void* lib = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!lib) return;
    sgemm = reinterpret_cast<Sgemm>(dlsym(lib, "cblas_sgemm"));
    set_threads = reinterpret_cast<void (*)(int)>(dlsym(lib, "openblas_set_num_threads"));
    corename = reinterpret_cast<char* (*)()>(dlsym(lib, "openblas_get_corename"));
  }
  const char* core() const { return corename ? corename() : "unknown"; }
};

// --openblas-probe: prints OpenBLAS's core name and its GFLOP/s on the forward shape
// (128 x 1064 by 1064 x 1064, all threads), so tools/bench.sh can run the references on the
// fastest kernels this OpenBLAS has for this CPU (its own detection may not know the CPU).
int probe_openblas(int threads, const OpenBlas& blas) {
  if (!blas.sgemm) return 1;
  if (blas.set_threads) blas.set_threads(threads);
  const int M = 128, N = 1064, K = 1064, reps = 10;
  Rng rng(1);
  std::vector<float> A(size_t(M) * K), B(size_t(N) * K), C(size_t(M) * N);
  for (auto& v : A) v = float(rng.uniform(-1, 1));
  for (auto& v : B) v = float(rng.uniform(-1, 1));
  auto run = [&] {
    for (int r = 0; r < reps; ++r)
      blas.sgemm(101, 111, 112, M, N, K, 1.0f, A.data(), K, B.data(), K, 0.0f, C.data(), N);
  };
  warm_up(run);
  std::printf("%s %.1f\n", blas.core(), 2.0 * M * N * K * reps / seconds_of(run, 5) / 1e9);
  return 0;
}

// Without OpenBLAS: C = A B^T by a plain loop over i, j with a dot product over k.
void plain_nt(int M, int N, int K, const float* A, const float* B, float* C) {
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float s = 0;
      for (int k = 0; k < K; ++k) s += A[size_t(i) * K + k] * B[size_t(j) * K + k];
      C[size_t(i) * N + j] = s;
    }
}

void bench_gemm(int threads, const OpenBlas& blas) {
  struct Shape {
    const char* what;
    Op a, b;
    int M, N, K;
    int lda = 0;  // 0: op(A)'s own width; else A is a slice of a wider matrix
  };
  const Shape shapes[] = {
      {"forward  B=64   x W^T 1064", Op::N, Op::T, 64, 1064, 1064},
      {"forward  B=128  x W^T 1064", Op::N, Op::T, 128, 1064, 1064},
      {"forward  B=256  x W^T 1064", Op::N, Op::T, 256, 1064, 1064},
      {"stem     B=128  U P^T 784->1064", Op::N, Op::T, 128, 1064, 784},
      {"backward B=128  gz W", Op::N, Op::N, 128, 1064, 1064},
      {"gradW    K=128  gz^T x", Op::T, Op::N, 1064, 1064, 128},
      {"gradW    K=1920 gz^T x (shared)", Op::T, Op::N, 1064, 1064, 1920},
      // What the trainer runs for the shared W: the same product in bands of 2^18 weights
      // (246 rows of W; their gz^T a slice of the 1920 x 1064 stack), each Adam-updated at once.
      {"gradW    band of 246 rows, K=1920", Op::T, Op::N, 246, 1064, 1920, 1064},
  };
  const std::string ref_name = blas.sgemm ? std::string("OpenBLAS, ") + blas.core() + " kernels" : "plain loop";
  std::printf("\nGEMM, %d thread%s, GFLOP/s (reference: %s%s)\n", threads, threads > 1 ? "s" : "", ref_name.c_str(),
              blas.sgemm ? ", same threads" : ", 1 thread, A B^T");
  std::printf("  %-34s %10s %10s %10s %8s %8s\n", "shape", "resdyn", "bf16", "reference", "ratio", "bf16");
  if (blas.set_threads) blas.set_threads(threads);
  Rng rng(1);
  for (const Shape& s : shapes) {
    const int lda = s.lda ? s.lda : s.a == Op::N ? s.K : s.M, ldb = s.b == Op::N ? s.N : s.K;
    std::vector<float> A(size_t(s.a == Op::N ? s.M : s.K) * lda), B(size_t(s.K) * s.N), C(size_t(s.M) * s.N);
    for (auto& v : A) v = float(rng.uniform(-1, 1));
    for (auto& v : B) v = float(rng.uniform(-1, 1));
    const double flops = 2.0 * s.M * s.N * s.K;
    const int reps = 15;
    auto ours = [&] {
      for (int r = 0; r < reps; ++r)
        gemm(s.a, s.b, s.M, s.N, s.K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C.data(), s.N, threads);
    };
    auto ours_bf16 = [&] {
      for (int r = 0; r < reps; ++r)
        gemm(s.a, s.b, s.M, s.N, s.K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C.data(), s.N, threads, {},
             Precision::bf16);
    };
    auto theirs = [&] {
      if (blas.sgemm) {
        for (int r = 0; r < reps; ++r)
          blas.sgemm(101, s.a == Op::N ? 111 : 112, s.b == Op::N ? 111 : 112, s.M, s.N, s.K, 1.0f, A.data(), lda,
                     B.data(), ldb, 0.0f, C.data(), s.N);
      } else {
        plain_nt(s.M, s.N, s.K, A.data(), B.data(), C.data());
      }
    };
    // Each side warms up (clocks, caches, threads) right before it is timed, after a
    // pause: OpenBLAS's threads keep spinning for a while after a call and would
    // otherwise take a core from whatever runs next.
    settle();
    warm_up(ours);
    const double t_ours = seconds_of(ours, 5) / reps;
    settle();
    warm_up(ours_bf16);
    const double t_bf16 = seconds_of(ours_bf16, 5) / reps;
    settle();
    if (blas.sgemm) warm_up(theirs);
    const double t_ref = seconds_of(theirs, blas.sgemm ? 5 : 1) / (blas.sgemm ? reps : 1);
    std::printf("  %-34s %10.1f %10.1f %10.1f %7.2fx %7.2fx\n", s.what, flops / t_ours / 1e9, flops / t_bf16 / 1e9,
                flops / t_ref / 1e9, t_ref / t_ours, t_ref / t_bf16);
  }
}

Dataset synthetic_mnist(int count) {
  Dataset data;
  data.count = count;
  data.rows = 28;
  data.cols = 28;
  Rng rng(2);
  data.images.resize(size_t(count) * 784);
  data.labels.resize(size_t(count));
  for (auto& p : data.images) p = uint8_t(rng.below(256));
  for (auto& l : data.labels) l = uint8_t(rng.below(10));
  return data;
}

struct Speed {
  double train = 0, infer_1000 = 0, infer_1 = 0;
};

Speed bench_net(Config cfg, int threads, Precision precision) {
  settle();
  Speed sp;
  const int batch = 128;
  const Dataset data = synthetic_mnist(batch * 8);
  Net<float> net(cfg);
  Rng rng(3);
  initialise(net, rng);
  TrainOptions opt;
  opt.batch = batch;
  opt.threads = threads;
  opt.epochs = 1000;
  opt.precision = precision;
  Trainer<float> trainer(net, data, opt);
  trainer.train_epoch();  // warm up: memory, thread pool
  sp.train = data.count / seconds_of([&] { trainer.train_epoch(); }, 3);
  const PackedNet<float> packed(net, threads, precision);  // inference's weights, packed once as resdyn eval does
  // Four batches per timing, as tools/bench_torch.py times four passes of its batch of 1000.
  const Dataset big = synthetic_mnist(4000);
  evaluate(net, big, threads, 0, 1000, &packed);
  sp.infer_1000 = big.count / seconds_of([&] { evaluate(net, big, threads, 0, 1000, &packed); }, 3);
  const Dataset few = synthetic_mnist(200);
  sp.infer_1 = few.count / seconds_of([&] { evaluate(net, few, threads, 0, 1, &packed); }, 3);
  return sp;
}

// Images/s of the integer path and of float inference (batch 1000) on 2000 images. The weights
// are random and small, not the initialisation (whose zero blocks quantize to empty rows).
std::pair<double, double> bench_integer(const Config& cfg, int threads) {
  settle();
  Net<float> net(cfg);
  Rng rng(4);
  for (float& p : net.params) p = float(rng.uniform(-0.05, 0.05));
  const QuantizedModel q = quantize(net);
  const QuantRunner runner(q.view());
  const Dataset big = synthetic_mnist(2000);
  std::vector<int32_t> logits(size_t(big.count) * cfg.classes);
  const auto integer = [&] { runner.run(big.images.data(), big.count, 0, threads, logits.data()); };
  const PackedNet<float> packed(net);
  const auto real = [&] { evaluate(net, big, threads, 0, 1000, &packed); };
  warm_up(integer);
  const double ints = big.count / seconds_of(integer, 3);
  settle();
  warm_up(real);
  return {ints, big.count / seconds_of(real, 3)};
}

std::map<std::string, double> read_reference(const char* path) {
  std::map<std::string, double> ref;
  std::ifstream in(path);
  std::string name;
  double value;
  while (in >> name >> value) ref[name] = value;
  return ref;
}

void print_row(const char* what, double ours, const std::map<std::string, double>& ref, const std::string& key) {
  const auto it = ref.find(key);
  if (it == ref.end())
    std::printf("  %-40s %10.0f %10s %8s\n", what, ours, "-", "-");
  else
    std::printf("  %-40s %10.0f %10.0f %7.2fx\n", what, ours, it->second, ours / it->second);
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, double> ref;
  std::string only;        // --only gemm|nets|integer: one part of the benchmark
  bool fp32_only = false;  // --fp32-only: the nets in float32 only (the shared-machine rounds)
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--fp32-only") == 0) fp32_only = true;
    if (i + 1 == argc) break;
    if (std::strcmp(argv[i], "--reference") == 0) ref = read_reference(argv[i + 1]);
    if (std::strcmp(argv[i], "--only") == 0) only = argv[i + 1];
  }
  if (argc == 2 && std::strcmp(argv[1], "--openblas-probe") == 0)
    return probe_openblas(int(std::max(1u, std::thread::hardware_concurrency())), OpenBlas());
  if (!only.empty() && only != "gemm" && only != "nets" && only != "integer") {
    std::fprintf(stderr, "resdyn_bench: --only takes gemm, nets or integer, not '%s'\n", only.c_str());
    return 2;
  }
  const int hw = int(std::max(1u, std::thread::hardware_concurrency()));
  std::printf("resdyn bench (%d hardware threads)\n", hw);
  const OpenBlas blas;
  if (!blas.sgemm) std::printf("OpenBLAS not found (libopenblas-dev): GEMM compared with a plain loop\n");
  if (only.empty() || only == "gemm") {
    bench_gemm(1, blas);
    if (hw > 1) bench_gemm(hw, blas);
  }

  Config shared;  // the paper's nets: 15 x 1064 (paper §6)
  shared.width = 1064;
  shared.depth = 15;
  Config per_layer = shared;
  per_layer.weights = Weights::PerLayer;
  const std::pair<Config, std::string> nets[] = {{shared, "shared"}, {per_layer, "per_layer"}};
  if (only.empty() || only == "nets") {
    std::printf("\npaper nets, %d threads, samples/s (reference: PyTorch%s)\n", hw, ref.empty() ? ", not found" : "");
    std::printf("  %-40s %10s %10s %8s\n", "what", "resdyn", "reference", "ratio");
    for (const auto& [cfg, name] : nets) {
      const Speed sp = bench_net(cfg, hw, Precision::fp32);
      print_row((name + ": train, Adam, batch 128").c_str(), sp.train, ref, "torch_train_" + name + "_b128");
      print_row((name + ": inference, batch 1000").c_str(), sp.infer_1000, ref, "torch_infer_" + name + "_b1000");
      print_row((name + ": inference, batch 1").c_str(), sp.infer_1, ref, "torch_infer_" + name + "_b1");
      if (fp32_only) continue;
      // bfloat16 products (ours: AMX where the CPU has it) against PyTorch in float32, and
      // against PyTorch's own bfloat16 (autocast), where it ran.
      const Speed bf = bench_net(cfg, hw, Precision::bf16);
      print_row((name + ": train bf16 vs float32").c_str(), bf.train, ref, "torch_train_" + name + "_b128");
      print_row((name + ": train bf16 vs autocast bf16").c_str(), bf.train, ref,
                "torch_train_" + name + "_b128_autocast");
      print_row((name + ": inference bf16, 1000 vs float32").c_str(), bf.infer_1000, ref,
                "torch_infer_" + name + "_b1000");
      print_row((name + ": inference bf16, 1000 vs autocast").c_str(), bf.infer_1000, ref,
                "torch_infer_" + name + "_b1000_autocast");
    }
  }
  if (only.empty() || only == "integer") {
    std::printf("\ninteger inference (%s kernel), %d threads, images/s (reference: our float, batch 1000)\n",
                fixed::kIntKernel, hw);
    std::printf("  %-40s %10s %10s %8s\n", "what", "integer", "float", "ratio");
    for (const auto& [cfg, name] : nets) {
      const auto [ints, real] = bench_integer(cfg, hw);
      std::printf("  %-40s %10.0f %10.0f %7.2fx\n", (name + ": int8 weights, 2000 images").c_str(), ints, real,
                  ints / real);
    }
  }
  return 0;
}
