#include "diagnosis/faults.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace awan::diagnosis {
namespace {

constexpr int64_t kBaseMs = 3'600'000;  // the case's faults start here (the window looks back 10 min)
constexpr int kGpus = 8;

// Lines a healthy fleet writes all the time; none may look like a problem.
struct Healthy {
  SignalKind kind;
  const char* text;
};
constexpr Healthy kHealthy[] = {
    {SignalKind::kLog, "[rank{rank}] step {n} | loss 2.31 | lr 3.0e-04 | tokens/s 41{n} | mfu 0.41"},
    {SignalKind::kLog, "NCCL INFO Channel 00/32 : 0[0] -> 1[1] via P2P/IPC/read"},
    {SignalKind::kLog,
     "NCCL INFO comm 0x7f3c{n} rank {rank} nranks {world} cudaDev {gpu} busId {pci} - Init COMPLETE"},
    {SignalKind::kLog, "Saving checkpoint to /ckpt/{job}/step-{n} (took {ms} ms)"},
    {SignalKind::kLog, "INFO:     Started server process [{pid}]"},
    {SignalKind::kLog, "Epoch 3: 42%|####      | {n}/12000 [10:02<13:51, 8.61it/s]"},
    {SignalKind::kLog,
     "INFO 12-03 08:01:12 metrics.py:351] Avg prompt throughput: 812.4 tokens/s, Running: 14 reqs"},
    {SignalKind::kExit, "exit_code=0 signal=none"},
    {SignalKind::kKernel, "IPv6: ADDRCONF(NETDEV_CHANGE): ib0: link becomes ready"},
    {SignalKind::kKernel, "EXT4-fs (nvme0n1p1): re-mounted. Opts: (null). Quota mode: none."},
    {SignalKind::kKernel, "systemd[1]: Started session-{n}.scope - Session {n} of User slurm."},
    {SignalKind::kKernel,
     "perf: interrupt took too long (2503 > 2500), lowering kernel.perf_event_max_sample_rate to 79750"},
    {SignalKind::kGpuHealth, "DCGM_FI_DEV_GPU_UTIL=97"},
    {SignalKind::kGpuHealth, "DCGM_FI_DEV_POWER_USAGE=612"},
    {SignalKind::kSlurm, "state=ALLOCATED reason=none"},
    {SignalKind::kScheduler, "started job={job} tenant={tenant} nodes=2 gpus=16"},
    {SignalKind::kServing, "scale service={service} from 2 to 3 replicas (load 14.2 requests/s)"},
    {SignalKind::kControlPlane, "leader lease renewed by awan-0 (term 7)"},
};

// Where a line is emitted: a node (and GPU), the job and rank there, a service replica, a tenant.
struct Ctx {
  int node = -1, gpu = -1, job = -1, rank = -1, service = -1, replica = -1;
  std::string tenant, pending_job;
  bool gpu_scoped = false;
};

class Builder {
 public:
  Builder(const FaultWorld& w, const FaultOptions& o, Rng& rng) : w_(w), o_(o), rng_(rng) {}

  std::string Fill(const std::string& text, const Ctx& x) {
    std::string out;
    out.reserve(text.size() + 32);
    for (size_t i = 0; i < text.size(); ++i) {
      const size_t end = text[i] == '{' ? text.find('}', i) : std::string::npos;
      if (end == std::string::npos) {
        out += text[i];
        continue;
      }
      out += Value(std::string_view(text).substr(i + 1, end - i - 1), x);
      i = end;
    }
    return out;
  }

