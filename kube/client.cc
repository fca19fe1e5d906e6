#include "kube/client.h"

#include <algorithm>
#include <charconv>
#include <future>
#include <thread>

#include "api/codec.h"
#include "common/text.h"
#include "kube/exec_credential.h"

namespace agentrollout::kube {

namespace {

using nlohmann::json;

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string Escape(std::string_view text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(hex[u >> 4]);
      out.push_back(hex[u & 0xF]);
    }
  }
  return out;
}

class Query {
 public:
  // Adds `key=value` unless value is empty.
  Query& Add(std::string_view key, std::string_view value) {
    if (!value.empty()) {
      out_ += out_.empty() ? '?' : '&';
      out_ += key;
      out_ += '=';
      out_ += Escape(value);
    }
    return *this;
  }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

Result<std::string> CollectionPath(const ResourceRef& resource, std::string_view ns,
                                   bool namespace_required) {
  if (resource.version.empty() || resource.resource.empty()) {
    return InvalidArgument("resource \"" + resource.ToString() +
                           "\": version and resource (plural) are required");
  }
  std::string path = resource.group.empty()
                         ? "/api/" + Escape(resource.version)
                         : "/apis/" + Escape(resource.group) + "/" + Escape(resource.version);
  if (resource.namespaced) {
    if (!ns.empty()) {
      path += "/namespaces/" + Escape(ns);
    } else if (namespace_required) {
      return InvalidArgument(resource.ToString() + " is namespaced: a namespace is required");
    }
  } else if (!ns.empty()) {
    return InvalidArgument(resource.ToString() +
                           " is cluster-scoped: namespace must be empty, got \"" + std::string(ns) +
                           "\"");
  }
  return path + "/" + Escape(resource.resource);
}

Result<std::string> ObjectPath(const ResourceRef& resource, std::string_view ns,
                               std::string_view name, std::string_view subresource = "") {
  if (name.empty()) return InvalidArgument(resource.ToString() + ": a name is required");
  auto path = CollectionPath(resource, ns, /*namespace_required=*/true);
  if (!path.ok()) return path.error();
  std::string out = *path + "/" + Escape(name);
  if (!subresource.empty()) out += "/" + Escape(subresource);
  return out;
}

std::string NameOf(const json& object) {
  const json* metadata =
      object.is_object() && object.contains("metadata") ? &object["metadata"] : nullptr;
  if (metadata == nullptr || !metadata->is_object()) return "";
  auto it = metadata->find("name");
  return it != metadata->end() && it->is_string() ? it->get<std::string>() : "";
}

bool HasResourceVersion(const json& object) {
  if (!object.is_object()) return false;
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return false;
  auto rv = metadata->find("resourceVersion");
  return rv != metadata->end() && rv->is_string() && !rv->get<std::string>().empty();
}

// A string member of a JSON object, "" when absent or not a string.
std::string StringAt(const json& object, const char* key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

bool IsTransientTransportError(const Error& error) {
  return error.code() == ErrorCode::kUnavailable || error.code() == ErrorCode::kDeadlineExceeded;
}

class RestWatchStream final : public WatchStream {
 public:
  RestWatchStream(http::LineStreamPtr lines, std::string what)
      : lines_(std::move(lines)), what_(std::move(what)) {}

  Result<std::optional<WatchEvent>> Next() override {
    while (true) {
      auto line = lines_->NextLine();
      if (!line.ok()) return line.error();
      if (!*line) return std::optional<WatchEvent>();
      if ((*line)->empty()) continue;
      json event = json::parse(**line, nullptr, /*allow_exceptions=*/false);
      if (event.is_discarded() || !event.is_object()) {
        return Internal(what_ +
                        ": invalid JSON in watch event: " + CleanServerText(**line, {}, 200));
      }
      const std::string type_name = StringAt(event, "type");
      std::optional<WatchEvent::Type> type = ParseWatchEventType(type_name);
      if (!type) return Internal(what_ + ": unknown watch event type \"" + type_name + "\"");
      WatchEvent out;
      out.type = *type;
      if (auto it = event.find("object"); it != event.end()) out.object = std::move(*it);
      return std::optional<WatchEvent>(std::move(out));
    }
  }

  void Stop() override { lines_->Cancel(); }

 private:
  http::LineStreamPtr lines_;
  std::string what_;
};

class RestClient final : public Client {
 public:
  RestClient(http::ClientPtr transport, TokenSourcePtr tokens, ClientOptions options)
      : transport_(std::move(transport)), tokens_(std::move(tokens)), options_(std::move(options)) {
    if (!options_.sleep) {
      options_.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
    }
    options_.retry.max_attempts = std::max(1, options_.retry.max_attempts);
  }

  ApiResult<json> Get(const ResourceRef& resource, std::string_view ns, std::string_view name,
                      const GetOptions& options) override {
    auto path = ObjectPath(resource, ns, name, options.subresource);
    if (!path.ok()) return path.error();
    return Do({"GET", *path, "", "", true});
  }

  ApiResult<ObjectList> List(const ResourceRef& resource, std::string_view ns,
                             const ListOptions& options) override {
    auto text = ListText(resource, ns, options);
    if (!text.ok()) return text.Failure<ObjectList>();
    return ParseListText(*text);
  }

  ApiResult<std::string> ListText(const ResourceRef& resource, std::string_view ns,
                                  const ListOptions& options) override {
    auto path = CollectionPath(resource, ns, /*namespace_required=*/false);
    if (!path.ok()) return path.error();
    Query query;
    query.Add("labelSelector", options.label_selector)
        .Add("fieldSelector", options.field_selector)
        .Add("limit", options.limit > 0 ? std::to_string(options.limit) : "")
        .Add("continue", options.continue_token)
        .Add("resourceVersion", options.resource_version)
        .Add("resourceVersionMatch", options.resource_version_match);
    return DoText({"GET", *path + query.str(), "", "", true});
  }

  ApiResult<json> Create(const ResourceRef& resource, std::string_view ns, const json& object,
                         const WriteOptions& options) override {
    auto path = CollectionPath(resource, ns, /*namespace_required=*/true);
    if (!path.ok()) return path.error();
    return Do({"POST", *path + WriteQuery(options).str(), api::ToWireJson(object),
               "application/json",
               /*idempotent=*/false});
  }

  ApiResult<json> Update(const ResourceRef& resource, std::string_view ns, const json& object,
                         const WriteOptions& options) override {
    return Put(resource, ns, object, options, "");
  }

  ApiResult<json> UpdateStatus(const ResourceRef& resource, std::string_view ns, const json& object,
                               const WriteOptions& options) override {
    return Put(resource, ns, object, options, "status");
  }

  ApiResult<json> Patch(const ResourceRef& resource, std::string_view ns, std::string_view name,
                        PatchType type, const json& patch, const PatchOptions& options) override {
    auto path = ObjectPath(resource, ns, name, options.subresource);
    if (!path.ok()) return path.error();
    if (type == PatchType::kApply && options.field_manager.empty()) {
      return InvalidArgument("server-side apply of " + resource.ToString() + " \"" +
                             std::string(name) + "\" needs a field manager");
    }
    Query query;
    query.Add("fieldManager", options.field_manager)
        .Add("force", type == PatchType::kApply && options.force ? "true" : "")
        .Add("dryRun", options.dry_run ? "All" : "");
    const char* content_type = type == PatchType::kMerge  ? "application/merge-patch+json"
                               : type == PatchType::kJson ? "application/json-patch+json"
                                                          : "application/apply-patch+yaml";
    // Merge and apply patches give the same object when applied twice; JSON patches need not.
    return Do({"PATCH", *path + query.str(), api::ToWireJson(patch), content_type,
               /*idempotent=*/type != PatchType::kJson});
  }

  ApiResult<json> Delete(const ResourceRef& resource, std::string_view ns, std::string_view name,
                         const DeleteOptions& options) override {
    auto path = ObjectPath(resource, ns, name);
    if (!path.ok()) return path.error();
    json body = json::object();
    if (options.precondition_uid) body["preconditions"]["uid"] = *options.precondition_uid;
    if (options.precondition_resource_version) {
      body["preconditions"]["resourceVersion"] = *options.precondition_resource_version;
    }
    if (options.propagation_policy) body["propagationPolicy"] = *options.propagation_policy;
    if (options.grace_period_seconds) body["gracePeriodSeconds"] = *options.grace_period_seconds;
    if (body.empty()) return Do({"DELETE", *path, "", "", true});
    body["kind"] = "DeleteOptions";
    body["apiVersion"] = "v1";
    return Do({"DELETE", *path, api::ToWireJson(body), "application/json", true});
  }

  ApiResult<WatchStreamPtr> Watch(const ResourceRef& resource, std::string_view ns,
                                  const WatchOptions& options) override {
    auto path = CollectionPath(resource, ns, /*namespace_required=*/false);
    if (!path.ok()) return path.error();
    Query query;
    query.Add("watch", "true")
        .Add("resourceVersion", options.resource_version)
        .Add("allowWatchBookmarks", options.allow_bookmarks ? "true" : "")
        .Add("timeoutSeconds",
             options.timeout.count() > 0 ? std::to_string(options.timeout.count()) : "")
        .Add("labelSelector", options.label_selector)
        .Add("fieldSelector", options.field_selector);
    // The server ends the watch after timeoutSeconds (default: up to an hour); silence well
    // beyond that means a dead connection.
    const std::chrono::seconds server_timeout =
        options.timeout.count() > 0 ? options.timeout : std::chrono::seconds(3600);
    bool refreshed = false;
    while (true) {
      http::Request request = NewRequest("GET", *path + query.str());
      auto token = Authorize(request);
      if (!token.ok()) return token.error();
      request.timeout = server_timeout + std::chrono::seconds(60);
      auto stream = transport_->Stream(request);
      if (!stream.ok()) return stream.error();
      if (RefreshAfter401(stream->status, *token, refreshed)) continue;
      if (stream->status < 200 || stream->status >= 300) {
        ApiStatus status = StatusFromResponse(stream->status, stream->error_body);
        return ApiResult<WatchStreamPtr>(ErrorFromStatus(status), status);
      }
      return WatchStreamPtr(
          std::make_unique<RestWatchStream>(std::move(stream->lines), "watch " + *path));
    }
  }

 private:
  struct Call {
    std::string method;
    std::string target;
    std::string body;
    std::string content_type;
    bool idempotent;  // see the retry rules in client.h
  };

  static Query WriteQuery(const WriteOptions& options) {
    Query query;
    query.Add("fieldManager", options.field_manager).Add("dryRun", options.dry_run ? "All" : "");
    return query;
  }

  ApiResult<json> Put(const ResourceRef& resource, std::string_view ns, const json& object,
                      const WriteOptions& options, std::string_view subresource) {
    const std::string name = NameOf(object);
    if (name.empty()) {
      return InvalidArgument("update of " + resource.ToString() + ": metadata.name is required");
    }
    auto path = ObjectPath(resource, ns, name, subresource);
    if (!path.ok()) return path.error();
    return Do({"PUT", *path + WriteQuery(options).str(), api::ToWireJson(object),
               "application/json",
               /*idempotent=*/HasResourceVersion(object)});
  }

  http::Request NewRequest(std::string method, std::string target) const {
    http::Request request;
    request.method = std::move(method);
    request.target = std::move(target);
    request.timeout = options_.request_timeout;
    request.headers = {{"Accept", "application/json"}, {"User-Agent", options_.user_agent}};
    return request;
  }

  // Adds the Authorization header; returns the token sent ("" = none).
  Result<std::string> Authorize(http::Request& request) {
    if (!tokens_) return std::string();
    auto token = tokens_->Token();
    if (!token.ok()) return token.error();
    if (!token->empty()) request.headers.emplace_back("Authorization", "Bearer " + *token);
    return token;
  }

  // After a 401 to a request sent with `token`: whether a fresh credential may be accepted
  // (client-go refreshes an exec plugin's credential the same way). Once per request.
  bool RefreshAfter401(int status, const std::string& token, bool& refreshed) {
    if (status != 401 || refreshed || !tokens_) return false;
    refreshed = true;
    return tokens_->Refresh(token);
  }

  std::chrono::milliseconds Backoff(int attempt) const {
    auto delay = options_.retry.initial_backoff;
    for (int i = 1; i < attempt && delay < options_.retry.max_backoff; ++i) delay *= 2;
    return std::min(delay, options_.retry.max_backoff);
  }

  std::chrono::milliseconds RetryDelay(const http::Response& response, int attempt) const {
    if (auto header = response.Header("Retry-After")) {
      std::int64_t seconds = 0;
      auto [end, ec] = std::from_chars(header->data(), header->data() + header->size(), seconds);
      if (ec == std::errc() && end == header->data() + header->size() && seconds >= 0) {
        return std::min<std::chrono::milliseconds>(std::chrono::seconds(seconds),
                                                   options_.retry.max_retry_after);
      }
    }
    return Backoff(attempt);
  }

  ApiResult<json> Do(const Call& call) {
    auto text = DoText(call);
    if (!text.ok()) return text.Failure<json>();
    if (text->empty()) return json::object();
    json body = json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded()) {
      return Internal(call.method + " " + call.target + ": the response is not JSON");
    }
    return body;
  }

  // The body of a successful response, unparsed.
  ApiResult<std::string> DoText(const Call& call) {
    bool refreshed = false;
    for (int attempt = 1;; ++attempt) {
      const bool last = attempt >= options_.retry.max_attempts;
      http::Request request = NewRequest(call.method, call.target);
      request.body = call.body;
      if (!call.content_type.empty())
        request.headers.emplace_back("Content-Type", call.content_type);
      auto token = Authorize(request);
      if (!token.ok()) return token.error();
      auto response = transport_->Send(request);
      if (!response.ok()) {
        if (call.idempotent && !last && IsTransientTransportError(response.error())) {
          options_.sleep(Backoff(attempt));
          continue;
        }
        return response.error();
      }
      if (response->status >= 200 && response->status < 300) return std::move(response->body);
      // A refused credential: the server did nothing, so any call may be sent again with a
      // fresh one (not counted as an attempt).
      if (RefreshAfter401(response->status, *token, refreshed)) {
        --attempt;
        continue;
      }
      // 429 is sent before the server does anything, so any call may be repeated.
      const bool retryable =
          response->status == 429 || (call.idempotent && response->status >= 500);
      if (retryable && !last) {
        options_.sleep(RetryDelay(*response, attempt));
        continue;
      }
      ApiStatus status = StatusFromResponse(response->status, response->body);
      Error error = ErrorFromStatus(status);
      return ApiResult<std::string>(std::move(error), std::move(status));
    }
  }

  http::ClientPtr transport_;
  TokenSourcePtr tokens_;
  ClientOptions options_;
};

}  // namespace

