#include "parallel/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace hipi {

void init_logging(const Comm& comm, int verbosity) {
  // Not registered by name, so calling this again (tests do) replaces the logger cleanly.
  auto logger = std::make_shared<spdlog::logger>("hipi", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  logger->set_pattern(comm.rank() == 0 ? "[%H:%M:%S.%e] %v"
                                       : "[%H:%M:%S.%e] rank " + std::to_string(comm.rank()) + ": %v");
  const auto level = verbosity <= 0 ? spdlog::level::warn : verbosity == 1 ? spdlog::level::info : spdlog::level::debug;
  logger->set_level(comm.rank() == 0 ? level : spdlog::level::warn);
  spdlog::set_default_logger(logger);
}

}  // namespace hipi
