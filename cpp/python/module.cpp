// tda_backend.core._core: the engine's thin extension; tda_backend.core is its typed face.
#include <nanobind/nanobind.h>

#include "common.hpp"
#include "tda/diagram.hpp"

namespace nb = nanobind;

namespace tda::python {
void bind_rips(nb::module_& m);
void bind_alpha(nb::module_& m);
void bind_features(nb::module_& m);
}  // namespace tda::python

NB_MODULE(_core, m) {
  m.doc() = "C++23 persistent-homology engine of tda-platform";
  m.attr("__version__") = TDA_VERSION;
  nb::exception<tda::ResourceError>(m, "ResourceError", PyExc_ValueError);
  nb::exception<tda::Cancelled>(m, "Cancelled");
  nb::class_<tda::python::CancelToken>(m, "CancelToken",
                                       "Raise it from any thread to stop a running computation.")
      .def(nb::init<>())
      .def("cancel", &tda::python::CancelToken::cancel, "Ask the computation to stop.")
      .def_prop_ro("cancelled", &tda::python::CancelToken::cancelled);
  tda::python::bind_rips(m);
  tda::python::bind_alpha(m);
  tda::python::bind_features(m);
}
