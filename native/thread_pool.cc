#include "thread_pool.h"

#include "gemm/cpu.h"

namespace mlpkit {

ThreadPool& ThreadPool::shared() {
  static ThreadPool* pool = new ThreadPool();  // leaked on purpose: workers may be blocked at exit
  return *pool;
}

int ThreadPool::size() {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int>(workers_.size()) + 1;
}

void ThreadPool::ensure(int threads) {
  std::lock_guard<std::mutex> run(run_mutex_);
  std::lock_guard<std::mutex> lock(mutex_);
  while (static_cast<int>(workers_.size()) + 1 < threads) {
    workers_.emplace_back([this] { worker_loop(); });
  }
}

void ThreadPool::take_tasks(const Job& job) {
  for (;;) {
    uint64_t ticket = ticket_.load();
    int index;
    do {
      index = static_cast<int>(ticket & 0xffffffffu);
      if ((ticket >> 32) != (job.generation & 0xffffffffu) || index >= job.count) return;
    } while (!ticket_.compare_exchange_weak(ticket, ticket + 1));
    job.fn(job.arg, index);
    if (remaining_.fetch_sub(1) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_all();
    }
  }
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    // Spin for a while (about 100 µs) before sleeping, so back-to-back jobs start at once.
    for (int spin = 0; spin < 4000 && published_.load(std::memory_order_acquire) == seen; ++spin) relax_cpu();
    Job job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return job_.generation != seen; });
      job = job_;
      seen = job.generation;
    }
    take_tasks(job);
  }
}

void ThreadPool::parallel_for(int count, void (*fn)(void* arg, int i), void* arg) {
  if (count <= 0) return;
  if (count == 1) {
    fn(arg, 0);
    return;
  }
  std::lock_guard<std::mutex> run(run_mutex_);
  Job job;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job = Job{job_.generation + 1, fn, arg, count};
    job_ = job;
    remaining_.store(count);
    ticket_.store((job.generation & 0xffffffffu) << 32);
    published_.store(job.generation, std::memory_order_release);
  }
  wake_.notify_all();
  take_tasks(job);
  // Spin briefly: GEMM tasks are short, and sleeping adds a wake-up latency to every GEMM.
  for (int spin = 0; spin < 20000 && remaining_.load() > 0; ++spin) std::this_thread::yield();
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return remaining_.load() == 0; });
}

void ThreadPool::run(void* pool, int count, void (*fn)(void* arg, int i), void* arg) {
  static_cast<ThreadPool*>(pool)->parallel_for(count, fn, arg);
}

}  // namespace mlpkit
