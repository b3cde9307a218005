// A figure of the report and what drawing one takes: the run files it needs (and, when
// one is missing, the note saying which and how to produce it), the SVG it writes under
// REPORTDIR/figures/, the numbers it copies under REPORTDIR/data/, and the models and
// commands behind it.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "plot/chart.h"
#include "plot/panel_grid.h"
#include "report/run_files.h"

namespace resdyn::report {

// What made a run or a model: e.g. {"dynamics/shared on models/shared.resdyn (...)", "resdyn dynamics ..."}.
struct Provenance {
  std::string what;
  std::string command;  // empty when not recorded
};

// The runs behind a figure or a table row: what is missing (and the commands that would
// produce it), the numbers copied beside the report, and the models and commands that made them.
struct Sources {
  std::vector<std::string> missing;   // run files (as paths under the runs directory) that do not exist
  std::vector<std::string> commands;  // the commands that produce them
  std::vector<std::string> data;      // links (relative to the report directory) to the numbers used
  std::vector<Provenance> provenance;
};

struct Figure : Sources {
  std::string id;     // "1A", "spectra", ...: the page anchor and the SVG's name
  std::string title;  // one line
  std::string shows;  // caption: what our figure shows and how to read it
  std::string paper;  // caption: what the paper's figure shows and claims
  std::string svg;    // relative to the report directory; empty when not drawn ("not run")
};

class FigureContext {
 public:
  // `runs_dir` as the user named it (quoted in commands), `report_dir` where the
  // report goes (figures/ and data/ below it must exist).
  FigureContext(std::string runs_dir, std::string report_dir);

  RunFiles& runs() { return runs_; }
  const std::string& report_dir() const { return report_dir_; }

  // A figure not drawn yet.
  static Figure start(std::string id, std::string title, std::string paper);

  // True when every file (relative to RUNS) exists; otherwise records which are missing
  // and the commands that produce them, and returns false.
  bool require(Sources& sources, const std::vector<std::string>& files);
  // Whether at least one of the files exists (for figures that draw what they can).
  bool any(const std::vector<std::string>& files);

  // Copies the run file (relative to RUNS) to REPORTDIR/data/ once (with its run's
  // summary.json), links it, and adds the provenance of its run directory or model.
  void use(Sources& sources, const std::string& file);

  // Writes figures/ID.svg and sets figure.svg.
  void save(Figure& figure, const plot::Chart& chart, double width = 720, double height = 460);
  void save(Figure& figure, const plot::PanelGrid& grid);

  // The command that makes a run directory or model, with RUNS replaced by the runs
  // directory; for a run, preceded by the model's when that is missing too.
  std::string command_for(const std::string& file);
  // What the model file (relative to RUNS) is and how it was trained.
  Provenance model_provenance(const std::string& model_file);

 private:
  std::string with_runs(const std::string& command) const;
  // The run directory or model file that `file` belongs to.
  std::string owner_of(const std::string& file) const;

  RunFiles runs_;
  std::string runs_dir_;
  std::string report_dir_;
  std::set<std::string> copied_;
};

// Writes a file atomically after making sure its directory exists.
void write_report_file(const std::string& path, const std::string& text);

}  // namespace resdyn::report
