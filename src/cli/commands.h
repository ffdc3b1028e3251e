// The `awan` command line: one binary, subcommands registered here. Each Run* returns the process exit
// code: 0 on success, 1 on a runtime error (bad input, I/O), 2 on a usage error.
#pragma once

namespace awan::cli {

int Main(int argc, char** argv);

}  // namespace awan::cli
