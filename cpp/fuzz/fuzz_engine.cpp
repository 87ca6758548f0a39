// libFuzzer target: the engine behind tda-ph on small inputs. The first four bytes choose the
// computation (input format or the alpha complex, maxdim, modulus, threshold); the rest is the
// input file. Every diagram the engine returns must be well formed: finite births, deaths not
// before births, and no finite death past the threshold.
#include <array>
#include <optional>

#include "fuzz_common.hpp"
#include "tda/alpha.hpp"
#include "tda/rips.hpp"

namespace {

constexpr std::size_t kMaxPoints = 24;
constexpr std::size_t kMaxDim = 4;
constexpr std::size_t kMemoryBudget = std::size_t{256} << 20;

constexpr std::array kFormats = {tda::InputFormat::point_cloud,    tda::InputFormat::lower_distance,
                                 tda::InputFormat::upper_distance, tda::InputFormat::distance,
                                 tda::InputFormat::sparse,         tda::InputFormat::dipha,
                                 tda::InputFormat::binary};
constexpr std::array<std::uint64_t, 5> kModuli = {2, 3, 5, 7, 4};  // 4 must be refused

void check_result(const tda::PersistenceResult& result, int maxdim,
                  std::optional<double> threshold) {
  using tda::fuzz::require;
  require(result.diagrams.size() <= static_cast<std::size_t>(maxdim) + 1);
  for (const auto& diagram : result.diagrams) {
    for (const auto& pair : diagram) {
      require(std::isfinite(pair.birth));
      require(pair.death >= pair.birth);
      require(!threshold || pair.essential() || pair.death <= *threshold);
    }
  }
}

void run_rips(tda::InputData& data, int maxdim, std::uint64_t modulus,
              std::optional<double> threshold, const tda::Control& control) {
  tda::RipsOptions options;
  options.maxdim = maxdim;
  options.modulus = modulus;
  options.threshold = threshold;
  std::optional<tda::RipsInput> input;
  if (data.is_point_cloud()) {
    if (threshold) {
      input.emplace(tda::sparse_distances(data.points(), tda::Metric::euclidean, *threshold, 1));
    } else {
      input.emplace(tda::dense_distances(data.points(), tda::Metric::euclidean, 1));
    }
  } else if (data.dense) {
    input.emplace(std::move(*data.dense));
  } else {
    input.emplace(std::move(*data.sparse));
  }
  check_result(tda::vietoris_rips(*input, options, control), maxdim, threshold);
}

void run_alpha(const tda::InputData& data, int maxdim, std::uint64_t modulus,
               const tda::Control& control) {
  tda::AlphaOptions options;
  options.maxdim = maxdim;
  options.modulus = modulus;
  const auto result =
      tda::alpha_complex(data.coordinates.data(), data.n, data.dim, options, control);
  check_result(result, maxdim < 0 ? static_cast<int>(data.dim) : maxdim, std::nullopt);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  if (size < 4) {
    return 0;
  }
  const bool alpha = bytes[0] >= kFormats.size();
  const tda::InputFormat format =
      alpha ? tda::InputFormat::point_cloud : kFormats[bytes[0] % kFormats.size()];
  const int maxdim = bytes[1] % 4 - (alpha ? 1 : 0);  // alpha: -1 means every dimension
  const std::uint64_t modulus = kModuli[bytes[2] % kModuli.size()];
  const std::optional<double> threshold =
      bytes[3] == 0 ? std::nullopt : std::optional<double>(bytes[3] / 16.0);

  std::istringstream in(std::string(reinterpret_cast<const char*>(bytes + 4), size - 4),
                        std::ios::in | std::ios::binary);
  try {
    tda::InputData data = tda::read_input(in, format);
    if (data.n > kMaxPoints || data.dim > kMaxDim) {
      return 0;
    }
    tda::Control control;
    control.memory_budget_bytes = kMemoryBudget;
    if (alpha) {
      run_alpha(data, maxdim, modulus, control);
    } else {
      run_rips(data, maxdim, modulus, threshold, control);
    }
  } catch (const std::invalid_argument&) {
  } catch (const tda::ResourceError&) {
  }
  return 0;
}
