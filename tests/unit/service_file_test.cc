// The services file: the shipped ASEAN example reads, and every kind of mistake is refused with its place.
#include "config/service_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "config/fleet_file.h"
#include "config/job_manifest.h"
#include "model/hardware.h"

namespace awan::config {
namespace {

std::unique_ptr<FleetFile> Asean() {
  auto f = ReadFleetFile(std::string(AWAN_SOURCE_DIR) + "/examples/fleets/asean.yaml");
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  return std::move(*f);
}

TEST(ServicesFile, TheShippedAseanServicesRead) {
  auto fleet = Asean();
  auto s = ReadServicesFile(std::string(AWAN_SOURCE_DIR) + "/examples/services/asean.yaml", fleet->fleet);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->models.size(), 3u);
  ASSERT_EQ(s->services.size(), 5u);
  const ServiceSpec& malay = s->services[1];
  EXPECT_EQ(malay.name, "malay-assistant");
  ASSERT_EQ(malay.shapes.size(), 3u);
  EXPECT_EQ(malay.shapes[0].gpu_milli, kWholeGpu);
  const ServiceSpec& health = s->services[3];
  EXPECT_EQ(health.shapes[1].gpu_milli, GpuMilli(500));  // half an L40S
  EXPECT_EQ(health.shapes[1].tensor_parallel, 1);
  EXPECT_EQ(s->services[0].shapes[1].tensor_parallel, 4);  // the 70B on 4 x H100
  EXPECT_TRUE(s->services[2].scale_to_zero);               // min 0
  EXPECT_EQ(s->services[2].min_replicas, 0);
  EXPECT_EQ(s->services[3].reads, std::vector<std::string>{"my-health-data"});
  const ServedModel* m = s->FindModel("llama-3.1-70b");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->kv_bytes_per_token, 320 * 1024);
}

const char* kModels = R"(
models:
  - {name: m8, parameters_b: 8, weights_gib: 15, kv_kib_per_token: 128}
  - {name: m70, parameters_b: 70, weights_gib: 131, kv_kib_per_token: 320}
services:
)";

TEST(ServicesFile, MistakesAreRefusedWithTheirPlace) {
  auto fleet = Asean();
  const std::string ok_service =
      "  - {name: s, tenant: t, model: m8, shapes: [{accelerator: H100, gpus: 1}], replicas: {max: 2}, "
      "slo: {ttft_ms: 500, tpot_ms: 50}}\n";
  ASSERT_TRUE(ParseServicesFile(std::string(kModels) + ok_service, "x.yaml", fleet->fleet).ok());
  const std::pair<std::string, std::string> bad[] = {
      {"model: m8,", "declares no model 'm9'"},
      {"accelerator: H100,", "the fleet has no 'B200'"},
      {"gpus: 1}", "a whole number of GPUs"},
      {"replicas: {max: 2}", "min (3) above max (2)"},
      {"ttft_ms: 500,", "ttft_ms: expected an integer"},
      {"slo:", "unknown key 'sl0'"},
  };
  const std::string replace[] = {"model: m9,",     "accelerator: B200,",
                                 "gpus: 1.5}",     "replicas: {min: 3, max: 2}",
                                 "ttft_ms: fast,", "sl0:"};
  for (size_t k = 0; k < std::size(bad); ++k) {
    std::string text = ok_service;
    text.replace(text.find(bad[k].first), bad[k].first.size(), replace[k]);
    auto s = ParseServicesFile(std::string(kModels) + text, "x.yaml", fleet->fleet);
    ASSERT_FALSE(s.ok()) << replace[k];
    EXPECT_NE(s.status().message().find(bad[k].second), std::string::npos) << s.status().message();
    EXPECT_NE(s.status().message().find("x.yaml:"), std::string::npos) << s.status().message();
  }
  // 131 GiB of weights do not fit one H100 (72 GB usable) but fit two H200s.
  const std::string big =
      "  - {name: b, tenant: t, model: m70, shapes: [{accelerator: H100, gpus: 1}], replicas: {max: 1}, "
      "slo: {ttft_ms: 500, tpot_ms: 50}}\n";
  auto too_big = ParseServicesFile(std::string(kModels) + big, "x.yaml", fleet->fleet);
  ASSERT_FALSE(too_big.ok());
  EXPECT_NE(too_big.status().message().find("cannot hold m70's weights"), std::string::npos)
      << too_big.status().message();
  std::string fits = big;
  fits.replace(fits.find("H100, gpus: 1"), 13, "H200, gpus: 2");
  EXPECT_TRUE(ParseServicesFile(std::string(kModels) + fits, "x.yaml", fleet->fleet).ok());
  // Unknown user locations and duplicate services.
  std::string users = ok_service;
  users.insert(users.rfind('}'), ", users: [atlantis]");
  auto u = ParseServicesFile(std::string(kModels) + users, "x.yaml", fleet->fleet);
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.status().message().find("no user location 'atlantis'"), std::string::npos);
  auto twice = ParseServicesFile(std::string(kModels) + ok_service + ok_service, "x.yaml", fleet->fleet);
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("listed twice"), std::string::npos);
}