std::string ResourceRef::ApiVersion() const {
  return group.empty() ? version : group + "/" + version;
}

std::string ResourceRef::ToString() const {
  return group.empty() ? resource : resource + "." + group;
}

std::optional<WatchEvent::Type> ParseWatchEventType(std::string_view type) {
  if (type == "ADDED") return WatchEvent::Type::kAdded;
  if (type == "MODIFIED") return WatchEvent::Type::kModified;
  if (type == "DELETED") return WatchEvent::Type::kDeleted;
  if (type == "BOOKMARK") return WatchEvent::Type::kBookmark;
  if (type == "ERROR") return WatchEvent::Type::kError;
  return std::nullopt;
}

ApiResult<ObjectList> ParseListText(std::string_view text) {
  json body = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return Internal("the list response is not JSON");
  ObjectList list;
  if (!body.is_object()) return Internal("list response is not an object");
  const json& metadata = body.contains("metadata") ? body["metadata"] : json::object();
  list.resource_version = StringAt(metadata, "resourceVersion");
  list.continue_token = StringAt(metadata, "continue");
  if (auto it = metadata.find("remainingItemCount");
      it != metadata.end() && it->is_number_integer()) {
    list.remaining_item_count = it->get<std::int64_t>();
  }
  // List items come without apiVersion and kind; fill them in so each item stands alone.
  const std::string api_version = StringAt(body, "apiVersion");
  std::string kind = StringAt(body, "kind");
  if (kind.size() > 4 && kind.ends_with("List")) kind.resize(kind.size() - 4);
  auto items = body.find("items");
  if (items != body.end() && items->is_array()) {
    list.items.reserve(items->size());
    for (json& item : *items) {
      if (item.is_object()) {
        if (!item.contains("apiVersion") && !api_version.empty()) item["apiVersion"] = api_version;
        if (!item.contains("kind") && !kind.empty()) item["kind"] = kind;
      }
      list.items.push_back(std::move(item));
    }
  }
  return list;
}

