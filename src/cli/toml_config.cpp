#include "cli/toml_config.hpp"

#include <toml++/toml.h>

#include <sstream>

namespace hipi::cli {

namespace {

std::string scalar_text(const toml::node& node, const std::string& key) {
  // By the node's own type: value<bool>() also converts integers (seed = 2 read as true).
  if (auto v = node.value_exact<std::string>()) return *v;
  if (auto v = node.value_exact<bool>()) return *v ? "true" : "false";
  if (auto v = node.value_exact<std::int64_t>()) return std::to_string(*v);
  if (auto v = node.value_exact<double>()) {
    std::ostringstream s;
    s.precision(17);
    s << *v;
    return s.str();
  }
  throw CLI::ConversionError("config key '" + key + "' must be a string, number or boolean");
}

void add_items(const toml::table& table, const std::vector<std::string>& parents, std::vector<CLI::ConfigItem>& out) {
  for (const auto& [key, node] : table) {
    const std::string name(key.str());
    if (const auto* sub = node.as_table()) {
      auto deeper = parents;
      deeper.push_back(name);
      add_items(*sub, deeper, out);
      continue;
    }
    CLI::ConfigItem item;
    item.parents = parents;
    item.name = name;
    if (const auto* array = node.as_array()) {
      for (const auto& element : *array) item.inputs.push_back(scalar_text(element, name));
    } else {
      item.inputs.push_back(scalar_text(node, name));
    }
    out.push_back(std::move(item));
  }
}

}  // namespace

std::string TomlConfig::to_config(const CLI::App*, bool, bool, std::string) const {
  throw CLI::ConversionError("writing TOML configurations is not supported");
}

std::vector<CLI::ConfigItem> TomlConfig::from_config(std::istream& input) const {
  std::stringstream text;
  text << input.rdbuf();
  toml::table table;
  try {
    table = toml::parse(text.str());
  } catch (const toml::parse_error& e) {
    std::ostringstream where;
    where << "invalid TOML at line " << e.source().begin.line << ": " << e.description();
    throw CLI::ConversionError(where.str());
  }
  // Config files are read after the command line, so the subcommand in use is known.
  std::vector<std::string> parents;
  if (const auto used = app_->get_subcommands(); !used.empty()) parents.push_back(used.front()->get_name());
  std::vector<CLI::ConfigItem> items;
  for (const auto& [key, node] : table) {
    const auto* sub = node.as_table();
    const std::string name(key.str());
    const bool names_subcommand =
        !app_->get_subcommands([&](const CLI::App* c) { return c->get_name() == name; }).empty();
    if (sub && names_subcommand) {
      add_items(*sub, {name}, items);
    } else {
      toml::table single;
      single.insert(key, node);
      add_items(single, parents, items);
    }
  }
  return items;
}

}  // namespace hipi::cli
