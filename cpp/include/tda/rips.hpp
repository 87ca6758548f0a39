// Vietoris–Rips persistent homology by persistent cohomology with clearing, implicit
// coboundaries in the combinatorial number system, apparent and emergent pairs, and
// union-find in dimension 0.
#pragma once

#include <cstdint>
#include <optional>
#include <variant>

#include "tda/diagram.hpp"
#include "tda/distance.hpp"

namespace tda {

struct RipsOptions {
  int maxdim = 1;
  // Largest diameter of a simplex in the filtration. Unset: the enclosing radius of a dense
  // matrix (which changes no finite interval) and +inf for a sparse one.
  std::optional<value_t> threshold;
  std::uint64_t modulus = 2;
  unsigned n_threads = 1;
  bool representatives = false;
};

using RipsInput = std::variant<DenseDistances, SparseDistances>;

// Throws ResourceError when simplices of up to maxdim + 1 dimensions on n vertices have
// combinatorial indices beyond 64 bits (less the bits of coefficients mod p); cheap, so
// callers run it before building distances.
void check_index_range(std::size_t n, int maxdim, std::uint64_t modulus);

// Validates options against the input; throws std::invalid_argument naming the problem and
// ResourceError when simplex indices of the requested dimension would overflow 64 bits.
void validate(const RipsInput& input, const RipsOptions& options);

// Counts of simplices per dimension up to maxdim + 1 (exact for a complete graph, an upper
// bound from a degree-ordered orientation otherwise) and the memory the computation needs.
[[nodiscard]] Estimate estimate_rips(const RipsInput& input, const RipsOptions& options);

// The threshold the computation uses for these options.
[[nodiscard]] value_t effective_threshold(const RipsInput& input, const RipsOptions& options);

// Throws std::invalid_argument for bad options, ResourceError when the estimate exceeds
// control.memory_budget_bytes, Cancelled when control.cancel is raised.
[[nodiscard]] PersistenceResult vietoris_rips(const RipsInput& input, const RipsOptions& options,
                                              const Control& control = {});

}  // namespace tda