namespace {

// The continue token in a list page's JSON text, read without parsing it: the list's own
// metadata comes after its items, so the last "continue" member is the list's. A guess:
// the page's parse checks it, and a wrong one costs only the request made with it.
std::string ContinueTokenAhead(std::string_view text) {
  constexpr std::string_view kMember = "\"continue\":\"";
  const std::size_t at = text.rfind(kMember);
  if (at == std::string_view::npos) return "";
  const std::size_t start = at + kMember.size();
  const std::size_t end = text.find('"', start);
  if (end == std::string_view::npos) return "";
  const std::string_view token = text.substr(start, end - start);
  if (token.find('\\') != std::string_view::npos) return "";  // escaped: left to the parse
  return std::string(token);
}

}  // namespace

ApiResult<std::string> ListPages(Client& client, const ResourceRef& resource, std::string_view ns,
                                 ListOptions options, const ListPageHandler& handler) {
  // Later pages come from the first page's snapshot; naming a version is not allowed.
  auto request_page = [&client, &resource, ns, options](std::string token) {
    ListOptions page_options = options;
    page_options.continue_token = std::move(token);
    page_options.resource_version.clear();
    page_options.resource_version_match.clear();
    return std::async(std::launch::async, [&client, &resource, ns, page_options] {
      return client.ListText(resource, ns, page_options);
    });
  };
  ApiResult<std::string> text = client.ListText(resource, ns, options);
  bool continued = !options.continue_token.empty();  // a 410 is the token expiring
  while (true) {
    if (!text.ok()) {
      if (!IsGone(text.error()) || !continued) return text.error();
      // The continue token expired mid-way: one consistent list without pages instead.
      handler.restart();
      options.continue_token.clear();
      options.limit = 0;
      options.resource_version.clear();
      options.resource_version_match.clear();
      auto whole = client.List(resource, ns, options);
      if (!whole.ok()) return whole.error();
      handler.page(std::move(whole->items));
      return whole->resource_version;
    }
    std::string guess = ContinueTokenAhead(*text);
    std::future<ApiResult<std::string>> next;
    if (!guess.empty()) next = request_page(guess);
    ApiResult<ObjectList> page = ParseListText(*text);
    text = std::string();                 // the parsed page replaces its text
    if (!page.ok()) return page.error();  // (a request made meanwhile ends unread)
    if (page->continue_token != guess) {
      if (next.valid()) next.wait();  // asked with a wrong token: its answer is dropped
      next = {};
      if (!page->continue_token.empty()) next = request_page(page->continue_token);
    }
    handler.page(std::move(page->items));
    if (!next.valid()) return page->resource_version;
    text = next.get();
    continued = true;
  }
}

