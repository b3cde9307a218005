// The thread pool under the matrix routines: every task runs exactly once, on a worker id
// below the job's thread count, across many jobs back to back (a worker still leaving one
// job must never take a task of the next).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "resdyn.h"

TEST(ThreadPool, ManyJobsBackToBackRunEachTaskOnceOnValidWorkers) {
  auto& pool = resdyn::ThreadPool::shared();
  for (int job = 0; job < 3000; ++job) {
    const int threads = 1 + job % 3, tasks = 1 + job % 7;
    std::vector<std::atomic<int>> runs(static_cast<size_t>(tasks));
    std::atomic<int> bad_worker{0};
    pool.run(threads, tasks, [&](int task, int worker) {
      runs[size_t(task)].fetch_add(1);
      if (worker < 0 || worker >= threads || worker >= tasks) bad_worker.fetch_add(1);
    });
    for (int t = 0; t < tasks; ++t) ASSERT_EQ(runs[size_t(t)].load(), 1) << "job " << job << " task " << t;
    ASSERT_EQ(bad_worker.load(), 0) << "job " << job;
  }
}

// The pool's slow paths: workers that have stopped spinning and sleep between jobs, and a
// caller whose wait for the last task outlasts its spin, must still see every job through.
TEST(ThreadPool, SleepingWorkersAndALongLastTaskAreWokenAndWaitedFor) {
  auto& pool = resdyn::ThreadPool::shared();
  const auto spin = std::chrono::microseconds(resdyn::ThreadPool::kSpinMicroseconds);
  for (int job = 0; job < 20; ++job) {
    std::this_thread::sleep_for(3 * spin);  // long enough for the workers to go to sleep
    const int tasks = 2 + job % 3;
    std::vector<std::atomic<int>> runs(static_cast<size_t>(tasks));
    std::atomic<bool> worker_started{false};
    pool.run(3, tasks, [&](int task, int worker) {
      if (worker != 0) {
        worker_started = true;
        std::this_thread::sleep_for(3 * spin);  // outlasts the caller's spin
      } else {  // the caller leaves tasks for the workers it woke (for a second at most)
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        while (!worker_started && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
      }
      runs[size_t(task)].fetch_add(1);
    });
    for (int t = 0; t < tasks; ++t) ASSERT_EQ(runs[size_t(t)].load(), 1) << "job " << job << " task " << t;
  }
}