  void Emit(SignalKind kind, const std::string& text, const Ctx& x, int64_t at) {
    Signal s;
    s.at_ms = at;
    s.kind = kind;
    s.text = Fill(text, x);
    if (x.node >= 0) s.node = w_.nodes[static_cast<size_t>(x.node)];
    if (x.gpu_scoped) s.gpu = x.gpu;
    if (x.job >= 0) {
      const WorldJob& j = w_.jobs[static_cast<size_t>(x.job)];
      s.job = j.id, s.dataset = j.dataset, s.tenant = j.tenant, s.rank = x.rank;
    }
    if (!x.pending_job.empty()) s.job = x.pending_job;
    if (x.service >= 0) {
      const WorldService& sv = w_.services[static_cast<size_t>(x.service)];
      s.service = sv.name, s.tenant = sv.tenant;
      s.replica = fmt::format("{}-r{}", sv.name, x.replica);
    }
    if (!x.tenant.empty()) s.tenant = x.tenant;
    out_.push_back(std::move(s));
  }

  // A scenario's lines in one context (optional ones sometimes left out).
  void EmitScenario(const Scenario& s, const Ctx& x, int64_t at, bool required_only) {
    for (const InjectLine& l : s.inject) {
      if (l.optional && (required_only || rng_.UniformDouble() < o_.missing)) continue;
      Emit(l.kind, l.text, x, at + static_cast<int64_t>(rng_.Uniform(30000)));
    }
  }

  Ctx OnNode(int node, int gpu) const {
    Ctx x;
    x.node = node, x.gpu = gpu;
    x.job = w_.node_job[static_cast<size_t>(node)];
    if (x.job >= 0) {
      const auto& nodes = w_.jobs[static_cast<size_t>(x.job)].nodes;
      x.rank = static_cast<int>(std::find(nodes.begin(), nodes.end(), node) - nodes.begin()) * kGpus + gpu;
    }
    for (size_t s = 0; s < w_.services.size(); ++s) {
      const auto& nodes = w_.services[s].nodes;
      const auto it = std::find(nodes.begin(), nodes.end(), node);
      if (it != nodes.end())
        x.service = static_cast<int>(s), x.replica = static_cast<int>(it - nodes.begin());
    }
    return x;
  }

  std::vector<Signal> Take() {
    std::stable_sort(out_.begin(), out_.end(),
                     [](const Signal& a, const Signal& b) { return a.at_ms < b.at_ms; });
    return std::move(out_);
  }

  Rng& rng() { return rng_; }

 private:
  std::string Value(std::string_view name, const Ctx& x) {
    const int node = x.node >= 0 ? x.node : 0;
    const int gpu = x.gpu >= 0 ? x.gpu : 0;
    const WorldJob* job = x.job >= 0 ? &w_.jobs[static_cast<size_t>(x.job)] : nullptr;
    if (name == "node") return w_.nodes[static_cast<size_t>(node)];
    if (name == "gpu") return std::to_string(gpu);
    if (name == "pci") return fmt::format("0000:{:02x}:00.0", 0x18 + 0x10 * gpu);
    if (name == "pid") return std::to_string(1000 + rng_.Uniform(60000));
    if (name == "job") return job ? job->id : x.pending_job.empty() ? "j-00000" : x.pending_job;
    if (name == "rank") return std::to_string(std::max(0, x.rank));
    if (name == "world") return std::to_string(job ? static_cast<int>(job->nodes.size()) * kGpus : kGpus);
    if (name == "peer") return w_.nodes[static_cast<size_t>((node + 1) % static_cast<int>(w_.nodes.size()))];
    if (name == "ip") return w_.node_ip[static_cast<size_t>(node)];
    if (name == "peer_ip")
      return w_.node_ip[static_cast<size_t>((node + 1) % static_cast<int>(w_.nodes.size()))];
    if (name == "port") return std::to_string(29500 + rng_.Uniform(100));
    if (name == "dataset") return job ? job->dataset : w_.datasets[0];
    if (name == "switch") return w_.node_switch[static_cast<size_t>(node)];
    if (name == "feed") return w_.node_feed[static_cast<size_t>(node)];
    if (name == "service") return x.service >= 0 ? w_.services[static_cast<size_t>(x.service)].name : "chat";
    if (name == "replica")
      return x.service >= 0
                 ? fmt::format("{}-r{}", w_.services[static_cast<size_t>(x.service)].name, x.replica)
                 : "chat-r0";
    if (name == "tenant") return !x.tenant.empty() ? x.tenant : job ? job->tenant : w_.tenants[0];
    if (name == "n") return std::to_string(1 + rng_.Uniform(9999));
    if (name == "ms") return std::to_string(100 + rng_.Uniform(120000));
    if (name == "bytes") return std::to_string(int64_t{1} << (20 + rng_.Uniform(16)));
    return "{" + std::string(name) + "}";
  }

