// Alpha filtration of points in R^2 on CGAL's Delaunay_triangulation_2 (exact predicates), and
// of points on a line. Same value rule as in 3D: an attached edge takes the smallest value of
// its triangles, any other edge its own radius (capped by its triangles against rounding).
#include <algorithm>
#include <array>
#include <cstddef>
#include <limits>
#include <memory>
#include <numeric>
#include <utility>
#include <vector>

#include <CGAL/Delaunay_triangulation_2.h>
#include <CGAL/Exact_predicates_inexact_constructions_kernel.h>
#include <CGAL/Spatial_sort_traits_adapter_2.h>
#include <CGAL/Triangulation_data_structure_2.h>
#include <CGAL/Triangulation_face_base_with_info_2.h>
#include <CGAL/Triangulation_vertex_base_with_info_2.h>
#include <CGAL/property_map.h>
#include <CGAL/spatial_sort.h>

#include "alpha_internal.hpp"

namespace tda::alpha_detail {

namespace {

using Kernel = CGAL::Exact_predicates_inexact_constructions_kernel;
using Point = Kernel::Point_2;
using VertexBase = CGAL::Triangulation_vertex_base_with_info_2<index_t, Kernel>;
using FaceBase = CGAL::Triangulation_face_base_with_info_2<index_t, Kernel>;
using DataStructure = CGAL::Triangulation_data_structure_2<VertexBase, FaceBase>;
using Delaunay = CGAL::Delaunay_triangulation_2<Kernel, DataStructure>;

}  // namespace

DelaunayFiltration delaunay_filtration_2(const double* input, std::size_t n, const Control& control,
                                         AlphaStats* stats) {
  StageClock clock;
  DelaunayFiltration filtration;
  filtration.vertex_count = n;
  // Vertices are numbered along CGAL's spatial sort (a Hilbert curve) for locality.
  std::vector<Point> points;
  std::vector<double> sorted(2 * n);
  {
    std::vector<Point> unsorted;
    unsorted.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      unsorted.emplace_back(input[2 * i], input[2 * i + 1]);
    }
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    using SortTraits =
        CGAL::Spatial_sort_traits_adapter_2<Kernel, CGAL::Pointer_property_map<Point>::const_type>;
    CGAL::spatial_sort(order.begin(), order.end(),
                       SortTraits(CGAL::make_property_map(std::as_const(unsorted))));
    filtration.vertex_labels.resize(n);
    points.reserve(n);
    for (std::size_t v = 0; v < n; ++v) {
      filtration.vertex_labels[v] = static_cast<index_t>(order[v]);
      points.push_back(unsorted[order[v]]);
      sorted[2 * v] = input[2 * order[v]];
      sorted[2 * v + 1] = input[2 * order[v] + 1];
    }
  }
  const double* coordinates = sorted.data();
  auto triangulation = std::make_unique<Delaunay>();
  {
    Ticker ticker(control, 0.0, kTriangulationEnd, n);
    Delaunay::Face_handle hint;
    for (std::size_t v = 0; v < n; ++v) {
      const Delaunay::Vertex_handle vertex = triangulation->insert(points[v], hint);
      vertex->info() = static_cast<index_t>(v);
      hint = vertex->face();
      ticker.tick();
    }
  }
  if (triangulation->dimension() < 2) {
    filtration.top = triangulation->dimension();
    filtration.hull_frame = {filtration.vertex_labels[0], filtration.vertex_labels[1]};
    return filtration;
  }
  if (stats != nullptr) {
    stats->triangulation_seconds += clock.lap();
  }
  const auto point = [&](index_t i) { return coordinates + std::size_t{i} * 2; };

  filtration.top = 2;
  filtration.layers.resize(3);
  SimplexLayer& edges = filtration.layers[1];
  SimplexLayer& triangles = filtration.layers[2];
  edges.dim = 1;
  triangles.dim = 2;

  const std::size_t face_count = triangulation->number_of_faces();
  Ticker ticker(control, kTriangulationEnd, kFiltrationEnd, face_count * 3);
  triangles.vertices.reserve(face_count * 3);
  triangles.values.reserve(face_count);
  for (const auto face : triangulation->all_face_handles()) {
    face->info() = kNone;
  }
  index_t next_face = 0;
  for (const auto face : triangulation->finite_face_handles()) {
    face->info() = next_face++;
    std::array<index_t, 3> v = {face->vertex(0)->info(), face->vertex(1)->info(),
                                face->vertex(2)->info()};
    std::sort(v.begin(), v.end());
    triangles.vertices.insert(triangles.vertices.end(), v.begin(), v.end());
    triangles.values.push_back(
        squared_circumradius_triangle_2(point(v[0]), point(v[1]), point(v[2])));
    ticker.tick();
  }

  edges.vertices.reserve(face_count * 3);
  edges.values.reserve(face_count * 3 / 2 + 3);
  filtration.top_cofaces.reserve(face_count * 3 + 6);
  for (const auto& edge : triangulation->finite_edges()) {
    auto face = edge.first;
    int i = edge.second;
    if (triangulation->is_infinite(face)) {
      const auto other = face->neighbor(i);
      i = other->index(face);
      face = other;
    }
    const auto neighbor = face->neighbor(i);
    std::array<index_t, 2> v = {face->vertex(Delaunay::cw(i))->info(),
                                face->vertex(Delaunay::ccw(i))->info()};
    std::sort(v.begin(), v.end());
    const index_t id = face->info();
    const index_t other = neighbor->info();
    bool attached =
        inside_diametral_ball(point(v[0]), point(v[1]), point(face->vertex(i)->info()), 2);
    double cofaces_min = triangles.values[id];
    if (other != kNone) {
      cofaces_min = std::min(cofaces_min, triangles.values[other]);
      attached = attached ||
                 inside_diametral_ball(point(v[0]), point(v[1]),
                                       point(triangulation->mirror_vertex(face, i)->info()), 2);
    }
    const double value =
        attached ? cofaces_min
                 : std::min(cofaces_min, squared_half_length(point(v[0]), point(v[1]), 2));
    edges.vertices.insert(edges.vertices.end(), v.begin(), v.end());
    edges.values.push_back(value);
    filtration.top_cofaces.push_back(id);
    filtration.top_cofaces.push_back(other);
    ticker.tick();
  }
  ticker.finish();
  if (stats != nullptr) {
    stats->filtration_seconds += clock.lap();
  }
  return filtration;
}

DelaunayFiltration delaunay_filtration_1(const double* coordinates, std::size_t n) {
  std::vector<index_t> order(n);
  std::iota(order.begin(), order.end(), index_t{0});
  std::sort(order.begin(), order.end(),
            [&](index_t a, index_t b) { return coordinates[a] < coordinates[b]; });
  DelaunayFiltration filtration;
  filtration.top = 1;
  filtration.vertex_count = n;
  filtration.layers.resize(2);
  SimplexLayer& edges = filtration.layers[1];
  edges.dim = 1;
  for (std::size_t i = 0; i + 1 < n; ++i) {
    const auto [u, v] = std::minmax(order[i], order[i + 1]);
    edges.vertices.push_back(u);
    edges.vertices.push_back(v);
    edges.values.push_back(squared_half_length(&coordinates[u], &coordinates[v], 1));
  }
  return filtration;
}

}  // namespace tda::alpha_detail
