// A REST client for any Kubernetes group/version/resource, namespaced or cluster-scoped,
// with objects as nlohmann::json. `Client` is the interface; NewClient() talks to a real
// API server through http::Client; FakeClient (fake_client.h) keeps objects in memory for
// unit tests.
//
// Retries (real client): 429 and 5xx answers, and connection failures, are retried with
// exponential backoff honouring Retry-After, but only where a repeat cannot do harm:
// GET/LIST, DELETE (a repeat answers 404), PUT carrying metadata.resourceVersion (a repeat
// answers 409), merge and apply patches (applying one twice gives the same object).
// POST (create) and JSON patches are retried only on 429, which the server sends before
// doing anything. A 401 asks the token source for a fresh credential (a rotated token
// file, an exec plugin run again) and, when it may differ, sends the request once more.
// Errors are values (api_error.h), never exceptions.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/transport.h"
#include "kube/api_error.h"
#include "kube/config.h"
#include "kube/exec_credential.h"
#include "kube/token_source.h"

namespace agentrollout::kube {

struct ResourceRef {
  std::string group;  // "" = the core group
  std::string version;
  std::string resource;  // plural, lower case: "configmaps"
  bool namespaced = true;

  // "v1" or "group/version".
  std::string ApiVersion() const;
  // "configmaps" or "agentrollouts.rollouts.agentops.dev", for messages.
  std::string ToString() const;
  friend bool operator==(const ResourceRef&, const ResourceRef&) = default;
};

inline const ResourceRef kConfigMaps{"", "v1", "configmaps", true};
inline const ResourceRef kSecrets{"", "v1", "secrets", true};
inline const ResourceRef kEvents{"", "v1", "events", true};
inline const ResourceRef kNamespaces{"", "v1", "namespaces", false};
inline const ResourceRef kLeases{"coordination.k8s.io", "v1", "leases", true};

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  std::int64_t limit = 0;  // 0 = everything in one response
  std::string continue_token;
  // "" = most recent (a quorum read); "0" = any version (served from the watch cache).
  std::string resource_version;
  std::string resource_version_match;  // "", "NotOlderThan", "Exact"
};

struct ObjectList {
  std::vector<nlohmann::json> items;
  std::string resource_version;
  std::string continue_token;  // "" on the last page
  std::optional<std::int64_t> remaining_item_count;
};

struct GetOptions {
  // e.g. "scale" (an autoscaling/v1 Scale of a Deployment); "" = the object itself
  std::string subresource;
};

struct WriteOptions {
  std::string field_manager;
  bool dry_run = false;
};

struct DeleteOptions {
  std::optional<std::string> precondition_uid;
  std::optional<std::string> precondition_resource_version;
  std::optional<std::string> propagation_policy;  // Foreground | Background | Orphan
  std::optional<std::int64_t> grace_period_seconds;
};

enum class PatchType {
  kMerge,  // application/merge-patch+json (RFC 7386)
  kJson,   // application/json-patch+json (RFC 6902)
  kApply,  // server-side apply: application/apply-patch+yaml, needs a field manager
};

struct PatchOptions {
  std::string field_manager;  // required for kApply
  bool force = false;         // kApply: take ownership of conflicting fields
  std::string subresource;    // e.g. "status"; "" = the object itself
  bool dry_run = false;
};

struct WatchOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;  // start after this version; "" or "0" = now (with ADDED)
  bool allow_bookmarks = true;
  std::chrono::seconds timeout{0};  // server-side timeoutSeconds; 0 = server default
};

struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted, kBookmark, kError };
  Type type = Type::kAdded;
  nlohmann::json object;  // for kError, a Status (StatusFromJson)
};

// An open watch. Next() blocks the calling thread (one of the project's own threads).
class WatchStream {
 public:
  virtual ~WatchStream() = default;
  // The next event; nullopt at the end of the stream (server timeout or Stop()); an Error
  // when the connection broke. Callers re-watch from their last resourceVersion.
  virtual Result<std::optional<WatchEvent>> Next() = 0;
  // Unblocks Next() from another thread.
  virtual void Stop() = 0;
};
using WatchStreamPtr = std::unique_ptr<WatchStream>;

class Client {
 public:
  virtual ~Client() = default;