  const FaultWorld& w_;
  const FaultOptions& o_;
  Rng& rng_;
  std::vector<Signal> out_;
};

// The nodes of a switch or feed.
std::vector<int> GroupNodes(const FaultWorld& w, Scope scope, const std::string& name) {
  std::vector<int> out;
  for (size_t n = 0; n < w.nodes.size(); ++n)
    if ((scope == Scope::kSwitch ? w.node_switch[n] : w.node_feed[n]) == name)
      out.push_back(static_cast<int>(n));
  return out;
}

std::vector<int> JobsReading(const FaultWorld& w, const std::string& dataset) {
  std::vector<int> out;
  for (size_t j = 0; j < w.jobs.size(); ++j)
    if (w.jobs[j].dataset == dataset) out.push_back(static_cast<int>(j));
  return out;
}

// Injects one fault; false when no free entity of its scope is left. `used` holds the nodes, jobs and
// entities taken by the case's other faults.
bool InjectFault(Builder& b, const Catalog& c, const FaultWorld& w, int si, const FaultOptions& o,
                 std::set<std::string>& used, FaultCase& fc) {
  const Scenario& s = c.at(static_cast<size_t>(si));
  Rng& rng = b.rng();
  const int64_t at = kBaseMs + static_cast<int64_t>(rng.Uniform(240000));
  InjectedFault f;
  f.scenario = si, f.scope = s.scope;
  std::vector<int> affected_jobs, nodes;  // where the symptoms go
  auto free_node = [&](const std::vector<int>& ns) {
    return std::all_of(ns.begin(), ns.end(), [&](int n) { return !used.count("n/" + std::to_string(n)); });
  };
  auto take_nodes = [&](const std::vector<int>& ns) {
    for (int n : ns) used.insert("n/" + std::to_string(n));
  };
  for (int attempt = 0; attempt < 40 && f.entity.empty(); ++attempt) {
    switch (s.scope) {
      case Scope::kGpu:
      case Scope::kNode: {
        const int n = static_cast<int>(rng.Uniform(w.nodes.size()));
        if (w.node_job[static_cast<size_t>(n)] < 0 || !free_node({n})) break;
        if (used.count("j/" + std::to_string(w.node_job[static_cast<size_t>(n)]))) break;
        f.entity = w.nodes[static_cast<size_t>(n)];
        nodes = {n};
        break;
      }
      case Scope::kSwitch:
      case Scope::kPowerFeed: {
        const auto& names = s.scope == Scope::kSwitch ? w.switches : w.feeds;
        const std::string& g = names[rng.Uniform(names.size())];
        const std::vector<int> ns = GroupNodes(w, s.scope, g);
        if (!free_node(ns)) break;
        f.entity = g;
        nodes = ns;
        break;
      }
      case Scope::kJob: {
        const int j = static_cast<int>(rng.Uniform(w.jobs.size()));
        if (used.count("j/" + std::to_string(j)) || !free_node(w.jobs[static_cast<size_t>(j)].nodes)) break;
        f.entity = w.jobs[static_cast<size_t>(j)].id;
        affected_jobs = {j};
        break;
      }
      case Scope::kDataset: {
        const std::string& d = w.datasets[rng.Uniform(w.datasets.size())];
        const std::vector<int> js = JobsReading(w, d);
        if (js.size() < 2 || used.count("d/" + d)) break;
        bool clear = true;
        for (int j : js)
          clear = clear && !used.count("j/" + std::to_string(j)) &&
                  free_node(w.jobs[static_cast<size_t>(j)].nodes);
        if (!clear) break;
        f.entity = d;
        affected_jobs = js;
        break;
      }
      case Scope::kService: {
        const int sv = static_cast<int>(rng.Uniform(w.services.size()));
        if (used.count("s/" + std::to_string(sv)) || !free_node(w.services[static_cast<size_t>(sv)].nodes))
          break;
        f.entity = w.services[static_cast<size_t>(sv)].name;
        nodes = w.services[static_cast<size_t>(sv)].nodes;
        used.insert("s/" + std::to_string(sv));
        break;
      }
      case Scope::kTenant: {
        const std::string& t = w.tenants[rng.Uniform(w.tenants.size())];
        if (used.count("t/" + t)) break;
        f.entity = t;
        used.insert("t/" + t);
        break;
      }
      case Scope::kControlPlane:
        if (used.count("cp")) return false;
        f.entity = "control-plane";
        used.insert("cp");
        break;
    }
  }
  if (f.entity.empty()) return false;
  if (s.scope == Scope::kGpu || s.scope == Scope::kNode) {
    const int gpu = static_cast<int>(rng.Uniform(kGpus));
    Ctx x = b.OnNode(nodes[0], gpu);
    x.gpu_scoped = s.scope == Scope::kGpu;
    b.EmitScenario(s, x, at, false);
    affected_jobs = {x.job};
  } else if (s.scope == Scope::kSwitch || s.scope == Scope::kPowerFeed) {
    const size_t keep_at_least = (nodes.size() * 3 + 4) / 5;  // at least 60 % of the group shows it
    size_t left = nodes.size();
    std::set<int> jobs;
    for (int n : nodes) {
      if (left > keep_at_least && rng.UniformDouble() < o.node_missing) {
        --left;
        continue;
      }
      const Ctx x = b.OnNode(n, 0);
      b.EmitScenario(s, x, at, false);
      if (x.job >= 0) jobs.insert(x.job);
    }
    affected_jobs.assign(jobs.begin(), jobs.end());
  } else if (s.scope == Scope::kJob || s.scope == Scope::kDataset) {
    for (int j : affected_jobs) {
      const WorldJob& job = w.jobs[static_cast<size_t>(j)];
      for (size_t k = 0; k < (s.scope == Scope::kJob ? job.nodes.size() : 1); ++k)
        b.EmitScenario(s, b.OnNode(job.nodes[k], 0), at, false);
      nodes.insert(nodes.end(), job.nodes.begin(), job.nodes.end());
    }
  } else if (s.scope == Scope::kService) {
    const int sv = static_cast<int>(std::find_if(w.services.begin(), w.services.end(),
                                                 [&](const WorldService& x) { return x.name == f.entity; }) -
                                    w.services.begin());
    const auto& ns = w.services[static_cast<size_t>(sv)].nodes;
    b.EmitScenario(s, b.OnNode(ns[rng.Uniform(ns.size())], 0), at, false);
  } else {
    Ctx x;
    if (s.scope == Scope::kTenant)
      x.tenant = f.entity, x.pending_job = fmt::format("j-9{:04d}", rng.Uniform(10000));
    b.EmitScenario(s, x, at, false);
  }
  take_nodes(nodes);
  for (int j : affected_jobs)
    if (j >= 0) used.insert("j/" + std::to_string(j));
  // The symptoms its classes produce on the jobs that ran there (each class on each job, or not at all).
  for (const std::string& cls : s.explains) {
    const std::vector<int>& members = c.ClassMembers(cls);
    if (members.empty()) continue;
    for (int j : affected_jobs) {
      if (j < 0 || rng.UniformDouble() < o.missing) continue;
      // One of the class's scenarios (an NCCL timeout, a remote-peer error, ...), the same on every rank.
      const Scenario& sym = c.at(static_cast<size_t>(members[rng.Uniform(members.size())]));
      const WorldJob& job = w.jobs[static_cast<size_t>(j)];
      for (int n : job.nodes) {
        if (sym.scope != Scope::kJob && std::find(nodes.begin(), nodes.end(), n) == nodes.end()) continue;
        b.EmitScenario(sym, b.OnNode(n, 0), at + 5000, true);
      }
    }
  }
  fc.faults.push_back(std::move(f));
  return true;
}

void AddNoise(Builder& b, const Catalog& c, const FaultWorld& w, const FaultOptions& o,
              const std::set<std::string>& used, const FaultCase& fc) {
  Rng& rng = b.rng();
  const int lines =
      o.noise_lines / 2 + static_cast<int>(rng.Uniform(static_cast<uint64_t>(o.noise_lines) + 1));
  for (int i = 0; i < lines; ++i) {
    const Healthy& h = kHealthy[rng.Uniform(std::size(kHealthy))];
    Ctx x = b.OnNode(static_cast<int>(rng.Uniform(w.nodes.size())), static_cast<int>(rng.Uniform(kGpus)));
    b.Emit(h.kind, h.text, x, kBaseMs - 180000 + static_cast<int64_t>(rng.Uniform(480000)));
  }
  std::vector<int> benign;
  for (size_t i = 0; i < c.size(); ++i)
    if (c.at(i).severity == Severity::kBenign) benign.push_back(static_cast<int>(i));
  const int nb = benign.empty() ? 0 : static_cast<int>(rng.Uniform(static_cast<uint64_t>(o.benign) + 1));
  for (int i = 0; i < nb; ++i) {
    const Scenario& s = c.at(static_cast<size_t>(benign[rng.Uniform(benign.size())]));
    // On a faulty node half of the time (a distractor next to the real cause), else anywhere.
    int node = static_cast<int>(rng.Uniform(w.nodes.size()));
    if (!fc.faults.empty() && rng.Uniform(2) == 0)
      for (size_t n = 0; n < w.nodes.size(); ++n)
        if (w.nodes[n] == fc.faults[0].entity) node = static_cast<int>(n);
    Ctx x = b.OnNode(node, static_cast<int>(rng.Uniform(kGpus)));
    x.gpu_scoped = s.scope == Scope::kGpu;
    b.EmitScenario(s, x, kBaseMs + static_cast<int64_t>(rng.Uniform(240000)), false);
  }
  // A lone symptom on a job that no fault touched (a real, separate problem: it must not be pinned on them).
  if (fc.faults.empty() || rng.UniformDouble() >= o.lone_symptom) return;
  std::vector<int> classes;
  for (size_t i = 0; i < c.size(); ++i)
    if (c.at(i).is_symptom() && c.at(i).scope == Scope::kJob) classes.push_back(static_cast<int>(i));
  if (classes.empty()) return;
  std::set<std::string> faulty_datasets;
  for (const InjectedFault& f : fc.faults)
    if (f.scope == Scope::kDataset) faulty_datasets.insert(f.entity);
  for (int attempt = 0; attempt < 20; ++attempt) {
    const int j = static_cast<int>(rng.Uniform(w.jobs.size()));
    const WorldJob& job = w.jobs[static_cast<size_t>(j)];
    bool clear = !used.count("j/" + std::to_string(j)) && !faulty_datasets.count(job.dataset);
    for (int n : job.nodes) clear = clear && !used.count("n/" + std::to_string(n));
    for (const InjectedFault& f : fc.faults) {
      if (f.scope != Scope::kSwitch && f.scope != Scope::kPowerFeed) continue;
      for (int n : job.nodes)
        clear = clear &&
                (f.scope == Scope::kSwitch ? w.node_switch : w.node_feed)[static_cast<size_t>(n)] != f.entity;
    }
    if (!clear) continue;
    const Scenario& sym = c.at(static_cast<size_t>(classes[rng.Uniform(classes.size())]));
    b.EmitScenario(sym, b.OnNode(job.nodes[0], 0), kBaseMs + static_cast<int64_t>(rng.Uniform(240000)),
                   false);
    return;
  }
}

}  // namespace

