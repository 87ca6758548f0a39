// Alpha filtration of points in R^d, d >= 4, on CGAL's dD Delaunay_triangulation (Epick_d).
// Faces are enumerated from the full cells down, one dimension at a time, by sorting the
// (face, coface) incidences; values follow the same top-down rule as in 2D and 3D.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

// CGAL's dD kernel does its linear algebra with Eigen; the build must put Eigen3 on the include
// path (CGAL::Eigen3_support). Without it, dimensions >= 4 report that they are unavailable.
#if __has_include(<Eigen/Dense>)
#ifndef CGAL_EIGEN3_ENABLED
#define CGAL_EIGEN3_ENABLED
#endif
#define TDA_ALPHA_HAS_EPICK_D 1
#include <CGAL/Delaunay_triangulation.h>
#include <CGAL/Epick_d.h>
#include <CGAL/Spatial_sort_traits_adapter_d.h>
#include <CGAL/Triangulation_data_structure.h>
#include <CGAL/Triangulation_full_cell.h>
#include <CGAL/Triangulation_vertex.h>
#include <CGAL/property_map.h>
#include <CGAL/spatial_sort.h>
#endif

#include <stdexcept>

#include "alpha_internal.hpp"

namespace tda::alpha_detail {

#ifdef TDA_ALPHA_HAS_EPICK_D

namespace {

using Kernel = CGAL::Epick_d<CGAL::Dynamic_dimension_tag>;
using Point = Kernel::Point_d;
using Vertex = CGAL::Triangulation_vertex<Kernel, index_t>;
using FullCell = CGAL::Triangulation_full_cell<Kernel>;
using DataStructure = CGAL::Triangulation_data_structure<Kernel::Dimension, Vertex, FullCell>;
using Delaunay = CGAL::Delaunay_triangulation<Kernel, DataStructure>;

// Inside tests closer to the sphere than this (relative) are decided in exact arithmetic.
constexpr double kInsideMargin = 1e-10;

// Enumerates the (k-1)-faces of the k-simplices of `upper`, fills `lower` with them and their
// alpha values, and records the incidences (upper.facets, or top_cofaces when upper is the top).
void derive_faces(SimplexLayer& upper, SimplexLayer& lower, std::vector<index_t>* top_cofaces,
                  const double* coordinates, std::size_t dim, const Control& control) {
  const auto k = static_cast<std::size_t>(upper.dim);
  const std::size_t face_width = k;  // vertices of a (k-1)-face
  const std::size_t count = upper.size();
  const std::size_t incidences = count * (k + 1);
  std::vector<index_t> keys(incidences * face_width);
  for (std::size_t s = 0; s < count; ++s) {
    const auto vertices = upper.simplex(s);
    for (std::size_t i = 0; i <= k; ++i) {
      index_t* key = &keys[(s * (k + 1) + i) * face_width];
      for (std::size_t j = 0, out = 0; j <= k; ++j) {
        if (j != i) {
          key[out++] = vertices[j];
        }
      }
    }
  }
  std::vector<std::size_t> order(incidences);
  std::iota(order.begin(), order.end(), std::size_t{0});
  const auto key_of = [&](std::size_t r) { return &keys[r * face_width]; };
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return std::lexicographical_compare(key_of(a), key_of(a) + face_width, key_of(b),
                                        key_of(b) + face_width);
  });
  control.check_cancelled();

