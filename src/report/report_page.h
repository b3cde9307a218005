// `resdyn report`: every figure of the paper redrawn from a runs directory, and the
// paper's main results beside our numbers, as one self-contained page:
//   REPORTDIR/index.html       the page (no scripts; inline CSS; relative links only)
//   REPORTDIR/figures/ID.svg   one SVG per figure drawn
//   REPORTDIR/data/RUN/FILE    copies of the CSV and JSON files each figure was drawn from
// index.html is written last and atomically, so a page that exists refers only to files
// that do. A run that is missing makes its figure say "not run" and how to run it; a run
// file that is malformed stops the report with an error naming the file and line.
#pragma once

#include <string>
#include <vector>

namespace resdyn::report {

struct ReportSummary {
  std::string index;                 // path of index.html
  std::vector<std::string> drawn;    // ids of the figures drawn
  std::vector<std::string> not_run;  // ids of the figures whose runs are missing
};

// Reads runs_dir (laid out as report/runs_layout.h says) and writes the report into
// report_dir (created if missing). `command_line` is quoted on the page.
ReportSummary write_report(const std::string& runs_dir, const std::string& report_dir, const std::string& command_line);

}  // namespace resdyn::report
