// awan-core: the binary with every command (the `awan` front hands it all but its one fast submit).
// Everything lives in src/; this only hands over to the command line.
#include "cli/commands.h"

int main(int argc, char** argv) { return awan::cli::Main(argc, argv); }
