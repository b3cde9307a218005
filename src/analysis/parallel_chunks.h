// A parallel loop whose result cannot depend on the number of threads.
//
// The index range is cut into chunks of a fixed size, independent of the thread count;
// the body of a chunk writes only its own outputs, and whatever has to be summed across
// chunks is summed afterwards by the caller in chunk order. So 1 or 2 threads give the
// same bits (resdyn's rule: the same seed and flags give the same bits on any thread count).
#pragma once

#include <exception>
#include <vector>

#include "resdyn.h"

namespace resdyn {

// Calls body(begin, end) for [0, count) in chunks of `chunk` indices, on up to `threads`
// threads of the shared pool.
inline void parallel_chunks(int threads, int count, int chunk, FunctionRef<void(int begin, int end)> body) {
  if (count <= 0) return;
  const int tasks = (count + chunk - 1) / chunk;
  ThreadPool::shared().run(threads, tasks, [&](int task, int) {
    const int begin = task * chunk;
    body(begin, begin + chunk < count ? begin + chunk : count);
  });
}

// Calls body(task) for every task in [0, count) on up to `threads` threads, each task whole
// on one thread. An exception must not leave a worker thread, so each task keeps its own;
// the one of the lowest-numbered task that threw is rethrown once all are done.
inline void parallel_tasks(int threads, int count, FunctionRef<void(int task)> body) {
  std::vector<std::exception_ptr> failures(static_cast<size_t>(count > 0 ? count : 0));
  ThreadPool::shared().run(threads, count, [&](int task, int) {
    try {
      body(task);
    } catch (...) {
      failures[static_cast<size_t>(task)] = std::current_exception();
    }
  });
  for (const std::exception_ptr& failure : failures)
    if (failure) std::rethrow_exception(failure);
}

}  // namespace resdyn