TEST(Hardware, DatasheetFiguresForTheKnownAccelerators) {
  ASSERT_TRUE(FindHardware("H200").has_value());
  EXPECT_DOUBLE_EQ(FindHardware("H200")->memory_gb, 141);
  EXPECT_DOUBLE_EQ(FindHardware("H100")->hbm_tb_s, 3.35);
  EXPECT_FALSE(FindHardware("B200").has_value());
}

TEST(ServiceManifest, TheShippedChatServiceReadsAndMistakesAreRefused) {
  auto fleet = Asean();
  const std::string path = std::string(AWAN_SOURCE_DIR) + "/examples/services/chat-service.yaml";
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto m = ParseServiceManifest(text, path, fleet->fleet);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->spec.name, "chat");
  EXPECT_EQ(m->spec.tenant, "");
  EXPECT_EQ(m->spec.model, "llama-3.1-8b");
  EXPECT_EQ(m->model.kv_bytes_per_token, 128 * 1024);
  ASSERT_EQ(m->spec.shapes.size(), 1u);
  EXPECT_EQ(m->spec.shapes[0].accelerator, "H100");
  EXPECT_EQ(m->spec.max_replicas, 4);
  EXPECT_EQ(m->spec.slo.tpot_ms, 60);
  EXPECT_EQ(m->autoscaler, "awan");
  EXPECT_EQ(m->time_scale, 1);
  EXPECT_EQ(ManifestKind(text), "Service");
  int shipped = 0;  // every shipped Service manifest reads (the vLLM one too)
  for (const auto& e :
       std::filesystem::directory_iterator(std::string(AWAN_SOURCE_DIR) + "/examples/services")) {
    std::ifstream f(e.path());
    const std::string t((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (ManifestKind(t) != "Service") continue;
    ++shipped;
    auto sm = ParseServiceManifest(t, e.path().string(), fleet->fleet);
    EXPECT_TRUE(sm.ok()) << e.path() << ": " << sm.status().ToString();
  }
  EXPECT_GE(shipped, 3);
  auto refused = [&](const std::string& from, const std::string& to, const std::string& words) {
    std::string t = text;
    const size_t at = t.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    t.replace(at, from.size(), to);
    auto bad = ParseServiceManifest(t, "svc.yaml", fleet->fleet);
    ASSERT_FALSE(bad.ok()) << to;
    EXPECT_NE(bad.status().message().find(words), std::string::npos) << bad.status().message();
  };
  refused("kind: Service", "kind: Job", "expected Service");
  refused("name: chat", "name: Chat_1", "lowercase");
  refused("accelerator: H100", "accelerator: TPU", "no 'TPU'");
  refused("{min: 1, max: 4}", "{min: 5, max: 4}", "above max");
  refused("router: awan", "routr: awan", "routr");
  refused("gpus: 1}", "gpus: 0.1}", "cannot hold");
  refused("router: awan", "router: awan\n  image: '-v/:/host'", "spec image: a reference like");
  refused("router: awan", "router: awan\n  command: [vllm, serve]", "{port}");
  refused("router: awan", "router: awan\n  prepull: maybe", "expected true or false");
  refused("router: awan", "router: awan\n  startup: slow", "instant or modelled");
  // An engine of one's own in an image: the port awan gives it goes where {port} is.
  std::string own = text;
  own.replace(own.find("router: awan"), 12,
              "router: awan\n  image: registry.example:5000/vllm/vllm-openai:v0.6\n  prepull: false\n"
              "  command: [vllm, serve, meta-llama/Llama-3.1-8B, --port, '{port}']");
  auto m2 = ParseServiceManifest(own, "svc.yaml", fleet->fleet);
  ASSERT_TRUE(m2.ok()) << m2.status().ToString();
  EXPECT_EQ(m2->image, "registry.example:5000/vllm/vllm-openai:v0.6");
  EXPECT_FALSE(m2->prepull);
  EXPECT_FALSE(m2->modelled_startup);
  ASSERT_EQ(m2->command.size(), 5u);
  EXPECT_EQ(m2->command[4], "{port}");
}

}  // namespace
}  // namespace awan::config