DiagTopology FaultWorld::Topology() const {
  DiagTopology t;
  for (size_t n = 0; n < nodes.size(); ++n) t.nodes.push_back({nodes[n], {node_switch[n], node_feed[n]}});
  return t;
}

FaultWorld MakeFaultWorld(uint64_t seed, const FaultWorldOptions& o) {
  Rng rng(seed);
  FaultWorld w;
  for (int t = 0; t < o.tenants; ++t)
    w.tenants.push_back(fmt::format("tenant-{}", static_cast<char>('a' + t)));
  for (int d = 0; d < o.datasets; ++d) w.datasets.push_back(fmt::format("/datasets/ds-{}", d));
  for (int f = 0; f < o.feeds; ++f) w.feeds.push_back(fmt::format("pdu-{}", f));
  for (int s = 0; s < o.switches; ++s) {
    w.switches.push_back(fmt::format("leaf-{}", s));
    for (int k = 0; k < o.nodes_per_switch; ++k) {
      const int n = s * o.nodes_per_switch + k;
      w.nodes.push_back(fmt::format("gpu-{:03d}", n));
      w.node_switch.push_back(w.switches.back());
      w.node_feed.push_back(w.feeds[static_cast<size_t>((n / 2) % o.feeds)]);
      w.node_ip.push_back(fmt::format("10.{}.0.{}", s, 10 + k));
    }
  }
  const int nodes = static_cast<int>(w.nodes.size());
  w.node_job.assign(static_cast<size_t>(nodes), -1);
  // Services: two replicas each, on nodes spread over the fleet.
  std::vector<bool> taken(static_cast<size_t>(nodes), false);
  for (int s = 0; s < o.services; ++s) {
    WorldService sv;
    sv.name = fmt::format("svc-{}", s);
    sv.tenant = w.tenants[static_cast<size_t>(s) % w.tenants.size()];
    for (int r = 0; r < 2; ++r) {
      const int n = (s * 2 + r) * nodes / (o.services * 2) + 3;
      sv.nodes.push_back(n % nodes);
      taken[static_cast<size_t>(n % nodes)] = true;
    }
    w.services.push_back(std::move(sv));
  }
  // Gangs of 1, 2 or 4 nodes over the rest, about one node in ten idle.
  for (int n = 0; n < nodes;) {
    if (taken[static_cast<size_t>(n)] || rng.Uniform(10) == 0) {
      ++n;
      continue;
    }
    const int want = 1 << rng.Uniform(3);
    WorldJob j;
    j.id = fmt::format("j-{:05d}", w.jobs.size() + 1);
    j.tenant = w.tenants[rng.Uniform(w.tenants.size())];
    j.dataset = w.datasets[rng.Uniform(w.datasets.size())];
    while (n < nodes && static_cast<int>(j.nodes.size()) < want && !taken[static_cast<size_t>(n)]) {
      w.node_job[static_cast<size_t>(n)] = static_cast<int>(w.jobs.size());
      j.nodes.push_back(n++);
    }
    w.jobs.push_back(std::move(j));
  }
  return w;
}

