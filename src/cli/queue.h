// `awan queue`: every job the caller may see, paged through the API (or the first --limit, saying how many
// more there are), with squeue's columns: reason, submit time, age or elapsed time, nodes; filters by name,
// state and tenant; sorted; --watch reprints until interrupted.
#pragma once

#include <httplib.h>

#include "cli/serve.h"

namespace awan::cli {

int ListQueue(const ClientArgs& a, httplib::Client& http, const httplib::Headers& h);

}  // namespace awan::cli
