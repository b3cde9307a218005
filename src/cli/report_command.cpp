// resdyn report: the paper's figures and table, drawn from a runs directory, as one HTML page.
#include <cstdio>

#include "cli/commands.h"
#include "report/report_page.h"

namespace resdyn::cli {

namespace {

struct ReportOptions {
  std::string runs, out;
};

FlagTable<ReportOptions> report_flags() {
  using O = ReportOptions;
  FlagTable<O> t("report",
                 "Draw every figure of the paper from a runs directory into REPORTDIR/index.html, with the paper's "
                 "main results.");
  t.text("runs", "DIR", &O::runs,
         "runs directory as tools/paper_runs.sh lays it out (required; see src/report/runs_layout.h)", {},
         Need::required);
  t.text("out", "REPORTDIR", &O::out, "where index.html, figures/ and data/ go (required; created if missing)", {},
         Need::required);
  return t;
}

}  // namespace

CommandSpec report_spec() { return report_flags().spec(); }

int run_report(const Flags& flags) {
  const ReportOptions given = report_flags().parse(flags);
  const report::ReportSummary summary = report::write_report(given.runs, given.out, flags.command_line());
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
