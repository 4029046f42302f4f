#include "comparison.h"

#include <algorithm>

namespace sessionkeyring::e2e {
namespace {

// Keeps a cell inside its column.
std::string Cell(std::string text) {
  std::string escaped;
  for (const char c : text) {
    if (c == '|') escaped += '\\';
    escaped += c == '\n' ? ' ' : c;
  }
  return escaped;
}

std::string Verdict(const std::string& reference, const std::string& ours,
                    const std::string& design_difference) {
  if (reference.empty() || ours.empty()) return "(only one module ran)";
  if (reference == ours) {
    return design_difference.empty()
               ? "agree"
               : "agree, although DESIGN.md lets them differ: " +
                     design_difference;
  }
  return design_difference.empty()
             ? "DIFFERS, with no DESIGN.md row to explain it"
             : "differs: " + design_difference;
}

}  // namespace

void ComparisonTable::Record(const std::string& scenario,
                             const std::string& module,
                             const std::string& observed,
                             const std::string& design_difference) {
  auto row = std::find_if(rows_.begin(), rows_.end(),
                          [&](const Row& r) { return r.scenario == scenario; });
  if (row == rows_.end()) {
    rows_.push_back({scenario, design_difference, {}});
    row = rows_.end() - 1;
  }
  row->observed[module] = observed;
}

std::string ComparisonTable::Render(const std::string& reference_module,
                                    const std::string& our_module) const {
  std::string table = "| scenario | " + reference_module + " | " + our_module +
                      " | agree/differs (reason) |\n" +
                      "| --- | --- | --- | --- |\n";
  for (const Row& row : rows_) {
    const auto observed = [&row](const std::string& module) {
      const auto it = row.observed.find(module);
      return it == row.observed.end() ? std::string() : it->second;
    };
    const std::string reference = observed(reference_module);
    const std::string ours = observed(our_module);
    table += "| " + Cell(row.scenario) + " | " +
             Cell(reference.empty() ? "(not run)" : reference) + " | " +
             Cell(ours.empty() ? "(not run)" : ours) + " | " +
             Cell(Verdict(reference, ours, row.design_difference)) + " |\n";
  }
  return table;
}

}  // namespace sessionkeyring::e2e
