// A small strict CSV reader (RFC 4180: commas, optional double quotes, CRLF or LF) that remembers where
// every field came from, so that trace readers can report "file:line:column" on bad input.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace awan::trace {

struct CsvField {
  std::string text;
  int column = 1;  // 1-based character column of the field's first character
};

struct CsvRow {
  int line = 0;  // 1-based
  std::vector<CsvField> fields;
};

// Splits `text` into rows. Blank lines are skipped. Fails on an unterminated quote or a quote in the
// middle of an unquoted field, naming `source`, the line and the column.
StatusOr<std::vector<CsvRow>> ParseCsv(std::string_view text, std::string_view source);

// Reads a whole file. IoError names the path and the reason.
StatusOr<std::string> ReadFile(const std::string& path);

// Header lookup: column index by name, with an error that lists what the header has.
class CsvHeader {
 public:
  CsvHeader(const CsvRow& header, std::string source);
  // Index of `name`, or an error "source:1: missing column 'name' (header has: a, b, c)".
  StatusOr<int> Require(std::string_view name) const;
  // Index of `name` or -1.
  int Find(std::string_view name) const;

 private:
  CsvRow row_;
  std::string source_;
};

// "source:line:column: message"
Status FieldError(std::string_view source, int line, int column, const std::string& message);

// "source:line:1: expected N fields, got M" unless `row` has as many fields as the header.
Status CheckFieldCount(std::string_view source, const CsvRow& header, const CsvRow& row);

// Parses a field as a non-negative decimal integer no larger than `max`.
StatusOr<int64_t> ParseCount(std::string_view source, const CsvRow& row, int index,
                             std::string_view column_name, int64_t max);

}  // namespace awan::trace
