// Reads `--config C.toml` for CLI11 with toml++: a real TOML parser instead of CLI11's
// built-in INI-like reader. Keys at the top level or in a table named after the subcommand
// set that subcommand's long options: `rho = 0.5`, `method = "brute"`, `abs = true`.
#pragma once

#include <CLI/CLI.hpp>

namespace hipi::cli {

class TomlConfig : public CLI::Config {
 public:
  std::string to_config(const CLI::App* app, bool default_also, bool write_description,
                        std::string prefix) const override;
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override;
};

}  // namespace hipi::cli
