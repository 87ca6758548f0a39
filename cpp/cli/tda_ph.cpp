// tda-ph: persistent homology from the command line, with Ripser's formats, flags and layout.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "tda/alpha.hpp"
#include "tda/io.hpp"
#include "tda/rips.hpp"

namespace {

struct Arguments {
  std::string format = "lower-distance";
  int dim = 1;
  std::optional<double> threshold;
  std::uint64_t modulus = 2;
  double ratio = 1;
  std::string output = "text";
  std::string metric = "euclidean";
  std::string complex = "rips";
  unsigned threads = 1;
  bool representatives = false;
  std::string file;
};

std::string range_line(const tda::DenseDistances& d) {
  const auto& lower = d.lower_triangle();
  if (lower.empty()) {
    return "value range: [inf,-inf]\n";
  }
  const auto [lo, hi] = std::minmax_element(lower.begin(), lower.end());
  return fmt::format("value range: [{:g},{:g}]\n", *lo, *hi);
}

int run(const Arguments& args) {
  std::ifstream file;
  if (!args.file.empty()) {
    file.open(args.file, std::ios::binary);
    if (!file) {
      throw std::invalid_argument(fmt::format("cannot open '{}'", args.file));
    }
  }
  std::istream& in = args.file.empty() ? std::cin : file;
  const tda::InputFormat format = args.complex == "alpha" ? tda::InputFormat::point_cloud
                                                          : tda::parse_input_format(args.format);
  tda::InputData data = tda::read_input(in, format);

  std::ostringstream header;
  tda::PersistenceResult result;
  std::vector<std::pair<std::string, std::string>> extra;
  if (args.complex == "alpha") {
    if (args.format != "point-cloud" && args.format != "lower-distance") {
      throw std::invalid_argument("the alpha complex needs --format point-cloud");
    }
    tda::AlphaOptions options;
    options.maxdim = args.dim;
    options.modulus = args.modulus;
    options.representatives = args.representatives;
    header << fmt::format("point cloud with {} points in dimension {}\n", data.n, data.dim);
    result = tda::alpha_complex(data.coordinates.data(), data.n, data.dim, options);
    extra.emplace_back("complex", "\"alpha\"");
    extra.emplace_back("values", "\"squared_radius\"");
  } else if (args.complex == "rips") {
    tda::RipsOptions options;
    options.maxdim = args.dim;
    options.threshold = args.threshold;
    options.modulus = args.modulus;
    options.n_threads = args.threads;
    options.representatives = args.representatives;
    tda::check_index_range(data.n, args.dim, args.modulus);
    std::optional<tda::RipsInput> input;
    if (data.is_point_cloud()) {
      const tda::Metric metric = tda::parse_metric(args.metric);
      header << fmt::format("point cloud with {} points in dimension {}\n", data.n, data.dim);
      if (args.threshold) {
        if (*args.threshold < 0) {
          throw std::invalid_argument(
              fmt::format("threshold must be a non-negative number, got {}", *args.threshold));
        }
        input.emplace(tda::sparse_distances(data.points(), metric, *args.threshold, args.threads));
      } else {
        data.dense = tda::dense_distances(data.points(), metric, args.threads);
      }
    }
    if (data.dense) {
      header << range_line(*data.dense);
      const double radius = tda::enclosing_radius(*data.dense);
      if (!args.threshold || *args.threshold >= radius) {
        header << fmt::format(
            "distance matrix with {} points, using threshold at enclosing radius {:g}\n", data.n,
            args.threshold ? *args.threshold : radius);
      }
      input.emplace(std::move(*data.dense));
      if (args.threshold && *args.threshold < radius) {
        const auto& dense = std::get<tda::DenseDistances>(*input);
        const std::size_t n = dense.size();
        header << fmt::format("sparse distance matrix with {} points and {}/{} entries\n", n,
                              tda::sparsify(dense, *args.threshold).edge_count(), n * (n - 1) / 2);
      }
    } else if (data.sparse) {
      const std::size_t n = data.sparse->size();
      header << fmt::format("sparse distance matrix with {} points and {}/{} entries\n", n,
                            data.sparse->edge_count(), n * (n - 1) / 2);
      input.emplace(std::move(*data.sparse));
    }
    result = tda::vietoris_rips(*input, options);
    extra.emplace_back("complex", "\"vietoris-rips\"");
    extra.emplace_back("threshold", tda::format_value(tda::effective_threshold(*input, options)));
  } else {
    throw std::invalid_argument(
        fmt::format("unknown complex '{}': expected rips or alpha", args.complex));
  }
  extra.emplace_back("n_points", std::to_string(data.n));
  extra.emplace_back("modulus", std::to_string(args.modulus));

  if (args.output == "json") {
    tda::write_json(std::cout, result, extra, args.ratio);
  } else {
    std::cout << header.str();
    tda::write_intervals_text(std::cout, result, args.ratio);
  }
  return 0;
}

int parse_and_run(int argc, char** argv) {
  CLI::App app{"tda-ph: persistent homology of Vietoris-Rips and alpha complexes"};
  Arguments args;
  app.add_option("--format", args.format,
                 "input format: point-cloud, lower-distance (default), upper-distance, distance, "
                 "sparse, dipha, binary");
  app.add_option("--dim", args.dim, "compute persistent homology up to dimension k")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--threshold", args.threshold, "compute Rips complexes up to diameter t");
  app.add_option("--modulus", args.modulus, "compute homology with coefficients in Z/p");
  app.add_option("--ratio", args.ratio, "only show persistence pairs with death/birth ratio > r");
  app.add_option("--output", args.output, "text (Ripser's layout) or json")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--metric", args.metric,
                 "point-cloud metric: euclidean, manhattan, chebyshev, cosine");
  app.add_option("--complex", args.complex, "rips (default) or alpha")
      ->check(CLI::IsMember({"rips", "alpha"}));
  app.add_option("--threads", args.threads, "worker threads")->check(CLI::Range(1U, 1024U));
  app.add_flag("--representatives", args.representatives,
               "with --output json, list each pair's birth and death simplices");
  app.add_option("file", args.file, "input file (standard input when omitted)");
  CLI11_PARSE(app, argc, argv);
  return run(args);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return parse_and_run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "tda-ph: error: " << e.what() << '\n';
  } catch (...) {
    std::cerr << "tda-ph: error: unknown failure\n";
  }
  return 1;
}
