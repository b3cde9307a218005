// The paper's claims beside our measurements: the eight headline results of the paper (its
// test errors in §6, the adaptive depths of §7, the settled residuals of fig. 2B, the noise
// limits of §6, the rule of fig. 3, the determinants of appendix A) and further claims its
// text makes, each with the runs that measured it.
#pragma once

#include <string>
#include <vector>

#include "report/figure.h"

namespace resdyn::report {

// Whether a claim holds in one set of runs, by its written rule.
enum class Verdict { holds, does_not_hold, undecided };

// "holds", "does not hold", "undecided" (not run, or the rule's inputs are missing).
const char* verdict_text(Verdict verdict);

struct ClaimRow : Sources {
  std::string claim;   // what the paper says, in our words
  std::string paper;   // the paper's figure
  std::string ours;    // our measurement, or "not run"
  std::string figure;  // id of the figure that shows it, empty if none
  // The rule that decides the verdict from the run files, in words ("holds when ..."),
  // and the one number it tests most directly (NaN when not measured), which the claims
  // study averages over runs; `value_name` says what that number is.
  std::string rule, value_name;
  Verdict verdict = Verdict::undecided;
  double value = 0.0;
};

// The eight headline results, in the order above.
std::vector<ClaimRow> paper_table(FigureContext& context);
// Other claims of the paper's text that our runs also measure.
std::vector<ClaimRow> further_claims(FigureContext& context);

}  // namespace resdyn::report
