// The Barnes-Hut quadtree of t-SNE; see quadtree.h.
#include "analysis/quadtree.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace resdyn {

namespace {

// Deeper cells stay leaves holding several points (which are then visited one by one):
// this bounds the recursion for points that coincide or nearly do.
constexpr int kMaxDepth = 48;

}  // namespace

QuadTree::QuadTree(const double* xs, const double* ys, int count) : xs_(xs), ys_(ys) {
  order_.resize(size_t(std::max(0, count)));
  std::iota(order_.begin(), order_.end(), 0);
  scratch_.resize(order_.size());
  Node root;
  Cell cell;
  root.begin = 0;
  root.count = count;
  if (count > 0) {
    const auto [xmin, xmax] = std::minmax_element(xs, xs + count);
    const auto [ymin, ymax] = std::minmax_element(ys, ys + count);
    cell.cx = 0.5 * (*xmin + *xmax);
    cell.cy = 0.5 * (*ymin + *ymax);
    // A hair larger than the bounding box, so the extreme points fall inside.
    cell.half = 0.5 * std::max(*xmax - *xmin, *ymax - *ymin) * (1 + 1e-9) + 1e-300;
  }
  nodes_.reserve(size_t(2 * count + 1));
  cells_.reserve(size_t(2 * count + 1));
  nodes_.push_back(root);
  cells_.push_back(cell);
  build(0, 0);
}

void QuadTree::build(int index, int depth) {
  Node node = nodes_[size_t(index)];
  const Cell cell = cells_[size_t(index)];
  const int begin = node.begin, end = node.begin + node.count;
  double sx = 0, sy = 0;
  double xmin = HUGE_VAL, xmax = -HUGE_VAL, ymin = HUGE_VAL, ymax = -HUGE_VAL;
  for (int p = begin; p < end; ++p) {
    const int j = order_[size_t(p)];
    sx += xs_[j];
    sy += ys_[j];
    xmin = std::min(xmin, xs_[j]);
    xmax = std::max(xmax, xs_[j]);
    ymin = std::min(ymin, ys_[j]);
    ymax = std::max(ymax, ys_[j]);
  }
  if (node.count > 0) {
    node.mx = sx / node.count;
    node.my = sy / node.count;
  }
  node.side2 = 4 * cell.half * cell.half;
  const bool leaf = node.count <= 1 || depth >= kMaxDepth || (xmin == xmax && ymin == ymax);
  if (leaf) {
    nodes_[size_t(index)] = node;
    return;
  }
  // Stable split of the points into the four quadrants: q = (x >= cx) + 2 (y >= cy).
  int starts[5] = {0, 0, 0, 0, 0};
  auto quadrant = [&](int j) { return (xs_[j] >= cell.cx ? 1 : 0) + (ys_[j] >= cell.cy ? 2 : 0); };
  for (int p = begin; p < end; ++p) ++starts[quadrant(order_[size_t(p)]) + 1];
  for (int q = 0; q < 4; ++q) starts[q + 1] += starts[q];
  int fill[4] = {starts[0], starts[1], starts[2], starts[3]};
  for (int p = begin; p < end; ++p) {
    const int j = order_[size_t(p)];
    scratch_[size_t(begin + fill[quadrant(j)]++)] = j;
  }
  std::copy(scratch_.begin() + begin, scratch_.begin() + end, order_.begin() + begin);

  node.first_child = int(nodes_.size());
  const double h = 0.5 * cell.half;
  for (int q = 0; q < 4; ++q) {
    if (starts[q + 1] == starts[q]) continue;
    Node child;
    child.begin = begin + starts[q];
    child.count = starts[q + 1] - starts[q];
    Cell child_cell;
    child_cell.cx = cell.cx + (q & 1 ? h : -h);
    child_cell.cy = cell.cy + (q & 2 ? h : -h);
    child_cell.half = h;
    nodes_.push_back(child);
    cells_.push_back(child_cell);
    ++node.children;
  }
  nodes_[size_t(index)] = node;
  for (int c = 0; c < node.children; ++c) build(node.first_child + c, depth + 1);
}

Repulsion QuadTree::repulsion(int i, double theta) const {
  Repulsion r;
  const double xi = xs_[i], yi = ys_[i];
  const double theta2 = theta * theta;
  // A cell holding point i has its centre of mass within a diagonal (side * sqrt 2) of
  // it, so side^2 < theta^2 d^2 already fails there when theta^2 < 1/2; only larger
  // thetas need the explicit test.
  const bool check_inside = theta2 >= 0.5;
  // Depth-first; each level pops one node and pushes at most four.
  int stack[4 * kMaxDepth + 8];
  int top = 0;
  stack[top++] = 0;
  while (top > 0) {
    const int index = stack[--top];
    const Node& node = nodes_[size_t(index)];
    const double dx = xi - node.mx, dy = yi - node.my;
    const double d2 = dx * dx + dy * dy;
    if (node.children == 0) {
      if (node.count == 1) {  // a single point: its centre of mass is the point itself
        if (order_[size_t(node.begin)] == i) continue;
        const double w = 1 / (1 + d2);
        r.z += w;
        r.fx += w * w * dx;
        r.fy += w * w * dy;
        continue;
      }
      for (int p = node.begin; p < node.begin + node.count; ++p) {
        const int j = order_[size_t(p)];
        if (j == i) continue;
        const double ex = xi - xs_[j], ey = yi - ys_[j];
        const double w = 1 / (1 + ex * ex + ey * ey);
        r.z += w;
        r.fx += w * w * ex;
        r.fy += w * w * ey;
      }
      continue;
    }
    if (node.side2 < theta2 * d2 &&
        !(check_inside && std::fabs(xi - cells_[size_t(index)].cx) <= cells_[size_t(index)].half &&
          std::fabs(yi - cells_[size_t(index)].cy) <= cells_[size_t(index)].half)) {
      const double w = 1 / (1 + d2);
      r.z += node.count * w;
      r.fx += node.count * w * w * dx;
      r.fy += node.count * w * w * dy;
      continue;
    }
    for (int c = node.children - 1; c >= 0; --c) stack[top++] = node.first_child + c;
  }
  return r;
}

}  // namespace resdyn
