// A quadtree over 2-D points, for the Barnes-Hut approximation of the repulsive forces
// of t-SNE (van der Maaten 2014): a cell that looks small from a point (side / distance
// < theta) acts as one body of its point count at its centre of mass.
#pragma once

#include <cstddef>
#include <vector>

namespace resdyn {

// The t-SNE repulsion on one point i from all others, with w_ij = 1 / (1 + |y_i - y_j|^2):
//   z = sum_j w_ij,   (fx, fy) = sum_j w_ij^2 (y_i - y_j).
struct Repulsion {
  double z = 0, fx = 0, fy = 0;
};

class QuadTree {
 public:
  // Builds the tree over points (xs[i], ys[i]), i < count; the arrays must outlive it.
  QuadTree(const double* xs, const double* ys, int count);

  // The repulsion on point i. theta = 0 visits every point (the exact sums, up to the
  // order of summation). A cell containing point i is always opened.
  Repulsion repulsion(int i, double theta) const;

  int nodes() const { return int(nodes_.size()); }

  // The points in tree order: neighbours in the plane are near each other in this
  // order, so visiting points this way keeps the tree's hot nodes in cache.
  int point_in_tree_order(int position) const { return order_[std::size_t(position)]; }

 private:
  // What the traversal reads, kept small (40 bytes) so that the tree of 10,000 points
  // stays in a core's L2 cache.
  struct Node {
    double mx = 0, my = 0;  // centre of mass of its points
    double side2 = 0;       // the cell's side, squared
    int count = 0;          // its points: order_[begin .. begin + count)
    int begin = 0;
    int first_child = -1;  // children are nodes [first_child, first_child + children)
    int children = 0;
  };
  // The square cell of a node: centre and half its side (read only for large theta).
  struct Cell {
    double cx = 0, cy = 0, half = 0;
  };
  void build(int node, int depth);

  const double* xs_;
  const double* ys_;
  std::vector<Node> nodes_;
  std::vector<Cell> cells_;  // cells_[k] belongs to nodes_[k]
  std::vector<int> order_;   // point indices, grouped by cell
  std::vector<int> scratch_;
};

}  // namespace resdyn