ApiResult<ObjectList> ListAll(Client& client, const ResourceRef& resource, std::string_view ns,
                              ListOptions options) {
  ObjectList all;
  ListPageHandler collect;
  collect.page = [&all](std::vector<nlohmann::json> items) {
    for (auto& item : items) all.items.push_back(std::move(item));
  };
  collect.restart = [&all] { all.items.clear(); };
  auto resource_version = ListPages(client, resource, ns, std::move(options), collect);
  if (!resource_version.ok()) return resource_version.error();
  all.resource_version = std::move(resource_version).value();
  return all;
}

Result<ClientPtr> NewClient(const RestConfig& config, const ClientOptions& options) {
  http::ClientConfig http_config;
  http_config.base_url = config.server;
  http_config.tls = config.tls;
  http_config.default_timeout = options.request_timeout;
  const std::string where = config.source.empty() ? "kube client" : config.source;
  if (config.exec) {
    auto exec = std::make_shared<ExecCredentialSource>(*config.exec, config.server, config.tls,
                                                       options.exec);
    auto transport = NewExecTransport(http_config, exec);
    if (!transport.ok()) return transport.error().WithContext(where);
    return NewClientWithTransport(std::move(transport).value(), std::move(exec), options);
  }
  auto transport = http::NewClient(http_config);
  if (!transport.ok()) return transport.error().WithContext(where);
  return NewClientWithTransport(std::move(transport).value(), TokenSourceFor(config), options);
}

ClientPtr NewClientWithTransport(http::ClientPtr transport, TokenSourcePtr tokens,
                                 const ClientOptions& options) {
  return std::make_shared<RestClient>(std::move(transport), std::move(tokens), options);
}

}  // namespace agentrollout::kube
