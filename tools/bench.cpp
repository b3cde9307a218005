// make bench: speed of the core on this machine, each figure next to a reference measured
// in the same run.
//   1. GEMM GFLOP/s on the training shapes of the paper's net, against a plain i-k-j loop
//      (what a straightforward implementation would do).
//   2. Training and inference samples/s of the default net and the paper's nets, on
//      synthetic data of MNIST's shape (speed does not depend on pixel values).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
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

// The reference: C = A B^T by a plain loop over i, j with a dot product over k.
void reference_nt(int M, int N, int K, const float* A, const float* B, float* C) {
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float s = 0;
      for (int k = 0; k < K; ++k) s += A[size_t(i) * K + k] * B[size_t(j) * K + k];
      C[size_t(i) * N + j] = s;
    }
}

void bench_gemm(int threads) {
  struct Shape {
    const char* what;
    Op a, b;
    int M, N, K;
  };
  const Shape shapes[] = {
      {"forward  B=64   x(t-1) W^T", Op::N, Op::T, 64, 1064, 1064},
      {"forward  B=128  x(t-1) W^T", Op::N, Op::T, 128, 1064, 1064},
      {"forward  B=256  x(t-1) W^T", Op::N, Op::T, 256, 1064, 1064},
      {"stem     B=64   U P^T 784->1064", Op::N, Op::T, 64, 1064, 784},
      {"backward B=64   gz W", Op::N, Op::N, 64, 1064, 1064},
      {"gradW    T*B=960 gz^T x", Op::T, Op::N, 1064, 1064, 960},
  };
  std::printf("\nGEMM, %d thread%s (GFLOP/s; reference: plain loop, 1 thread)\n", threads, threads > 1 ? "s" : "");
  std::printf("  %-34s %10s %10s %8s\n", "shape", "resdyn", "reference", "ratio");
  Rng rng(1);
  for (const Shape& s : shapes) {
    std::vector<float> A(size_t(s.M) * s.K), B(size_t(s.K) * s.N), C(size_t(s.M) * s.N);
    for (auto& v : A) v = float(rng.uniform(-1, 1));
    for (auto& v : B) v = float(rng.uniform(-1, 1));
    const int lda = s.a == Op::N ? s.K : s.M, ldb = s.b == Op::N ? s.N : s.K;
    const double flops = 2.0 * s.M * s.N * s.K;
    const double ours = seconds_of(
        [&] { gemm(s.a, s.b, s.M, s.N, s.K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C.data(), s.N, threads); }, 9);
    const double ref = seconds_of([&] { reference_nt(s.M, s.N, s.K, A.data(), B.data(), C.data()); }, 1);
    std::printf("  %-34s %10.1f %10.1f %7.1fx\n", s.what, flops / ours / 1e9, flops / ref / 1e9, ref / ours);
  }
}

void bench_training(const char* what, Config cfg, int batch, int threads) {
  Dataset data;
  data.count = batch * 8;
  data.rows = 28;
  data.cols = 28;
  Rng rng(2);
  data.images.resize(size_t(data.count) * 784);
  data.labels.resize(size_t(data.count));
  for (auto& p : data.images) p = uint8_t(rng.below(256));
  for (auto& l : data.labels) l = uint8_t(rng.below(10));
  Net<float> net(cfg);
  initialise(net, rng);
  TrainOptions opt;
  opt.batch = batch;
  opt.threads = threads;
  opt.epochs = 1000;
  Trainer<float> trainer(net, data, opt);
  trainer.train_epoch();  // warm up: memory, thread pool
  const double train_s = seconds_of([&] { trainer.train_epoch(); }, 3);
  const double infer_s = seconds_of([&] { evaluate(net, data, threads, 0, batch); }, 3);
  std::printf("  %-44s %6d %10.0f %10.0f\n", what, batch, data.count / train_s, data.count / infer_s);
}

}  // namespace

int main() {
  const int hw = int(std::max(1u, std::thread::hardware_concurrency()));
  std::printf("resdyn bench (%d hardware threads)\n", hw);
  bench_gemm(1);
  if (hw > 1) bench_gemm(hw);

  Config small;  // the main job's default net (README)
  small.width = 512;
  small.depth = 10;
  Config shared;  // the paper's nets: 15 x 1064
  shared.width = 1064;
  shared.depth = 15;
  Config per_layer = shared;
  per_layer.weights = Weights::PerLayer;
  for (int threads : {1, hw}) {
    std::printf("\ntraining and inference, %d thread%s (samples/s)\n", threads, threads > 1 ? "s" : "");
    std::printf("  %-44s %6s %10s %10s\n", "network", "batch", "train", "inference");
    bench_training("default: shared ResNet 10 x 512", small, 64, threads);
    bench_training("paper: shared ResNet 15 x 1064", shared, 64, threads);
    bench_training("paper: per-layer ResNet 15 x 1064", per_layer, 64, threads);
    if (threads == hw) break;
  }
  return 0;
}
