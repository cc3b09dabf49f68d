#include "team.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <thread>

#include "gemm/cpu.h"

#if defined(__linux__)
#include <sched.h>
#endif

namespace mlpkit {
namespace {

// Waits until `done()`: spins first when every thread of the team has a CPU (phases of a step
// take microseconds), then yields the CPU; a team larger than the CPUs it runs on yields at
// once, so that the thread it waits for gets to run instead of being spun against.
template <typename Done>
void wait_until(Done done, int spins) {
  for (int spin = 0; spin < spins; ++spin) {
    if (done()) return;
    relax_cpu();
  }
  while (!done()) std::this_thread::yield();
}

}  // namespace

Team::Team(int threads) : threads_(std::max(1, threads)), spins_(threads_ <= available_cpus() ? 4096 : 0) {
  workers_.reserve(threads_ - 1);
  for (int t = 1; t < threads_; ++t) workers_.emplace_back([this, t] { worker(t); });
}

Team::~Team() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
  }
  wake_.notify_all();
  for (std::thread& w : workers_) w.join();
}

void Team::worker(int t) {
  uint64_t seen = 0;
  for (;;) {
    // About 100 µs of spinning before sleeping: a region started right after the last one
    // (the next prediction, the next chunk of batches) finds the worker awake.
    for (int spin = 0; spin < 5 * spins_ && region_.load(std::memory_order_acquire) == seen && !stop_.load(); ++spin) relax_cpu();
    if (region_.load(std::memory_order_acquire) == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_.load() || region_.load() != seen; });
    }
    if (stop_.load()) return;
    seen = region_.load(std::memory_order_acquire);
    if (t < static_cast<int>(seen & 0xffff)) {  // this region's parts
      fn_(arg_, t);
      running_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }
}

void Team::run(void (*fn)(void*, int), void* arg, int parts) {
  parts_ = std::clamp(parts, 1, threads_);
  if (parts_ == 1) {  // no other thread to wake
    fn(arg, 0);
    return;
  }
  fn_ = fn;
  arg_ = arg;
  running_.store(parts_ - 1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const uint64_t next = (region_.load(std::memory_order_relaxed) >> 16) + 1;
    region_.store(next << 16 | static_cast<uint64_t>(parts_), std::memory_order_release);
  }
  wake_.notify_all();
  fn(arg, 0);
  wait_until([&] { return running_.load(std::memory_order_acquire) == 0; }, spins_);
}

void Team::barrier() {
  if (parts_ == 1) return;
  const uint32_t sense = sense_.load(std::memory_order_acquire);
  if (arrivals_.fetch_add(1, std::memory_order_acq_rel) == parts_ - 1) {
    arrivals_.store(0, std::memory_order_relaxed);
    sense_.store(sense + 1, std::memory_order_release);
    return;
  }
  wait_until([&] { return sense_.load(std::memory_order_acquire) != sense; }, spins_);
}

int available_cpus() {
  int cpus = static_cast<int>(std::thread::hardware_concurrency());
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) cpus = CPU_COUNT(&set);
  // cgroup v2: "max 100000" (no quota) or "<quota> <period>" in microseconds.
  if (FILE* f = std::fopen("/sys/fs/cgroup/cpu.max", "r")) {
    char quota[32] = {0};
    long period = 0;
    if (std::fscanf(f, "%31s %ld", quota, &period) == 2 && std::string_view(quota) != "max" && period > 0) {
      const double limit = std::atof(quota) / static_cast<double>(period);
      if (limit > 0) cpus = std::min(cpus, std::max(1, static_cast<int>(std::ceil(limit))));
    }
    std::fclose(f);
  }
#endif
  return std::max(1, std::min(cpus, 256));
}

}  // namespace mlpkit
