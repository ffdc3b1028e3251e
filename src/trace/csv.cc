#include "trace/csv.h"

#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace awan::trace {

Status FieldError(std::string_view source, int line, int column, const std::string& message) {
  return InvalidArgument(std::string(source) + ":" + std::to_string(line) + ":" + std::to_string(column) +
                         ": " + message);
}

StatusOr<std::vector<CsvRow>> ParseCsv(std::string_view text, std::string_view source) {
  std::vector<CsvRow> rows;
  int line = 1;
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    CsvRow row;
    row.line = line;
    size_t line_start = i;
    bool row_done = false;
    while (!row_done) {
      CsvField f;
      f.column = static_cast<int>(i - line_start) + 1;
      if (i < n && text[i] == '"') {
        ++i;
        for (;;) {
          if (i >= n) return FieldError(source, row.line, f.column, "unterminated quoted field");
          char c = text[i++];
          if (c == '"') {
            if (i < n && text[i] == '"') {
              f.text += '"';
              ++i;
            } else {
              break;
            }
          } else {
            if (c == '\n') ++line;
            f.text += c;
          }
        }
        if (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          return FieldError(source, line, static_cast<int>(i - line_start) + 1,
                            "unexpected character after closing quote");
        }
      } else {
        while (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          if (text[i] == '"') {
            return FieldError(source, line, static_cast<int>(i - line_start) + 1,
                              "quote inside an unquoted field");
          }
          f.text += text[i++];
        }
      }
      row.fields.push_back(std::move(f));
      if (i < n && text[i] == ',') {
        ++i;
        continue;
      }
      if (i < n && text[i] == '\r') ++i;
      if (i < n && text[i] == '\n') ++i;
      row_done = true;
    }
    ++line;
    const bool blank = row.fields.size() == 1 && row.fields[0].text.empty();
    if (!blank) rows.push_back(std::move(row));
  }
  return rows;
}

StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError("cannot open " + path + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return IoError("error reading " + path);
  return ss.str();
}

CsvHeader::CsvHeader(const CsvRow& header, std::string source) : row_(header), source_(std::move(source)) {}

int CsvHeader::Find(std::string_view name) const {
  for (size_t k = 0; k < row_.fields.size(); ++k)
    if (row_.fields[k].text == name) return static_cast<int>(k);
  return -1;
}

StatusOr<int> CsvHeader::Require(std::string_view name) const {
  int k = Find(name);
  if (k >= 0) return k;
  std::string have;
  for (const auto& f : row_.fields) have += (have.empty() ? "" : ", ") + f.text;
  return FieldError(source_, row_.line, 1,
                    "missing column '" + std::string(name) + "' (header has: " + have + ")");
}

Status CheckFieldCount(std::string_view source, const CsvRow& header, const CsvRow& row) {
  if (row.fields.size() == header.fields.size()) return Status::Ok();
  return FieldError(source, row.line, 1,
                    "expected " + std::to_string(header.fields.size()) + " fields, got " +
                        std::to_string(row.fields.size()));
}

StatusOr<int64_t> ParseCount(std::string_view source, const CsvRow& row, int index,
                             std::string_view column_name, int64_t max) {
  if (index >= static_cast<int>(row.fields.size())) {
    const int col =
        row.fields.empty() ? 1 : row.fields.back().column + static_cast<int>(row.fields.back().text.size());
    return FieldError(source, row.line, col,
                      "row has " + std::to_string(row.fields.size()) +
                          " fields, expected a value for column '" + std::string(column_name) + "'");
  }
  const CsvField& f = row.fields[index];
  int64_t v = 0;
  const char* b = f.text.data();
  const char* e = b + f.text.size();
  auto [p, ec] = std::from_chars(b, e, v);
  if (f.text.empty() || ec != std::errc() || p != e || v < 0 || v > max) {
    return FieldError(source, row.line, f.column,
                      "column '" + std::string(column_name) + "': expected an integer in 0.." +
                          std::to_string(max) + ", got '" + f.text + "'");
  }
  return v;
}

}  // namespace awan::trace
