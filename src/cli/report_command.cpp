// resdyn report: the paper's figures and table, drawn from a runs directory, as one HTML page.
#include <cstdio>

#include "cli/commands.h"
#include "report/report_page.h"

namespace resdyn::cli {

CommandSpec report_spec() {
  return {"report",
          "Draw every figure of the paper from a runs directory into REPORTDIR/index.html, with the paper's main results.",
          {
              {"runs", "DIR", "",
               "runs directory as tools/paper_runs.sh lays it out (required; see src/report/runs_layout.h)"},
              {"out", "REPORTDIR", "", "where index.html, figures/ and data/ go (required; created if missing)"},
          }};
}

int run_report(const Flags& flags) {
  const std::string runs = flags.required_text("runs");
  const std::string out = flags.required_text("out");
  const report::ReportSummary summary = report::write_report(runs, out, flags.command_line());
  std::printf("report: %zu figures drawn, %zu not run", summary.drawn.size(), summary.not_run.size());
  if (!summary.not_run.empty()) {
    std::printf(" (");
    for (size_t i = 0; i < summary.not_run.size(); ++i) std::printf("%s%s", i ? ", " : "", summary.not_run[i].c_str());
    std::printf(")");
  }
  std::printf("\nwrote %s\n", summary.index.c_str());
  return 0;
}

}  // namespace resdyn::cli
