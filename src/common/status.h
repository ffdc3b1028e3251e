// Status and StatusOr<T>: how awan reports real failures (bad input, I/O). "Does not fit" is never a
// Status: it is data (see core/fit_reason.h). No exceptions cross a public awan API.
#pragma once

#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace awan {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kOutOfRange,
  kInternal,
  kUnavailable,
  kIoError,
  kDataLoss,
  kResourceExhausted,
  kPermissionDenied,  // the caller is known and may not do this (HTTP 403)
  kUnauthenticated    // the caller is not known: no credentials, or bad ones (HTTP 401)
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "INVALID_ARGUMENT: message"
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status FailedPrecondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
// Stored data is damaged or was tampered with.
inline Status DataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
// A limit on the caller (a rate, a count): try again later (HTTP 429).
inline Status ResourceExhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
inline Status PermissionDenied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }
inline Status Unauthenticated(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }

// Holds either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : v_(std::move(value)) {}         // NOLINT(runtime/explicit)
  StatusOr(Status status) : v_(std::move(status)) {}  // NOLINT(runtime/explicit); REQUIRES: !status.ok()
  // Converting construction from anything T can be built from (e.g. unique_ptr<Derived>).
  template <
      typename U,
      std::enable_if_t<std::is_convertible_v<U&&, T> && !std::is_same_v<std::decay_t<U>, Status> &&
                           !std::is_same_v<std::decay_t<U>, StatusOr> && !std::is_same_v<std::decay_t<U>, T>,
                       int> = 0>
  StatusOr(U&& u) : v_(T(std::forward<U>(u))) {}  // NOLINT(runtime/explicit)

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace awan

#define AWAN_CONCAT_INNER(a, b) a##b
#define AWAN_CONCAT(a, b) AWAN_CONCAT_INNER(a, b)

// Returns from the enclosing function if `expr` (a Status) is not OK.
#define AWAN_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::awan::Status awan_status_ = (expr);        \
    if (!awan_status_.ok()) return awan_status_; \
  } while (0)

// Declares `lhs` from a StatusOr expression, returning its Status on error.
#define AWAN_ASSIGN_OR_RETURN(lhs, expr) \
  AWAN_ASSIGN_OR_RETURN_IMPL(AWAN_CONCAT(awan_so_, __LINE__), lhs, expr)
#define AWAN_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()
