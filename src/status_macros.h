// Early-return helpers for absl::Status, private to the library.
#ifndef SALESCYCLE_SRC_STATUS_MACROS_H_
#define SALESCYCLE_SRC_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define SC_RETURN_IF_ERROR(expr)                  \
  do {                                            \
    ::absl::Status sc_status_ = (expr);           \
    if (!sc_status_.ok()) return sc_status_;      \
  } while (0)

#define SC_STATUS_CONCAT_INNER_(a, b) a##b
#define SC_STATUS_CONCAT_(a, b) SC_STATUS_CONCAT_INNER_(a, b)

#define SC_ASSIGN_OR_RETURN(lhs, expr) \
  SC_ASSIGN_OR_RETURN_IMPL_(SC_STATUS_CONCAT_(sc_statusor_, __LINE__), lhs, expr)

#define SC_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                              \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // SALESCYCLE_SRC_STATUS_MACROS_H_
