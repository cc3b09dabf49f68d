// A persistent pool of worker threads for the addon's sgemm() entry point (kernel tests and
// benchmarks): GEMMs split their work into tasks that the calling thread and the workers take
// from a shared counter, one parallel_for at a time. Models do not use it: each trains on a
// team of its own (team.h).
#ifndef MLPKIT_NATIVE_THREAD_POOL_H_
#define MLPKIT_NATIVE_THREAD_POOL_H_

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace mlpkit {

class ThreadPool {
 public:
  // The process-wide pool; it is never destroyed, so no thread is joined during exit.
  static ThreadPool& shared();

  // Threads that can work at once (the caller counts as one).
  int size();
  // Grows the pool so that `threads` tasks can run at once.
  void ensure(int threads);
  // Runs fn(arg, i) for i in [0, count) and returns when all are done; the caller takes part.
  void parallel_for(int count, void (*fn)(void* arg, int i), void* arg);
  // Adapter for GemmContext::parallel_for.
  static void run(void* pool, int count, void (*fn)(void* arg, int i), void* arg);

 private:
  ThreadPool() = default;
  struct Job {
    uint64_t generation;
    void (*fn)(void*, int);
    void* arg;
    int count;
  };
  void worker_loop();
  void take_tasks(const Job& job);

  std::mutex run_mutex_;  // serializes parallel_for calls
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::vector<std::thread> workers_;
  Job job_{0, nullptr, nullptr, 0};
  // Mirrors job_.generation for workers that spin before sleeping: training issues GEMMs back
  // to back, and waking a sleeping thread for each one costs tens of microseconds.
  std::atomic<uint64_t> published_{0};
  // (generation << 32) | next task index: a worker still holding an old job can never take
  // a task of a newer one, because it claims indices with a compare-and-swap on both halves.
  std::atomic<uint64_t> ticket_{0};
  std::atomic<int> remaining_{0};
};

}  // namespace mlpkit

#endif  // MLPKIT_NATIVE_THREAD_POOL_H_