FaultCase GenerateCase(const Catalog& catalog, const FaultWorld& world, const std::vector<int>& scenarios,
                       const FaultOptions& o, Rng& rng) {
  Builder b(world, o, rng);
  FaultCase fc;
  std::set<std::string> used;
  for (int si : scenarios) InjectFault(b, catalog, world, si, o, used, fc);
  if (o.noise) AddNoise(b, catalog, world, o, used, fc);
  fc.signals = b.Take();
  fc.end_ms = kBaseMs + 360000;
  return fc;
}

int RankAtPlace(const std::vector<Diagnosis>& found, const InjectedFault& fault, std::string* best,
                const Catalog* catalog) {
  const std::string place = fault.place();
  int rank = 0;
  if (best) best->clear();
  for (const Diagnosis& d : found) {
    if (PlaceOf(d.scope, d.entity) != place) continue;
    if (best && best->empty() && catalog) *best = catalog->at(static_cast<size_t>(d.scenario)).id;
    if (d.scenario == fault.scenario) return rank;
    ++rank;
  }
  return -1;
}

namespace {
std::string YamlDoubleQuoted(const std::string& t) {
  std::string q = "\"";
  for (unsigned char ch : t) {
    if (ch == '\\' || ch == '"') {
      q += '\\', q += static_cast<char>(ch);
    } else if (ch < 0x20) {
      q += fmt::format("\\u{:04x}", ch);
    } else {
      q += static_cast<char>(ch);
    }
  }
  return q + "\"";
}
}  // namespace

