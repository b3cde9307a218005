// The thread pool under the matrix routines: every task runs exactly once, on a worker id
// below the job's thread count, across many jobs back to back (a worker still leaving one
// job must never take a task of the next).
#include <gtest/gtest.h>

#include <atomic>
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
