// Small multiples: charts of any kind laid out in a grid under one shared title.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "plot/chart.h"

namespace resdyn::plot {

class PanelGrid {
 public:
  // Panels fill rows of `columns` from the top left, each panel_width x panel_height pixels.
  // Throws resdyn::Error for an empty title, zero columns or a non-positive size.
  PanelGrid(std::string title, std::size_t columns, double panel_width = 420, double panel_height = 320);

  // Takes a copy of the chart as the next panel and returns it for further setup.
  template <class ChartType>
  ChartType& add(ChartType chart) {
    auto panel = std::make_unique<ChartType>(std::move(chart));
    ChartType& added = *panel;
    panels_.push_back(std::move(panel));
    return added;
  }

  std::size_t size() const { return panels_.size(); }

  // Throws resdyn::Error if no panel was added.
  std::string svg() const;
  void save(const std::string& path) const;

 private:
  std::string title_;
  std::size_t columns_;
  double panel_width_;
  double panel_height_;
  std::vector<std::unique_ptr<Chart>> panels_;
};

}  // namespace resdyn::plot