std::vector<Signal> NodeFaultSignals(const Catalog& catalog, int scenario, const std::string& node, int gpu,
                                     const std::string& job, const std::string& tenant, int64_t at_ms,
                                     double missing, Rng& rng) {
  // A world of one node (and its job, when one ran there) for the Builder to fill the lines in.
  FaultWorld w;
  w.nodes = {node}, w.node_switch = {"leaf-" + node}, w.node_feed = {"feed-" + node},
  w.node_ip = {"10.0.0.1"};
  w.tenants = {tenant.empty() ? "tenant" : tenant}, w.datasets = {"dataset"};
  w.node_job = {job.empty() ? -1 : 0};
  if (!job.empty()) w.jobs.push_back({job, w.tenants[0], "", {0}});
  FaultOptions o;
  o.missing = missing;
  Builder b(w, o, rng);
  const Scenario& s = catalog.at(static_cast<size_t>(scenario));
  Ctx x = b.OnNode(0, std::max(0, gpu));
  x.gpu_scoped = s.scope == Scope::kGpu;
  b.EmitScenario(s, x, at_ms, false);
  if (!job.empty()) b.Emit(SignalKind::kExit, "exit_code=1 signal=none", x, at_ms + 30000);
  return b.Take();
}

LiveFault ToLive(const FaultCase& fc, const std::string& node) {
  LiveFault live;
  std::string job;
  for (const Signal& s : fc.signals)
    if (job.empty() && !s.job.empty() && (s.kind == SignalKind::kLog || s.kind == SignalKind::kExit))
      job = s.job;
  auto quote = [](const std::string& t) {  // one shell word in single quotes
    std::string q = "'";
    for (char ch : t) q += ch == '\'' ? std::string("'\"'\"'") : std::string(1, ch);
    return q + "'";
  };
  std::string script = "sleep 2;", ending = "exit 0";
  std::string alerts;
  for (const Signal& s : fc.signals) {
    if (s.kind == SignalKind::kKernel) {
      live.kernel_lines.push_back(s.text);
    } else if (s.kind == SignalKind::kAlert) {
      std::string labels = "\"instance\":\"" + node + ":9100\"";
      for (size_t at = 0; at < s.text.size();) {  // "alertname=X severity=Y k=v ..." -> labels
        const size_t end = std::min(s.text.find(' ', at), s.text.size());
        const std::string kv = s.text.substr(at, end - at);
        const size_t eq = kv.find('=');
        if (eq != std::string::npos && eq > 0 && kv.find('"') == std::string::npos &&
            kv.substr(0, eq) != "instance")
          labels += ",\"" + kv.substr(0, eq) + "\":\"" + kv.substr(eq + 1) + "\"";
        at = end + 1;
      }
      alerts +=
          std::string(alerts.empty() ? "" : ",") + "{\"status\":\"firing\",\"labels\":{" + labels + "}}";
    } else if (s.job == job && s.kind == SignalKind::kLog) {
      script += " printf '%s\\n' " + quote(s.text) + " >&2;";
    } else if (s.job == job && (s.kind == SignalKind::kExit || s.kind == SignalKind::kOomKill) &&
               ending == "exit 0") {
      int code = 1;
      std::string sig = "none";
      if (const size_t at = s.text.find("exit_code="); at != std::string::npos)
        code = std::atoi(s.text.c_str() + at + 10);
      if (const size_t at = s.text.find("signal="); at != std::string::npos)
        sig = s.text.substr(at + 7, s.text.find(' ', at) - at - 7);
      if (s.kind == SignalKind::kOomKill) sig = "SIGKILL";
      ending = sig != "none" && sig.rfind("SIG", 0) == 0 ? "kill -" + sig.substr(3) + " $$"
                                                         : "exit " + std::to_string(code);
    } else if (s.job.empty() || s.job != job) {
      if (s.kind != SignalKind::kLog && s.kind != SignalKind::kExit) live.node_signals.push_back(s);
    }
  }
  if (ending == "exit 0") ending = "exit 1";
  if (!alerts.empty()) live.alerts = "{\"version\":\"4\",\"status\":\"firing\",\"alerts\":[" + alerts + "]}";
  live.manifest =
      "apiVersion: awan/v1\nkind: Job\nmetadata: {name: injected-fault}\nspec:\n  tasks: 1\n  gpus: 1\n"
      "  cpu: 1\n  memory_gib: 1\n  command:\n    - sh\n    - -c\n    - " +
      YamlDoubleQuoted(script + " " + ending) + "\n";
  return live;
}

