// The etcd backend of StateStore ("etcd:http://127.0.0.1:2379,http://..."), over etcd's v3 HTTP/JSON gateway:
// jobs under /awan/jobs/<id> (ids sort in creation order), tokens under /awan/tokens/<hash>, the id sequence
// in /awan/seq, every job creation a compare-and-swap transaction on the sequence (concurrent submits
// group-commit into one transaction), committed by a quorum of the cluster before CreateJob returns. A
// request that fails on one endpoint is retried on the next. Plus leader election on a lease, so that of
// several `awan serve` replicas exactly one schedules.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "server/store.h"

namespace awan::server {

// A minimal etcd v3 client over the HTTP/JSON gateway (keys and values base64 in the wire format).
class EtcdClient {
 public:
  explicit EtcdClient(std::vector<std::string> endpoints);
  ~EtcdClient();
  // POST path with a JSON body to the first endpoint that answers; the parsed JSON reply as text.
  StatusOr<std::string> Call(const std::string& path, const std::string& json_body);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string Base64Encode(const std::string& s);
std::string Base64Decode(const std::string& s);

// Lease-based leadership: Campaign blocks until this replica holds /awan/leader (a key bound to a lease it
// keeps alive); KeepAlive renews the lease and returns false once leadership is lost.
class LeaderElection {
 public:
  LeaderElection(std::vector<std::string> endpoints, std::string identity, int ttl_s = 3);
  ~LeaderElection();
  // Tries once to become leader; true if this replica leads now.
  StatusOr<bool> TryAcquire();
  // Renews the lease; false if it expired (another replica may lead now).
  bool KeepAlive();
  int ttl_s() const { return ttl_s_; }

 private:
  std::unique_ptr<EtcdClient> client_;
  std::string identity_;
  int ttl_s_;
  std::string lease_;
};

// `create`: mark the store initialized (FailedPrecondition if it already is); otherwise it must be.
StatusOr<std::unique_ptr<StateStore>> OpenEtcdStore(const std::vector<std::string>& endpoints, bool create);

// "etcd:URL,URL" -> the URLs.
StatusOr<std::vector<std::string>> EtcdEndpoints(const std::string& url);

}  // namespace awan::server
