// libFuzzer target: the job manifest parser, which is what POST /v1/jobs runs on every request body. Any
// input must give a job or a clear error naming the source; never a crash, a hang or a job without its
// required fields. Built and run by scripts/fuzz.sh (clang, -fsanitize=fuzzer,address,undefined).
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "config/job_manifest.h"
#include "fleet_fixture.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)FuzzFleet();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto m = awan::config::ParseJobManifest(text, "body", FuzzFleet());
  if (m.ok()) {
    if (m->job.name.empty() || m->job.tasks < 1 || m->job.task.gpu_count < 1) std::abort();
    if (m->command.empty() && m->job.duration_s <= 0) std::abort();
  } else if (m.status().message().rfind("body", 0) != 0) {
    std::abort();  // every error names its source
  }
  return 0;
}
