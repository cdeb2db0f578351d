#include "runtime/progress.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace hipi {

namespace {

using Clock = std::chrono::steady_clock;

std::atomic<Clock::rep> last_beat{Clock::now().time_since_epoch().count()};
std::mutex place_mutex;
std::string last_place = "start-up";  // guarded by place_mutex

std::string duration(double seconds) {
  if (seconds < 60) return fmt::format("{:.1f} s", seconds);
  if (seconds < 3600) return fmt::format("{:.0f} min {:02.0f} s", std::floor(seconds / 60), std::fmod(seconds, 60));
  return fmt::format("{:.0f} h {:02.0f} min", std::floor(seconds / 3600), std::fmod(seconds, 3600) / 60);
}

}  // namespace

void heartbeat(std::string_view where) {
  last_beat.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  if (where.empty()) return;
  std::lock_guard lock(place_mutex);
  last_place = where;
}

Progress::Progress(std::string what, int rank, double first_after_seconds, double every_seconds)
    : what_(std::move(what)), rank_(rank), first_after_(first_after_seconds), every_(std::min(every_seconds, 30.0)) {}

std::string Progress::line(const std::string& what, std::int64_t done, std::int64_t total, std::int64_t pairs,
                           double elapsed, std::int64_t resumed) {
  std::string text =
      fmt::format("{}: {:.1f}% ({} of {} units)", what, total ? 100.0 * done / total : 100.0, done, total);
  if (pairs >= 0) text += fmt::format(", {} pairs so far", pairs);
  text += fmt::format(", {} elapsed", duration(elapsed));
  const std::int64_t this_run = done - resumed;
  if (this_run > 0 && done < total)
    text += fmt::format(", about {} left", duration(elapsed / this_run * (total - done)));
  if (resumed > 0) text += fmt::format(" (resumed at unit {})", resumed);
  return text;
}

void Progress::update(std::int64_t done, std::int64_t total, std::int64_t pairs) {
  heartbeat();
  if (rank_ != 0) return;
  const auto now = Clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double since = logged_ ? std::chrono::duration<double>(now - last_log_).count() : elapsed;
  if (since < (logged_ ? every_ : first_after_) && done < total) return;
  if (!logged_ && done == total && elapsed < first_after_) return;  // short runs stay quiet
  spdlog::info(line(what_, done, total, pairs, elapsed, resumed_));
  last_log_ = now;
  logged_ = true;
}

struct Watchdog::Thread {
  std::mutex mutex;
  std::condition_variable wake;
  bool stop = false;
  std::thread thread;
};

Watchdog::Watchdog(int rank, double timeout_seconds) {
  if (timeout_seconds <= 0) return;
  heartbeat();
  thread_ = std::make_unique<Thread>();
  thread_->thread = std::thread([this, rank, timeout_seconds] {
    std::unique_lock lock(thread_->mutex);
    const auto poll = std::chrono::milliseconds(std::clamp<long>(static_cast<long>(timeout_seconds * 100), 10, 1000));
    while (!thread_->wake.wait_for(lock, poll, [this] { return thread_->stop; })) {
      const auto beat = Clock::time_point(Clock::duration(last_beat.load(std::memory_order_relaxed)));
      const double silent = std::chrono::duration<double>(Clock::now() - beat).count();
      if (silent < timeout_seconds) continue;
      // No MPI call from this thread (MPI runs single-threaded here): the launcher sees the
      // rank exit without MPI_Finalize and ends the others.
      std::string place;
      {
        std::lock_guard place_lock(place_mutex);
        place = last_place;
      }
      std::fprintf(stderr,
                   "hipi: rank %d: no progress for %.0f s (--stall-timeout), last in %s: another rank may be "
                   "stopped or hung; ending the job\n",
                   rank, silent, place.c_str());
      std::fflush(stderr);
      std::_Exit(1);
    }
  });
}

Watchdog::~Watchdog() {
  if (!thread_) return;
  {
    std::lock_guard lock(thread_->mutex);
    thread_->stop = true;
  }
  thread_->wake.notify_all();
  thread_->thread.join();
}

}  // namespace hipi
