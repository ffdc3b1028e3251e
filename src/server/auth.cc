#include "server/auth.h"

#include <fmt/format.h>

#include "audit/audit_log.h"

namespace awan::server {

bool ParseRole(const std::string& name, Role* out) {
  for (Role r : {Role::kNode, Role::kViewer, Role::kMember, Role::kTenantAdmin, Role::kAdmin}) {
    if (name == RoleName(r)) {
      *out = r;
      return true;
    }
  }
  return false;
}

const char* RoleName(Role r) {
  switch (r) {
    case Role::kNode:
      return "node";
    case Role::kViewer:
      return "viewer";
    case Role::kMember:
      return "member";
    case Role::kTenantAdmin:
      return "tenant-admin";
    case Role::kAdmin:
      return "admin";
  }
  return "viewer";
}

StatusOr<std::string> CreateToken(StateStore& store, const std::string& tenant, Role role,
                                  const std::function<uint64_t()>& entropy, int64_t now_ms,
                                  const std::string& user) {
  if (!user.empty()) {
    if (tenant.empty() || role == Role::kNode || role == Role::kAdmin)
      return InvalidArgument("a user belongs to a tenant: give --tenant (and a tenant role)");
    if (user.size() > 64 ||
        user.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
            std::string::npos)
      return InvalidArgument("user: letters, digits, '.', '_' and '-', at most 64");
  }
  if (role == Role::kNode && tenant.empty()) return InvalidArgument("a node token needs the node's name");
  if (role != Role::kAdmin && tenant.empty())
    return InvalidArgument("a " + std::string(RoleName(role)) + " token needs a tenant");
  if (role == Role::kAdmin && !tenant.empty())
    return InvalidArgument("an admin token is fleet-wide: give no tenant");
  std::string token = "awan_";
  for (int i = 0; i < 4; ++i) token += fmt::format("{:016x}", entropy());
  AWAN_RETURN_IF_ERROR(
      store.PutToken(TokenRecord{audit::Sha256Hex(token), tenant, RoleName(role), false, now_ms, user}));
  return token;
}

Status RevokeToken(StateStore& store, const std::string& token_or_id) {
  std::optional<TokenRecord> rec;
  if (token_or_id.rfind("awan_", 0) == 0) {
    AWAN_ASSIGN_OR_RETURN(rec, store.FindToken(audit::Sha256Hex(token_or_id)));
    if (!rec) return NotFound("unknown token");
  } else {
    const bool hex = token_or_id.size() >= 8 && token_or_id.size() <= 64 &&
                     token_or_id.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (!hex) return InvalidArgument("expected a token (awan_...) or a token id (8 to 64 hex digits)");
    AWAN_ASSIGN_OR_RETURN(std::vector<TokenRecord> all, store.ListTokens());
    for (const TokenRecord& t : all) {
      if (t.hash.rfind(token_or_id, 0) != 0) continue;
      if (rec) return InvalidArgument("token id " + token_or_id + " names several tokens: give more digits");
      rec = t;
    }
    if (!rec) return NotFound("no token with id " + token_or_id);
  }
  rec->revoked = true;
  return store.PutToken(*rec);
}

StatusOr<Principal> Authenticate(StateStore& store, const std::string& header) {
  if (header.empty()) return Unauthenticated("missing token: send 'Authorization: Bearer <token>'");
  std::string token = header;
  if (token.rfind("Bearer ", 0) == 0) token = token.substr(7);
  if (token.size() != 69 || token.rfind("awan_", 0) != 0) return Unauthenticated("malformed token");
  AWAN_ASSIGN_OR_RETURN(std::optional<TokenRecord> rec, store.FindToken(audit::Sha256Hex(token)));
  if (!rec) return Unauthenticated("unknown token");
  if (rec->revoked) return Unauthenticated("revoked token");
  Principal p;
  p.tenant = rec->tenant;
  p.user = rec->user;
  if (!ParseRole(rec->role, &p.role)) return Internal("token with unknown role " + rec->role);
  return p;
}

}  // namespace awan::server

namespace awan::server {

StatusOr<Principal> Authenticator::Authenticate(const std::string& header) {
  const int64_t now = clock_->NowMs();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(header);
    if (it != cache_.end() && it->second.first > now) return it->second.second;
  }
  AWAN_ASSIGN_OR_RETURN(Principal p, ::awan::server::Authenticate(*store_, header));
  std::lock_guard<std::mutex> lock(mu_);
  if (cache_.size() > 100000) cache_.clear();  // bounded
  cache_[header] = {now + ttl_ms_, p};
  return p;
}

}  // namespace awan::server
