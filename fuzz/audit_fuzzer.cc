// libFuzzer target: the audit-log verifier, which reads files an adversary may have edited. Any input must be
// accepted or rejected with a message naming a line; never a crash or a hang. Built and run by
// scripts/fuzz.sh.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "audit/audit_log.h"
#include "fleet_fixture.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)FuzzFleet();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = awan::audit::VerifyAuditLog(text, FuzzFleet());
  if (!r.ok() && r.status().message().rfind("line ", 0) != 0) std::abort();
  return 0;
}