EvalResult Evaluate(const Catalog& catalog, const EvalOptions& o) {
  EvalResult r;
  const FaultWorld world = MakeFaultWorld(o.seed);
  Rng rng(o.seed ^ 0x5eed0fa17ULL);
  std::vector<int> faultable;
  for (size_t i = 0; i < catalog.size(); ++i)
    if (catalog.at(i).severity != Severity::kBenign) faultable.push_back(static_cast<int>(i));
  r.scenarios = static_cast<int>(faultable.size());
  if (faultable.empty()) return r;
  std::vector<int> order = faultable;
  rng.Shuffle(order);
  const DiagTopology topo = world.Topology();
  const int total = o.cases + o.cases / 4;
  for (int k = 0; k < total; ++k) {
    const bool healthy = k % 5 == 4;
    std::vector<int> picks;
    if (!healthy) {
      picks.push_back(order[static_cast<size_t>(r.cases) % order.size()]);
      const int n =
          o.faults.min_faults +
          static_cast<int>(rng.Uniform(static_cast<uint64_t>(o.faults.max_faults - o.faults.min_faults + 1)));
      while (static_cast<int>(picks.size()) < n) {
        const int p = faultable[rng.Uniform(faultable.size())];
        if (std::find(picks.begin(), picks.end(), p) == picks.end()) picks.push_back(p);
      }
    }
    const FaultCase fc = GenerateCase(catalog, world, picks, o.faults, rng);
    Engine e(catalog, topo, o.engine);
    for (const Signal& s : fc.signals) e.Add(s);
    r.signals += static_cast<int64_t>(fc.signals.size());
    const std::vector<Diagnosis> found = e.Diagnose(fc.end_ms);
    if (healthy) {
      ++r.healthy_cases;
      r.false_alarms += !found.empty();
      continue;
    }
    ++r.cases;
    for (const InjectedFault& f : fc.faults) {
      ++r.faults;
      std::string best;
      const int rank = RankAtPlace(found, f, &best, &catalog);
      r.top1 += rank == 0;
      r.top3 += rank >= 0 && rank < 3;
      if (rank != 0 && r.misses.size() < 50)
        r.misses.push_back({catalog.at(static_cast<size_t>(f.scenario)).id, f.place(), best});
    }
  }
  return r;
}

}  // namespace awan::diagnosis
