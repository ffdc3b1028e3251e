// The one awan binary. Everything lives in src/; this only hands over to the command line.
#include "cli/commands.h"

int main(int argc, char** argv) { return awan::cli::Main(argc, argv); }
