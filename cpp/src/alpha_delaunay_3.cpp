// Alpha filtration of points in R^3 on CGAL's Delaunay_triangulation_3 (exact predicates).
// Values go from the tetrahedra down: a face attached by a coface (an opposite vertex strictly
// inside its smallest circumsphere) takes the smallest value of its cofaces, any other face its
// own radius; taking the minimum with every coface keeps the filtration monotone under rounding.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <numeric>
#include <utility>
#include <vector>

#include <CGAL/Delaunay_triangulation_3.h>
#include <CGAL/Exact_predicates_inexact_constructions_kernel.h>
#include <CGAL/Spatial_sort_traits_adapter_3.h>
#include <CGAL/Triangulation_cell_base_with_info_3.h>
#include <CGAL/Triangulation_data_structure_3.h>
#include <CGAL/Triangulation_vertex_base_with_info_3.h>
#include <CGAL/property_map.h>
#include <CGAL/spatial_sort.h>

#include "alpha_internal.hpp"

namespace tda::alpha_detail {

namespace {

using Kernel = CGAL::Exact_predicates_inexact_constructions_kernel;
using Point = Kernel::Point_3;
using VertexBase = CGAL::Triangulation_vertex_base_with_info_3<index_t, Kernel>;
using CellBase = CGAL::Triangulation_cell_base_with_info_3<index_t, Kernel>;
using DataStructure = CGAL::Triangulation_data_structure_3<VertexBase, CellBase>;
using Delaunay = CGAL::Delaunay_triangulation_3<Kernel, DataStructure>;

constexpr double kInfinity = std::numeric_limits<double>::infinity();

// Numbers the points along a Hilbert curve (CGAL's spatial sort): consecutive vertices are
// close, which keeps the triangulation's location steps short and every later pass over
// vertices, edges and their coordinates cache friendly. Returns the input index of each vertex.
std::vector<index_t> spatial_numbering(const double* coordinates, std::size_t n,
                                       std::vector<Point>& points, std::vector<double>& sorted) {
  std::vector<Point> input;
  input.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    input.emplace_back(coordinates[3 * i], coordinates[3 * i + 1], coordinates[3 * i + 2]);
  }
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  using SortTraits =
      CGAL::Spatial_sort_traits_adapter_3<Kernel, CGAL::Pointer_property_map<Point>::const_type>;
  CGAL::spatial_sort(order.begin(), order.end(),
                     SortTraits(CGAL::make_property_map(std::as_const(input))));
  std::vector<index_t> labels(n);
  points.clear();
  points.reserve(n);
  sorted.resize(3 * n);
  for (std::size_t v = 0; v < n; ++v) {
    labels[v] = static_cast<index_t>(order[v]);
    points.push_back(input[order[v]]);
    std::copy_n(coordinates + 3 * order[v], 3, &sorted[3 * v]);
  }
  return labels;
}

void insert_points(Delaunay& triangulation, const std::vector<Point>& points,
                   const Control& control) {
  Ticker ticker(control, 0.0, kTriangulationEnd, points.size());
  Delaunay::Cell_handle hint;
  for (std::size_t v = 0; v < points.size(); ++v) {
    const Delaunay::Vertex_handle vertex = triangulation.insert(points[v], hint);
    vertex->info() = static_cast<index_t>(v);
    hint = vertex->cell();
    ticker.tick();
  }
}

// Affinely independent points spanning the hull of a degenerate (coplanar or collinear) input.
std::vector<index_t> hull_frame(const std::vector<Point>& points, int dimension) {
  std::vector<index_t> frame = {0, 1};
  if (dimension == 2) {
    for (index_t i = 2; i < points.size(); ++i) {
      if (!CGAL::collinear(points[0], points[1], points[i])) {
        frame.push_back(i);
        break;
      }
    }
  }
  return frame;
}

}  // namespace

