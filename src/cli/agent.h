// `awan agent`: the node agent (issue 19). On each node: sends the heartbeats the control plane expects and
// forwards the node's kernel log (/dev/kmsg, or a file for tests) as `kernel` signals and what nvidia-smi
// says is wrong with its GPUs (clock events active, retirements pending, the tool's own failure) as
// `gpu_health` signals to the diagnosis, with a node token (`awan token create --role node --node NAME`). It
// keeps what it could not send (up to 10,000 lines) and retries with back-off, so a restart of the server
// loses nothing it had read.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

namespace awan::cli {

struct AgentArgs {
  std::string node, server, token, ca;
  std::string kernel_log = "/dev/kmsg";
  bool from_start = false;  // a file: read it from its start (default: only what is appended)
  double interval_s = 5;
  // GPU health: a command whose output is nvidia-smi -q's (default: that, when nvidia-smi is installed;
  // "none": off), run every gpu_health_s.
  std::string gpu_health_cmd;
  double gpu_health_s = 30;
  double duration_s = 0;  // 0: until SIGTERM or SIGINT
};

void AddAgent(CLI::App& app, AgentArgs& args);
int RunAgent(const AgentArgs& args);

}  // namespace awan::cli