  virtual ApiResult<nlohmann::json> Get(const ResourceRef& resource, std::string_view ns,
                                        std::string_view name, const GetOptions& options = {}) = 0;
  // `ns` "" lists a namespaced resource across all namespaces.
  virtual ApiResult<ObjectList> List(const ResourceRef& resource, std::string_view ns,
                                     const ListOptions& options = {}) = 0;
  // The same page as the server sent it: JSON text, not parsed yet (ParseListText).
  // ListPages reads the next page's continue token from it and asks for that page while
  // this one is parsed.
  virtual ApiResult<std::string> ListText(const ResourceRef& resource, std::string_view ns,
                                          const ListOptions& options = {}) = 0;
  virtual ApiResult<nlohmann::json> Create(const ResourceRef& resource, std::string_view ns,
                                           const nlohmann::json& object,
                                           const WriteOptions& options = {}) = 0;
  // PUT of the whole object, named by its metadata.name. With metadata.resourceVersion
  // set, a stale object fails with IsConflict.
  virtual ApiResult<nlohmann::json> Update(const ResourceRef& resource, std::string_view ns,
                                           const nlohmann::json& object,
                                           const WriteOptions& options = {}) = 0;
  // PUT to the status subresource: only `status` changes.
  virtual ApiResult<nlohmann::json> UpdateStatus(const ResourceRef& resource, std::string_view ns,
                                                 const nlohmann::json& object,
                                                 const WriteOptions& options = {}) = 0;
  virtual ApiResult<nlohmann::json> Patch(const ResourceRef& resource, std::string_view ns,
                                          std::string_view name, PatchType type,
                                          const nlohmann::json& patch,
                                          const PatchOptions& options = {}) = 0;
  // Returns what the server returns: the deleted object or a Status.
  virtual ApiResult<nlohmann::json> Delete(const ResourceRef& resource, std::string_view ns,
                                           std::string_view name,
                                           const DeleteOptions& options = {}) = 0;
  virtual ApiResult<WatchStreamPtr> Watch(const ResourceRef& resource, std::string_view ns,
                                          const WatchOptions& options) = 0;
};
using ClientPtr = std::shared_ptr<Client>;

// Receives the pages of a list as they arrive. `restart` is called when the pages so far
// are void: their continue token expired (410) and the list starts over.
struct ListPageHandler {
  std::function<void(std::vector<nlohmann::json> items)> page;
  std::function<void()> restart;
};

// A list page's JSON text parsed: its items (each with the list's apiVersion and kind where
// it lacks them) and the list's metadata.
ApiResult<ObjectList> ParseListText(std::string_view text);

// Follows continue tokens, handing each page's items to `handler.page` as it arrives, so
// only two pages need to be alive at a time: the next page is requested (on a thread of
// its own) as soon as this one's text is in, its continue token read ahead of the parse, so
// that the parse and the handler's work overlap the server's and the transfer. The handler
// runs on the calling thread, one page after another, in order. If a continue token
// expires (410), calls `handler.restart` and starts over with one unpaginated list, as
// client-go's pager does. Returns the list's resourceVersion.
ApiResult<std::string> ListPages(Client& client, const ResourceRef& resource, std::string_view ns,
                                 ListOptions options, const ListPageHandler& handler);

// Every page of a list in one ObjectList (ListPages collected).
ApiResult<ObjectList> ListAll(Client& client, const ResourceRef& resource, std::string_view ns,
                              ListOptions options);

// The type of a watch event's "type" field; nullopt for an unknown one.
std::optional<WatchEvent::Type> ParseWatchEventType(std::string_view type);

struct RetryPolicy {
  int max_attempts = 5;  // including the first
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{5000};
  std::chrono::seconds max_retry_after{30};  // longer Retry-After values are capped
};

struct ClientOptions {
  std::string user_agent = "agentrollout";
  std::chrono::milliseconds request_timeout{30000};
  RetryPolicy retry;
  // How the client waits between attempts (tests record instead of sleeping).
  std::function<void(std::chrono::milliseconds)> sleep;
  // How a kubeconfig exec plugin is run (RestConfig::exec).
  ExecOptions exec;
};

// A client for the API server of `config`. Fails for an unusable server URL or PEM.
Result<ClientPtr> NewClient(const RestConfig& config, const ClientOptions& options = {});

// A client over a given transport and token source (nullptr = no token).
ClientPtr NewClientWithTransport(http::ClientPtr transport, TokenSourcePtr tokens,
                                 const ClientOptions& options = {});

}  // namespace agentrollout::kube
