// API tokens: random, shown once, stored only as their SHA-256; each bound to a tenant and a role.
//   admin         everything, every tenant ("" tenant)
//   tenant-admin  everything within its tenant
//   member        submit, read and cancel its tenant's jobs
//   viewer        read its tenant's jobs
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/clock.h"
#include "common/status.h"
#include "server/store.h"

namespace awan::server {

// kNode: a node agent's token (`awan token create --role node --node NAME`; the node's name is kept where a
// tenant's would be): it may only send that node's heartbeats and signals, and sees nothing.
enum class Role { kNode = -1, kViewer = 0, kMember = 1, kTenantAdmin = 2, kAdmin = 3 };
bool ParseRole(const std::string& name, Role* out);
const char* RoleName(Role r);

struct Principal {
  std::string tenant;  // "" for an admin; the node's name for a node agent (Role::kNode)
  Role role = Role::kViewer;
  std::string user;  // the token's user inside its tenant ("" = none): jobs record who submitted them
  bool can_write() const { return role >= Role::kMember; }
  // May this principal see objects of `tenant`? Foreign objects must look absent (404), not forbidden.
  bool sees(const std::string& tenant_of_object) const {
    return role == Role::kAdmin || (role != Role::kNode && tenant_of_object == tenant);
  }
};

// Creates a token for (tenant, role), stores its hash, returns the token ("awan_" + 64 hex). `entropy` gives
// random 64-bit words (std::random_device in the CLI; a fixed stream in tests).
// `user`: a person inside the tenant (letters, digits, '.', '_', '-'; at most 64), recorded with the jobs the
// token submits.
StatusOr<std::string> CreateToken(StateStore& store, const std::string& tenant, Role role,
                                  const std::function<uint64_t()>& entropy, int64_t now_ms,
                                  const std::string& user = "");

// Marks the token revoked (NotFound if the store does not know it).
// Revokes a token given whole ("awan_…") or by its id (TokenId, or a unique prefix of 8 or more hex digits).
// NotFound for none, InvalidArgument for a prefix that names several.
Status RevokeToken(StateStore& store, const std::string& token_or_id);
// A token's id, safe to show and to log: the first 12 hex digits of its hash.
inline std::string TokenId(const TokenRecord& t) { return t.hash.substr(0, 12); }

// The principal for "Bearer <token>" (or the bare token); Unauthenticated-style errors are NotFound with a
// message safe to show: missing, malformed, unknown or revoked.
StatusOr<Principal> Authenticate(StateStore& store, const std::string& authorization_header);

// Authenticate with a short-lived cache of good tokens, so that a read does not query the store: a token
// revoked in the store stops working within `ttl_ms`. Thread-safe.
class Authenticator {
 public:
  // REQUIRES: store and clock outlive it.
  Authenticator(StateStore& store, Clock& clock, int64_t ttl_ms = 1000)
      : store_(&store), clock_(&clock), ttl_ms_(ttl_ms) {}
  StatusOr<Principal> Authenticate(const std::string& authorization_header);

 private:
  StateStore* store_;
  Clock* clock_;
  int64_t ttl_ms_;
  std::mutex mu_;
  std::unordered_map<std::string, std::pair<int64_t, Principal>> cache_;  // header -> (expiry, principal)
};

}  // namespace awan::server