  lower.dim = static_cast<int>(k) - 1;
  if (top_cofaces == nullptr) {
    upper.facets.assign(incidences, kNone);
  }
  std::vector<const double*> simplex(face_width);
  std::vector<double> center(dim);
  Ticker ticker(control, kTriangulationEnd, kFiltrationEnd, incidences);
  for (std::size_t first = 0; first < incidences;) {
    std::size_t last = first + 1;
    while (last < incidences && std::equal(key_of(order[first]), key_of(order[first]) + face_width,
                                           key_of(order[last]))) {
      ++last;
    }
    const auto face = static_cast<index_t>(lower.size());
    const index_t* vertices = key_of(order[first]);
    lower.vertices.insert(lower.vertices.end(), vertices, vertices + face_width);
    for (std::size_t j = 0; j < face_width; ++j) {
      simplex[j] = coordinates + std::size_t{vertices[j]} * dim;
    }
    bool ill_conditioned = false;
    const double own = squared_circumradius(simplex, dim, center.data(), &ill_conditioned);
    double cofaces_min = std::numeric_limits<double>::infinity();
    bool attached = false;
    for (std::size_t r = first; r < last; ++r) {
      const std::size_t s = order[r] / (k + 1);
      const std::size_t i = order[r] % (k + 1);
      cofaces_min = std::min(cofaces_min, upper.values[s]);
      const double* x = coordinates + std::size_t{upper.simplex(s)[i]} * dim;
      double distance2 = 0;
      for (std::size_t c = 0; c < dim; ++c) {
        distance2 += (x[c] - center[c]) * (x[c] - center[c]);
      }
      if (!attached) {
        // Near the sphere, or around a face too flat for floating point: decide exactly.
        attached = (ill_conditioned || std::abs(distance2 - own) <= kInsideMargin * own)
                       ? inside_circumsphere_exact(simplex, dim, x)
                       : distance2 < own;
      }
      if (top_cofaces == nullptr) {
        upper.facets[s * (k + 1) + i] = face;
      }
      ticker.tick();
    }
    if (top_cofaces != nullptr) {
      top_cofaces->push_back(static_cast<index_t>(order[first] / (k + 1)));
      top_cofaces->push_back(last - first > 1 ? static_cast<index_t>(order[first + 1] / (k + 1))
                                              : kNone);
    }
    lower.values.push_back(attached ? cofaces_min : std::min(own, cofaces_min));
    first = last;
  }
}

}  // namespace

DelaunayFiltration delaunay_filtration_d(const double* coordinates, std::size_t n, std::size_t dim,
                                         const Control& control, AlphaStats* stats) {
  StageClock clock;
  std::vector<Point> points;
  points.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    points.emplace_back(static_cast<int>(dim), coordinates + i * dim, coordinates + (i + 1) * dim);
  }
  DelaunayFiltration filtration;
  filtration.vertex_count = n;
  Delaunay triangulation(static_cast<int>(dim));
  {
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    using SortTraits =
        CGAL::Spatial_sort_traits_adapter_d<Kernel, CGAL::Pointer_property_map<Point>::const_type>;
    CGAL::spatial_sort(order.begin(), order.end(),
                       SortTraits(CGAL::make_property_map(std::as_const(points))));
    Ticker ticker(control, 0.0, kTriangulationEnd, n);
    Delaunay::Full_cell_handle hint;
    for (const std::size_t i : order) {
      const Delaunay::Vertex_handle vertex = triangulation.insert(points[i], hint);
      vertex->data() = static_cast<index_t>(i);
      hint = vertex->full_cell();
      ticker.tick();
    }
  }
  const int current = triangulation.current_dimension();
  if (current < static_cast<int>(dim)) {
    filtration.top = current;
    const auto cell = triangulation.finite_full_cells_begin();
    for (int i = 0; i <= current; ++i) {
      filtration.hull_frame.push_back(cell->vertex(i)->data());
    }
    return filtration;
  }
  if (stats != nullptr) {
    stats->triangulation_seconds += clock.lap();
  }

  const int top = static_cast<int>(dim);
  filtration.top = top;
  filtration.layers.resize(dim + 1);
  SimplexLayer& cells = filtration.layers[dim];
  cells.dim = top;
  std::vector<const double*> simplex(dim + 1);
  for (auto cell = triangulation.finite_full_cells_begin();
       cell != triangulation.finite_full_cells_end(); ++cell) {
    const std::size_t first = cells.vertices.size();
    for (int i = 0; i <= top; ++i) {
      cells.vertices.push_back(cell->vertex(i)->data());
    }
    std::sort(cells.vertices.begin() + static_cast<std::ptrdiff_t>(first), cells.vertices.end());
    for (std::size_t j = 0; j <= dim; ++j) {
      simplex[j] = coordinates + std::size_t{cells.vertices[first + j]} * dim;
    }
    cells.values.push_back(squared_circumradius(simplex, dim));
  }
  triangulation.clear();
  for (int k = top; k >= 2; --k) {
    derive_faces(filtration.layers[static_cast<std::size_t>(k)],
                 filtration.layers[static_cast<std::size_t>(k) - 1],
                 k == top ? &filtration.top_cofaces : nullptr, coordinates, dim, control);
  }
  if (stats != nullptr) {
    stats->filtration_seconds += clock.lap();
  }
  return filtration;
}

#else

DelaunayFiltration delaunay_filtration_d(const double* /*coordinates*/, std::size_t /*n*/,
                                         std::size_t dim, const Control& /*control*/,
                                         AlphaStats* /*stats*/) {
  throw std::invalid_argument("alpha complexes of points spanning " + std::to_string(dim) +
                              " >= 4 dimensions need the engine built with Eigen3");
}

#endif

}  // namespace tda::alpha_detail
