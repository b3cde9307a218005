// The paper's claims beside our measurements: the rows of SPEC §7 (the reproduction
// target) and further claims its text makes, each with the runs that measured it.
#pragma once

#include <string>
#include <vector>

#include "report/figure.h"

namespace resdyn::report {

struct ClaimRow : Sources {
  std::string claim;   // what the paper says, in SPEC §7's words
  std::string paper;   // the paper's figure
  std::string ours;    // our measurement, or "not run"
  std::string figure;  // id of the figure that shows it, empty if none
};

// The eight rows of SPEC §7, in its order.
std::vector<ClaimRow> paper_table(FigureContext& context);
// Claims of the paper's text outside SPEC §7 that our runs also measure.
std::vector<ClaimRow> further_claims(FigureContext& context);

}  // namespace resdyn::report
