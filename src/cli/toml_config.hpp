// Reads `--config C.toml` for CLI11 with toml++: a real TOML parser instead of CLI11's
// built-in INI-like reader. Keys at the top level set the long options of the subcommand
// being run (`rho = 0.5`, `method = "brute"`, `abs = true`); a table named after a
// subcommand (`[solve]`) sets that subcommand's options, so one file can serve several.
#pragma once

#include <CLI/CLI.hpp>

namespace hipi::cli {

class TomlConfig : public CLI::Config {
 public:
  /// `app` is the top-level application; its parsed subcommand receives top-level keys.
  explicit TomlConfig(const CLI::App* app) : app_(app) {}
  std::string to_config(const CLI::App* app, bool default_also, bool write_description,
                        std::string prefix) const override;
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override;

 private:
  const CLI::App* app_;
};

}  // namespace hipi::cli
