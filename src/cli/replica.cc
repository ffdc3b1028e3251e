#include "cli/replica.h"

#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <thread>

#include "cli/cli_util.h"
#include "server/http_server.h"
#include "server/replica_standin.h"

namespace awan::cli {

void AddReplica(CLI::App& app, ReplicaArgs& a) {
  CLI::App* c =
      app.add_subcommand("replica",
                         "An inference-engine stand-in: the OpenAI completions and chat API (streaming too), "
                         "/v1/models, /health "
                         "and vLLM's metrics, with the calibrated replica model's timing on virtual GPUs");
  c->add_option("--listen", a.listen, "HOST:PORT to listen on (port 0: any free port)")
      ->capture_default_str();
  c->add_option("--port-file", a.port_file, "Write the bound port to this file once listening");
  c->add_option("--served-model-name", a.served_name,
                "The model name clients ask for (default: --model-name)");
  c->add_option("--model-name", a.model_name, "The served model")->capture_default_str();
  c->add_option("--parameters-b", a.parameters_b, "Billions of parameters")->capture_default_str();
  c->add_option("--weights-gib", a.weights_gib, "Weights in GiB, in the serving precision")
      ->capture_default_str();
  c->add_option("--kv-kib-per-token", a.kv_kib_per_token, "KV cache per token, KiB")->capture_default_str();
  c->add_option("--layers", a.layers, "Transformer layers (tensor-parallel all-reduces)")
      ->capture_default_str();
  c->add_option("--accelerator", a.accelerator, "The virtual GPUs' model (H100, A100, L40S, ...)")
      ->capture_default_str();
  c->add_option("--gpus", a.gpus, "GPUs (tensor parallel)")->capture_default_str()->check(CLI::Range(1, 64));
  c->add_option("--gpu-fraction", a.gpu_fraction, "A fraction of one GPU (with --gpus 1)")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 1.0));
  c->add_option("--ttft-ms", a.ttft_ms, "The SLO's time to first token (sizes the token budget)")
      ->capture_default_str();
  c->add_option("--tpot-ms", a.tpot_ms, "The SLO's time per output token (sizes the token budget)")
      ->capture_default_str();
  c->add_option("--max-num-seqs", a.max_num_seqs, "Sequences in the batch at most")->capture_default_str();
  c->add_option("--max-num-batched-tokens", a.max_num_batched_tokens, "Tokens per iteration at most")
      ->capture_default_str();
  c->add_option("--time-scale", a.time_scale, "Run this many times faster than the model's time")
      ->capture_default_str();
  c->add_option("--max-waiting", a.max_waiting, "Requests waiting for the batch at most (more: 429)")
      ->capture_default_str();
  c->add_option("--http-threads", a.http_threads, "HTTP worker threads")->capture_default_str();
  c->add_option("--startup-s", a.startup_s,
                "Seconds of model time spent loading the weights and warming up before it listens, as an "
                "engine does (awan serve passes the cold-start model's figure with `startup: modelled`)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
}

int RunReplica(const ReplicaArgs& a) {
  const auto fail = [](const std::string& m) {
    fmt::print(stderr, "awan replica: {}\n", m);
    return 1;
  };
  BlockStopSignals();
  const size_t colon = a.listen.rfind(':');
  if (colon == std::string::npos) return fail("--listen must be HOST:PORT, not " + a.listen);
  int port = 0;
  try {
    port = std::stoi(a.listen.substr(colon + 1));
  } catch (const std::exception&) {
    return fail("--listen must be HOST:PORT, not " + a.listen);
  }
  server::ReplicaStandInOptions o;
  o.served_name = a.served_name;
  o.model =
      ServedModel{a.model_name, a.parameters_b, static_cast<int64_t>(a.weights_gib * 1024 * 1024 * 1024),
                  a.kv_kib_per_token * 1024, a.layers};
  o.accelerator = a.accelerator;
  o.gpus = a.gpus;
  o.gpu_fraction = a.gpu_fraction;
  o.slo = ServiceSlo{a.ttft_ms, a.tpot_ms, 99};
  o.max_seqs = a.max_num_seqs;
  o.max_batched_tokens = a.max_num_batched_tokens;
  o.time_scale = a.time_scale;
  o.max_waiting = a.max_waiting;
  if (const char* key = std::getenv("VLLM_API_KEY")) o.api_key = key;  // never an argument: /proc shows those
  auto replica = server::ReplicaStandIn::Create(o);
  if (!replica.ok()) return fail(replica.status().message());
  if (a.startup_s > 0) {  // loading: not listening yet; a stop signal ends it
    fmt::print("awan replica: loading {} ({:.1f} s of model time)\n", a.model_name, a.startup_s);
    std::fflush(stdout);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    const double wall = a.startup_s / a.time_scale;
    timespec ts{static_cast<time_t>(wall), static_cast<long>((wall - std::floor(wall)) * 1e9)};
    while (true) {
      const int sig = sigtimedwait(&stop, nullptr, &ts);
      if (sig > 0) return 0;
      if (errno != EINTR) break;  // EAGAIN: loaded
    }
  }
  server::HttpServerOptions ho;
  ho.host = a.listen.substr(0, colon);
  ho.port = port;
  ho.worker_threads = a.http_threads;
  ho.write_worker_threads = a.http_threads;
  ho.max_body_bytes = 4 << 20;  // long prompts
  server::HttpServer http(ho);
  (*replica)->RegisterRoutes(http);
  if (Status s = http.Bind(); !s.ok()) return fail(s.message());
  if (!a.port_file.empty()) {
    const std::string tmp = a.port_file + ".tmp";
    std::ofstream(tmp) << http.port() << "\n";
    if (std::rename(tmp.c_str(), a.port_file.c_str()) != 0) return fail("cannot write " + a.port_file);
  }
  (*replica)->Start();
  fmt::print("awan replica: serving {} on {}:{} ({} x {}{}, KV cache {} tokens, token budget {}{})\n",
             (*replica)->options().served_name, ho.host, http.port(), a.gpus, a.accelerator,
             a.gpu_fraction < 1 ? fmt::format(" x {}", a.gpu_fraction) : "", (*replica)->kv_capacity_tokens(),
             a.max_num_batched_tokens,
             a.time_scale != 1 ? fmt::format(", {}x faster than model time", a.time_scale) : "");
  std::fflush(stdout);
  OnStopSignal([&http] { http.Stop(); });
  http.Run();
  (*replica)->Stop();
  fmt::print("awan replica: stopped\n");
  return 0;
}

}  // namespace awan::cli