DelaunayFiltration delaunay_filtration_3(const double* input, std::size_t n, const Control& control,
                                         AlphaStats* stats) {
  StageClock clock;
  std::vector<Point> points;
  std::vector<double> sorted;
  DelaunayFiltration filtration;
  filtration.vertex_count = n;
  filtration.vertex_labels = spatial_numbering(input, n, points, sorted);
  const double* coordinates = sorted.data();
  auto triangulation = std::make_unique<Delaunay>();
  insert_points(*triangulation, points, control);
  if (triangulation->dimension() < 3) {
    filtration.top = triangulation->dimension();
    for (const index_t v : hull_frame(points, triangulation->dimension())) {
      filtration.hull_frame.push_back(filtration.vertex_labels[v]);
    }
    return filtration;
  }
  if (stats != nullptr) {
    stats->triangulation_seconds += clock.lap();
  }
  const auto point = [&](index_t i) { return coordinates + std::size_t{i} * 3; };

  filtration.top = 3;
  filtration.layers.resize(4);
  SimplexLayer& edges = filtration.layers[1];
  SimplexLayer& triangles = filtration.layers[2];
  SimplexLayer& tetrahedra = filtration.layers[3];
  edges.dim = 1;
  triangles.dim = 2;
  tetrahedra.dim = 3;

  // Tetrahedra: their own circumradius.
  const std::size_t cell_count = triangulation->number_of_finite_cells();
  Ticker ticker(control, kTriangulationEnd, kFiltrationEnd, cell_count * 4);
  tetrahedra.vertices.reserve(cell_count * 4);
  tetrahedra.values.reserve(cell_count);
  for (const auto cell : triangulation->all_cell_handles()) {
    cell->info() = kNone;
  }
  // attached_masks[c] bit i: vertex i of cell c (CGAL's order) is inside the diametral ball of
  // the facet opposite it.
  std::vector<std::uint8_t> attached_masks;
  attached_masks.reserve(cell_count);
  index_t next_cell = 0;
  for (const auto cell : triangulation->finite_cell_handles()) {
    cell->info() = next_cell++;
    const std::array<index_t, 4> corners = {cell->vertex(0)->info(), cell->vertex(1)->info(),
                                            cell->vertex(2)->info(), cell->vertex(3)->info()};
    int mask = 0;
    tetrahedra.values.push_back(squared_circumradius_tetrahedron(
        point(corners[0]), point(corners[1]), point(corners[2]), point(corners[3]), &mask));
    if (mask < 0) {
      // Too flat for floating point: ask the exact predicate.
      mask = 0;
      for (int i = 0; i < 4; ++i) {
        if (CGAL::side_of_bounded_sphere(cell->vertex((i + 1) & 3)->point(),
                                         cell->vertex((i + 2) & 3)->point(),
                                         cell->vertex((i + 3) & 3)->point(),
                                         cell->vertex(i)->point()) == CGAL::ON_BOUNDED_SIDE) {
          mask |= 1 << i;
        }
      }
    }
    attached_masks.push_back(static_cast<std::uint8_t>(mask));
    std::array<index_t, 4> ascending = corners;
    std::sort(ascending.begin(), ascending.end());
    tetrahedra.vertices.insert(tetrahedra.vertices.end(), ascending.begin(), ascending.end());
    ticker.tick();
  }

  // Triangles: each facet once, from the finite cell of smaller index.
  triangles.vertices.reserve(cell_count * 6);
  triangles.values.reserve(cell_count * 2);
  filtration.top_cofaces.reserve(cell_count * 4);
  for (const auto cell : triangulation->finite_cell_handles()) {
    const index_t id = cell->info();
    for (int i = 0; i < 4; ++i) {
      const auto neighbor = cell->neighbor(i);
      const index_t other = neighbor->info();
      if (other != kNone && other < id) {
        continue;
      }
      std::array<index_t, 3> v = {cell->vertex((i + 1) & 3)->info(),
                                  cell->vertex((i + 2) & 3)->info(),
                                  cell->vertex((i + 3) & 3)->info()};
      std::sort(v.begin(), v.end());
      bool attached = ((attached_masks[id] >> i) & 1U) != 0;
      double cofaces_min = tetrahedra.values[id];
      if (other != kNone) {
        cofaces_min = std::min(cofaces_min, tetrahedra.values[other]);
        attached = attached || ((attached_masks[other] >> neighbor->index(cell)) & 1U) != 0;
      }
      const double value = attached
                               ? cofaces_min
                               : std::min(cofaces_min, squared_circumradius_triangle_3(
                                                           point(v[0]), point(v[1]), point(v[2])));
      triangles.vertices.insert(triangles.vertices.end(), v.begin(), v.end());
      triangles.values.push_back(value);
      filtration.top_cofaces.push_back(id);
      filtration.top_cofaces.push_back(other);
    }
    ticker.tick();
  }
  triangulation.reset();

  // Edges: the vertex adjacency in compressed rows, row u holding the neighbours v > u.
  std::vector<std::size_t> row_start(n + 1, 0);
  const std::size_t triangle_count = triangles.size();
  for (std::size_t t = 0; t < triangle_count; ++t) {
    const index_t* v = &triangles.vertices[3 * t];
    row_start[v[0] + 1] += 2;
    row_start[v[1] + 1] += 1;
  }
  std::partial_sum(row_start.begin(), row_start.end(), row_start.begin());
  std::vector<index_t> neighbors(row_start[n]);
  {
    std::vector<std::size_t> fill(row_start.begin(), row_start.end() - 1);
    for (std::size_t t = 0; t < triangle_count; ++t) {
      const index_t* v = &triangles.vertices[3 * t];
      neighbors[fill[v[0]]++] = v[1];
      neighbors[fill[v[0]]++] = v[2];
      neighbors[fill[v[1]]++] = v[2];
    }
  }
  std::vector<std::size_t> edge_start(n + 1, 0);
  for (std::size_t u = 0; u < n; ++u) {
    auto first = neighbors.begin() + static_cast<std::ptrdiff_t>(row_start[u]);
    auto last = neighbors.begin() + static_cast<std::ptrdiff_t>(row_start[u + 1]);
    std::sort(first, last);
    const auto unique_end = std::unique(first, last);
    const auto out = neighbors.begin() + static_cast<std::ptrdiff_t>(edge_start[u]);
    std::copy(first, unique_end, out);
    edge_start[u + 1] = edge_start[u] + static_cast<std::size_t>(unique_end - first);
  }
  const std::size_t edge_count = edge_start[n];
  neighbors.resize(edge_count);
  neighbors.shrink_to_fit();
  const auto edge_index = [&](index_t u, index_t v) {
    const auto first = neighbors.begin() + static_cast<std::ptrdiff_t>(edge_start[u]);
    const auto last = neighbors.begin() + static_cast<std::ptrdiff_t>(edge_start[u + 1]);
    return static_cast<index_t>(std::lower_bound(first, last, v) - neighbors.begin());
  };

  edges.vertices.resize(2 * edge_count);
  edges.values.assign(edge_count, kInfinity);
  for (index_t u = 0; u < n; ++u) {
    for (std::size_t e = edge_start[u]; e < edge_start[u + 1]; ++e) {
      edges.vertices[2 * e] = u;
      edges.vertices[2 * e + 1] = neighbors[e];
    }
  }
  // Each triangle is a coface of its three edges: it lowers their minimum and attaches them
  // when its third vertex lies strictly inside their diametral ball.
  std::vector<std::uint8_t> attached(edge_count, 0);
  triangles.facets.resize(3 * triangle_count);
  for (std::size_t t = 0; t < triangle_count; ++t) {
    const index_t* v = &triangles.vertices[3 * t];
    const double value = triangles.values[t];
    for (int i = 0; i < 3; ++i) {
      // The face opposite vertex i.
      const index_t a = v[i == 0 ? 1 : 0];
      const index_t b = v[i == 2 ? 1 : 2];
      const index_t e = edge_index(a, b);
      triangles.facets[3 * t + static_cast<std::size_t>(i)] = e;
      edges.values[e] = std::min(edges.values[e], value);
      if (attached[e] == 0 && inside_diametral_ball(point(a), point(b), point(v[i]), 3)) {
        attached[e] = 1;
      }
    }
    ticker.tick();
  }
  for (std::size_t e = 0; e < edge_count; ++e) {
    if (attached[e] == 0) {
      edges.values[e] = std::min(
          edges.values[e],
          squared_half_length(point(edges.vertices[2 * e]), point(edges.vertices[2 * e + 1]), 3));
    }
  }
  ticker.finish();
  if (stats != nullptr) {
    stats->filtration_seconds += clock.lap();
  }
  return filtration;
}

}  // namespace tda::alpha_detail
