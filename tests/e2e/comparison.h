// The side-by-side record of what pam_keyinit and pam_sessionkeyring did in
// each scenario, printed at the end of the run for review:
//
//   | scenario | pam_keyinit | pam_sessionkeyring | verdict |
//
// The verdict comes from comparing what was observed, not from what the
// tests expected; a difference is explained only by the DESIGN.md row the
// scenario names, and flagged when the scenario names none.

#ifndef SESSIONKEYRING_TESTS_E2E_COMPARISON_H_
#define SESSIONKEYRING_TESTS_E2E_COMPARISON_H_

#include <map>
#include <string>
#include <vector>

namespace sessionkeyring::e2e {

class ComparisonTable {
 public:
  // Records what `module` did in `scenario`. `design_difference` is empty
  // if both modules must behave alike there, and otherwise names the
  // DESIGN.md difference that lets them differ.
  void Record(const std::string& scenario, const std::string& module,
              const std::string& observed,
              const std::string& design_difference);

  bool empty() const { return rows_.empty(); }

  // A Markdown table, one row per scenario in the order first recorded.
  std::string Render(const std::string& reference_module,
                     const std::string& our_module) const;

 private:
  struct Row {
    std::string scenario;
    std::string design_difference;
    std::map<std::string, std::string> observed;  // by module name
  };
  std::vector<Row> rows_;
};

}  // namespace sessionkeyring::e2e

#endif  // SESSIONKEYRING_TESTS_E2E_COMPARISON_H_
