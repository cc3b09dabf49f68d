// The threads of one model. A training call runs as one parallel region: every thread of the
// region executes the same batch loop on its part of each phase (a GEMM's rows or columns, a
// range of rows, a range of columns) and waits for the others at a barrier between phases, so
// a batch costs a few barriers instead of a fork and a join per GEMM. A region may use fewer
// threads than the team has (mlp.cc gives small calls fewer).
//
// Each model owns its team, so two models train on their own threads at the same time; a
// process that trains M models at once runs M teams (see the README's thread budget).
#ifndef MLPKIT_NATIVE_TEAM_H_
#define MLPKIT_NATIVE_TEAM_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace mlpkit {

class Team {
 public:
  // A team of `threads` (the calling thread is one of them).
  explicit Team(int threads);
  ~Team();
  Team(const Team&) = delete;
  Team& operator=(const Team&) = delete;

  int size() const { return threads_; }
  // Pauses a waiting thread spins through before it yields its CPU (0: more threads than CPUs).
  int spins() const { return spins_; }
  // Runs fn(arg, t) on the first `parts` threads of the team (1 ≤ parts ≤ size(); the caller
  // is t = 0) and returns when all have returned. One region at a time; fn must not throw.
  void run(void (*fn)(void* arg, int t), void* arg, int parts);
  // Inside a region: returns once every thread of the region has called it.
  void barrier();

 private:
  void worker(int t);

  const int threads_;
  const int spins_;  // before yielding: 0 when the team has more threads than CPUs
  std::vector<std::thread> workers_;
  // Regions: a word that workers watch, spinning briefly before they sleep, so that
  // back-to-back calls (predictions one at a time) start without a wake-up. It holds the
  // region's number and its thread count together (number << 16 | parts), so a worker reads
  // the count of the region it sees; the caller waits only for the parts - 1 workers that take
  // part, so a small call on a large team does not wait for threads it does not use.
  std::atomic<uint64_t> region_{0};
  std::atomic<int> running_{0};
  std::atomic<bool> stop_{false};
  void (*fn_)(void*, int) = nullptr;
  void* arg_ = nullptr;
  int parts_ = 1;  // threads of the region under way, for barrier()
  std::mutex mutex_;
  std::condition_variable wake_;
  // Barrier: arrivals count down; the last one flips the sense that the others wait on.
  std::atomic<int> arrivals_{0};
  std::atomic<uint32_t> sense_{0};
};

// Threads this process may run on: the CPUs of its affinity mask, capped by a cgroup CPU
// quota (cpu.max) when one is set; at least 1.
int available_cpus();

}  // namespace mlpkit

#endif  // MLPKIT_NATIVE_TEAM_H_
