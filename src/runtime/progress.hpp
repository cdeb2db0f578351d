// A long run that shows it is moving: progress lines with an ETA, and a watchdog for the
// rank that stops moving.
//
// Progress logs (rank 0, at info level, so `-q` silences it) the stage, units done of all,
// percent, pairs so far, elapsed time and the time left at the rate so far: first after a
// few seconds, then at most every few seconds and at least every 30 s as long as units end.
// Every rank beats a heartbeat at each unit and stage; the watchdog (--stall-timeout)
// ends the job when this rank's heartbeat stops for longer than the timeout: a rank that
// waits in a collective for a stopped or hung rank stops beating too, so the job ends
// instead of hanging.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace hipi {

class Progress {
 public:
  /// `what` names the stage in the log ("brute"); `rank` is this process's rank.
  Progress(std::string what, int rank, double first_after_seconds = 3, double every_seconds = 10);
  /// After a unit: `done` of `total` units, `pairs` found so far (a sum over ranks, or -1
  /// if unknown). Logs on rank 0 when it is time to; beats the heartbeat on every rank.
  void update(std::int64_t done, std::int64_t total, std::int64_t pairs);
  /// Units done before this run started (resumed from a checkpoint): not in the rate.
  void resumed_at(std::int64_t done) { resumed_ = done; }
  /// The line update() would log (tests).
  static std::string line(const std::string& what, std::int64_t done, std::int64_t total, std::int64_t pairs,
                          double elapsed, std::int64_t resumed);

 private:
  using Clock = std::chrono::steady_clock;
  std::string what_;
  int rank_;
  double first_after_, every_;
  Clock::time_point start_ = Clock::now(), last_log_;
  bool logged_ = false;
  std::int64_t resumed_ = 0;
};

/// Marks this rank as moving now, naming where when given (a stage); thread-safe, cheap
/// without a name.
void heartbeat(std::string_view where = {});

/// While alive, a thread that ends the job (exit status 1, a message naming the rank and
/// the last place it moved) once the heartbeat has been silent for `timeout_seconds`.
class Watchdog {
 public:
  Watchdog(int rank, double timeout_seconds);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  struct Thread;
  std::unique_ptr<Thread> thread_;
};

}  // namespace hipi
