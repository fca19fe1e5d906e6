#include "kube/client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "http/test_server.h"
#include "kube/clock.h"

namespace agentrollout::kube {
namespace {

using http::testing::Exchange;
using http::testing::ReceivedRequest;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;
using namespace std::chrono_literals;

std::string StatusBody(int code, const std::string& reason, const std::string& message) {
  return json{{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},       {"code", code},
              {"reason", reason}, {"message", message}, {"details", {{"name", "x"}}}}
      .dump();
}

// A local API server stand-in: answers requests with scripted responses, in order, and
// records what it received.
class ScriptedServer {
 public:
  using Responder = std::function<void(Exchange&)>;

  ScriptedServer() {
    auto server = http::testing::StartTestServer([this](Exchange& ex) { Handle(ex); });
    EXPECT_TRUE(server.ok());
    server_ = std::move(server).value();
  }

  void Then(Responder responder) {
    std::lock_guard<std::mutex> lock(mu_);
    script_.push_back(std::move(responder));
  }
  void ThenJson(int status, const json& body, http::Headers headers = {}) {
    headers.emplace_back("Content-Type", "application/json");
    Then([=](Exchange& ex) { ex.Respond(status, headers, body.dump()); });
  }
  void ThenStatus(int code, const std::string& reason, const std::string& message,
                  http::Headers headers = {}) {
    Then([=](Exchange& ex) { ex.Respond(code, headers, StatusBody(code, reason, message)); });
  }

  std::vector<ReceivedRequest> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  std::string url() const { return server_->url(); }

 private:
  void Handle(Exchange& ex) {
    Responder responder;
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(ex.request());
      if (script_.empty()) {
        ex.Respond(500, {}, "no scripted response left");
        return;
      }
      responder = std::move(script_.front());
      script_.pop_front();
    }
    responder(ex);
  }

  std::mutex mu_;
  std::deque<Responder> script_;
  std::vector<ReceivedRequest> requests_;
  http::testing::TestServerPtr server_;
};

class RestClientTest : public ::testing::Test {
 protected:
  ClientPtr MakeClient(TokenSourcePtr tokens = NewStaticTokenSource("tok")) {
    http::ClientConfig config;
    config.base_url = server_.url();
    auto transport = http::NewClient(config);
    EXPECT_TRUE(transport.ok());
    ClientOptions options;
    options.sleep = [this](std::chrono::milliseconds d) { sleeps_.push_back(d); };
    return NewClientWithTransport(std::move(transport).value(), std::move(tokens), options);
  }

  ScriptedServer server_;
  std::vector<std::chrono::milliseconds> sleeps_;
};

const ResourceRef kWidgets{"example.com", "v1beta1", "widgets", false};
const ResourceRef kRollouts{"rollouts.agentops.dev", "v1alpha1", "agentrollouts", true};

TEST_F(RestClientTest, GetBuildsThePathAndHeaders) {
  server_.ThenJson(200, {{"kind", "ConfigMap"}, {"metadata", {{"name", "flags"}}}});
  auto object = MakeClient()->Get(kConfigMaps, "team-a", "flags");
  ASSERT_TRUE(object.ok()) << object.error().ToString();
  EXPECT_EQ((*object)["metadata"]["name"], "flags");
  auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].target, "/api/v1/namespaces/team-a/configmaps/flags");
  EXPECT_THAT(requests[0].Header("Authorization"), Optional(std::string("Bearer tok")));
  EXPECT_THAT(requests[0].Header("Accept"), Optional(std::string("application/json")));
}

TEST_F(RestClientTest, PathsForGroupsAndScopes) {
  server_.ThenJson(200, json::object());
  server_.ThenJson(200, json::object());
  auto client = MakeClient();
  ASSERT_TRUE(client->Get(kWidgets, "", "w1").ok());
  ASSERT_TRUE(client->UpdateStatus(kRollouts, "ns", {{"metadata", {{"name", "r"}}}}).ok());
  auto requests = server_.requests();
  EXPECT_EQ(requests[0].target, "/apis/example.com/v1beta1/widgets/w1");
  EXPECT_EQ(requests[1].method, "PUT");
  EXPECT_EQ(requests[1].target,
            "/apis/rollouts.agentops.dev/v1alpha1/namespaces/ns/agentrollouts/r/status");

  auto missing_ns = client->Get(kConfigMaps, "", "x");
  ASSERT_FALSE(missing_ns.ok());
  EXPECT_EQ(missing_ns.error().message(), "configmaps is namespaced: a namespace is required");
  auto extra_ns = client->Get(kWidgets, "ns", "x");
  ASSERT_FALSE(extra_ns.ok());
  EXPECT_THAT(extra_ns.error().message(), HasSubstr("widgets.example.com is cluster-scoped"));
  auto no_name = client->Update(kConfigMaps, "ns", {{"data", json::object()}});
  ASSERT_FALSE(no_name.ok());
  EXPECT_THAT(no_name.error().message(), HasSubstr("metadata.name is required"));
  EXPECT_EQ(server_.requests().size(), 2u);  // bad arguments never reach the server
}

TEST_F(RestClientTest, ListEscapesSelectorsAndFillsInItemKinds) {
  server_.ThenJson(
      200,
      {{"kind", "ConfigMapList"},
       {"apiVersion", "v1"},
       {"metadata", {{"resourceVersion", "42"}, {"continue", "tok2"}, {"remainingItemCount", 3}}},
       {"items", {{{"metadata", {{"name", "a"}}}}, {{"metadata", {{"name", "b"}}}}}}});
  ListOptions options;
  options.label_selector = "app in (web,api),tier!=db";
  options.field_selector = "metadata.name=a";
  options.limit = 2;
  options.continue_token = "tok1";
  auto list = MakeClient()->List(kConfigMaps, "", options);
  ASSERT_TRUE(list.ok()) << list.error().ToString();
  EXPECT_EQ(list->resource_version, "42");
  EXPECT_EQ(list->continue_token, "tok2");
  EXPECT_THAT(list->remaining_item_count, Optional(3));
  ASSERT_EQ(list->items.size(), 2u);
  EXPECT_EQ(list->items[0]["kind"], "ConfigMap");
  EXPECT_EQ(list->items[0]["apiVersion"], "v1");
  EXPECT_EQ(server_.requests()[0].target,
            "/api/v1/configmaps?labelSelector=app%20in%20%28web%2Capi%29%2Ctier%21%3Ddb"
            "&fieldSelector=metadata.name%3Da&limit=2&continue=tok1");
}

TEST_F(RestClientTest, ListAllFollowsContinueTokensAndRestartsWhenOneExpires) {
  auto page = [](std::vector<std::string> names, std::string next) {
    json items = json::array();
    for (const auto& name : names) items.push_back({{"metadata", {{"name", name}}}});
    return json{{"kind", "ConfigMapList"},
                {"metadata", {{"resourceVersion", "7"}, {"continue", next}}},
                {"items", items}};
  };
  server_.ThenJson(200, page({"a", "b"}, "c1"));
  server_.ThenJson(200, page({"c"}, ""));
  server_.ThenJson(200, page({"a"}, "c2"));
  server_.ThenStatus(410, "Expired", "The provided continue parameter is too old");
  server_.ThenJson(200, page({"a", "b", "c", "d"}, ""));
  auto client = MakeClient();
  ListOptions options;
  options.limit = 2;
  options.resource_version = "0";
  auto all = ListAll(*client, kConfigMaps, "ns", options);
  ASSERT_TRUE(all.ok()) << all.error().ToString();
  EXPECT_EQ(all->items.size(), 3u);
  EXPECT_EQ(all->resource_version, "7");
  all = ListAll(*client, kConfigMaps, "ns", options);
  ASSERT_TRUE(all.ok()) << all.error().ToString();
  EXPECT_EQ(all->items.size(), 4u);
  auto requests = server_.requests();
  EXPECT_EQ(requests[0].target, "/api/v1/namespaces/ns/configmaps?limit=2&resourceVersion=0");
  // Later pages name no resourceVersion (the API server refuses one with continue).
  EXPECT_EQ(requests[1].target, "/api/v1/namespaces/ns/configmaps?limit=2&continue=c1");
  EXPECT_EQ(requests[4].target, "/api/v1/namespaces/ns/configmaps");
}

TEST_F(RestClientTest, ListPagesRequestsTheNextPageWhileTheHandlerWorksOnThisOne) {
  auto page = [](std::string name, std::string next) {
    return json{{"kind", "ConfigMapList"},
                {"metadata", {{"resourceVersion", "7"}, {"continue", next}}},
                {"items", {{{"metadata", {{"name", name}}}}}}};
  };
  server_.ThenJson(200, page("a", "c1"));
  server_.ThenJson(200, page("b", "c2"));
  server_.ThenJson(200, page("c", ""));
  auto client = MakeClient();
  ListOptions options;
  options.limit = 1;
  std::vector<std::string> names;
  std::vector<std::size_t> requests_seen;  // by the server when each page was handed over
  ListPageHandler handler;
  handler.page = [&](std::vector<json> items) {
    for (const json& item : items) names.push_back(item["metadata"]["name"]);
    if (names.size() < 3) {
      // Not the last page: the request for the next one is under way (bounded wait).
      const auto deadline = std::chrono::steady_clock::now() + 5s;
      while (server_.requests().size() < names.size() + 1 &&
             std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(1ms);
      }
    }
    requests_seen.push_back(server_.requests().size());
  };
  handler.restart = [] { FAIL() << "no page expired"; };
  auto resource_version = ListPages(*client, kConfigMaps, "ns", options, handler);
  ASSERT_TRUE(resource_version.ok()) << resource_version.error().ToString();
  EXPECT_EQ(*resource_version, "7");
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(requests_seen, (std::vector<std::size_t>{2, 3, 3}));
}

// The next page is asked for with the continue token read from the page's text before it
// is parsed. An item may carry a member named "continue" too (a ConfigMap's data key): on
// the last page, which has no token of its own, that one is read ahead; the parse shows
// the guess wrong, and the answer to it is dropped.
TEST_F(RestClientTest, ListPagesDropsTheAnswerToAContinueTokenReadAheadWrongly) {
  server_.ThenJson(200, {{"kind", "ConfigMapList"},
                         {"metadata", {{"resourceVersion", "7"}, {"continue", "c1"}}},
                         {"items", {{{"metadata", {{"name", "a"}}}}}}});
  server_.ThenJson(
      200, {{"kind", "ConfigMapList"},
            {"metadata", {{"resourceVersion", "7"}}},
            {"items", {{{"metadata", {{"name", "b"}}}, {"data", {{"continue", "bogus"}}}}}}});
  server_.ThenStatus(400, "BadRequest", "continue key is not valid");
  auto client = MakeClient();
  ListOptions options;
  options.limit = 1;
  auto all = ListAll(*client, kConfigMaps, "ns", options);
  ASSERT_TRUE(all.ok()) << all.error().ToString();
  ASSERT_EQ(all->items.size(), 2u);
  EXPECT_EQ(all->items[1]["data"]["continue"], "bogus");
  EXPECT_EQ(all->resource_version, "7");
  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[1].target, "/api/v1/namespaces/ns/configmaps?limit=1&continue=c1");
  EXPECT_EQ(requests[2].target, "/api/v1/namespaces/ns/configmaps?limit=1&continue=bogus");
}

TEST_F(RestClientTest, AListPageThatIsNotJsonFailsTheList) {
  server_.Then([](Exchange& ex) { ex.Respond(200, {}, "{\"items\": [ {\"metadata\""); });
  auto client = MakeClient();
  auto all = ListAll(*client, kConfigMaps, "ns", {});
  ASSERT_FALSE(all.ok());
  EXPECT_THAT(all.error().message(), HasSubstr("not JSON"));
}

TEST_F(RestClientTest, ApiErrorsCarryTheStatus) {
  server_.ThenStatus(404, "NotFound", "configmaps \"x\" not found");
  server_.ThenStatus(409, "AlreadyExists", "configmaps \"x\" already exists");
  server_.ThenStatus(409, "Conflict", "the object has been modified");
  server_.ThenStatus(403, "Forbidden", "configmaps is forbidden");
  server_.Then([](Exchange& ex) { ex.Respond(400, {}, "plain text"); });
  auto client = MakeClient();
  auto missing = client->Get(kConfigMaps, "ns", "x");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(IsNotFound(missing.error()));
  EXPECT_EQ(missing.error().message(), "configmaps \"x\" not found");
  ASSERT_TRUE(missing.api_status().has_value());
  EXPECT_EQ(missing.api_status()->code, 404);
  EXPECT_EQ(missing.api_status()->reason, "NotFound");
  EXPECT_EQ(missing.api_status()->details["name"], "x");

  auto exists = client->Create(kConfigMaps, "ns", {{"metadata", {{"name", "x"}}}});
  ASSERT_FALSE(exists.ok());
  EXPECT_TRUE(IsAlreadyExists(exists.error()));
  auto conflict = client->Update(kConfigMaps, "ns", {{"metadata", {{"name", "x"}}}});
  ASSERT_FALSE(conflict.ok());
  EXPECT_TRUE(IsConflict(conflict.error()));
  auto forbidden = client->Delete(kConfigMaps, "ns", "x");
  ASSERT_FALSE(forbidden.ok());
  EXPECT_TRUE(IsForbidden(forbidden.error()));
  auto bad = client->Get(kConfigMaps, "ns", "x");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(IsInvalid(bad.error()));
  EXPECT_EQ(bad.error().message(), "the server responded with HTTP 400: plain text");
}

TEST_F(RestClientTest, RetriesIdempotentCallsHonouringRetryAfter) {
  server_.ThenStatus(503, "ServiceUnavailable", "starting", {{"Retry-After", "2"}});
  server_.ThenStatus(500, "InternalError", "boom");
  server_.ThenJson(200, {{"ok", true}});
  auto got = MakeClient()->Get(kConfigMaps, "ns", "x");
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_EQ(server_.requests().size(), 3u);
  EXPECT_THAT(sleeps_,
              ElementsAre(std::chrono::milliseconds(2000), std::chrono::milliseconds(400)));
}

TEST_F(RestClientTest, GivesUpAfterMaxAttemptsAndCapsRetryAfter) {
  for (int i = 0; i < 5; ++i) {
    server_.ThenStatus(429, "TooManyRequests", "slow down", {{"Retry-After", "3600"}});
  }
  auto got = MakeClient()->Get(kConfigMaps, "ns", "x");
  ASSERT_FALSE(got.ok());
  EXPECT_TRUE(IsTooManyRequests(got.error()));
  EXPECT_EQ(server_.requests().size(), 5u);
  EXPECT_EQ(sleeps_.size(), 4u);
  EXPECT_EQ(sleeps_[0], std::chrono::milliseconds(30000));
}

TEST_F(RestClientTest, CreateIsRetriedOnlyOn429) {
  server_.ThenStatus(503, "ServiceUnavailable", "unavailable");
  auto client = MakeClient();
  auto created = client->Create(kConfigMaps, "ns", {{"metadata", {{"name", "x"}}}});
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(server_.requests().size(), 1u);

  server_.ThenStatus(429, "TooManyRequests", "later", {{"Retry-After", "1"}});
  server_.ThenJson(201, {{"metadata", {{"name", "x"}}}});
  created = client->Create(kConfigMaps, "ns", {{"metadata", {{"name", "x"}}}});
  ASSERT_TRUE(created.ok()) << created.error().ToString();
  EXPECT_EQ(server_.requests().size(), 3u);
}

TEST_F(RestClientTest, UpdateIsRetriedOnlyWithAResourceVersion) {
  auto client = MakeClient();
  server_.ThenStatus(503, "ServiceUnavailable", "unavailable");
  auto blind = client->Update(kConfigMaps, "ns", {{"metadata", {{"name", "x"}}}});
  ASSERT_FALSE(blind.ok());
  EXPECT_EQ(server_.requests().size(), 1u);

  server_.ThenStatus(503, "ServiceUnavailable", "unavailable");
  server_.ThenJson(200, {{"metadata", {{"name", "x"}, {"resourceVersion", "6"}}}});
  auto guarded =
      client->Update(kConfigMaps, "ns", {{"metadata", {{"name", "x"}, {"resourceVersion", "5"}}}});
  ASSERT_TRUE(guarded.ok()) << guarded.error().ToString();
  EXPECT_EQ(server_.requests().size(), 3u);

  server_.ThenStatus(503, "ServiceUnavailable", "unavailable");
  auto json_patch = client->Patch(kConfigMaps, "ns", "x", PatchType::kJson,
                                  json::array({{{"op", "remove"}, {"path", "/data/a"}}}));
  ASSERT_FALSE(json_patch.ok());
  EXPECT_EQ(server_.requests().size(), 4u);
}

TEST_F(RestClientTest, PatchTypesAndOptions) {
  for (int i = 0; i < 3; ++i) server_.ThenJson(200, json::object());
  auto client = MakeClient();
  ASSERT_TRUE(
      client->Patch(kConfigMaps, "ns", "x", PatchType::kMerge, {{"data", {{"a", "1"}}}}).ok());
  ASSERT_TRUE(client
                  ->Patch(kConfigMaps, "ns", "x", PatchType::kJson,
                          json::array({{{"op", "add"}, {"path", "/data/b"}, {"value", "2"}}}))
                  .ok());
  PatchOptions apply;
  apply.field_manager = "agentrollout";
  apply.force = true;
  apply.subresource = "status";
  ASSERT_TRUE(
      client->Patch(kRollouts, "ns", "r", PatchType::kApply, {{"status", json::object()}}, apply)
          .ok());
  auto requests = server_.requests();
  EXPECT_EQ(requests[0].method, "PATCH");
  EXPECT_THAT(requests[0].Header("Content-Type"),
              Optional(std::string("application/merge-patch+json")));
  EXPECT_EQ(json::parse(requests[0].body), json({{"data", {{"a", "1"}}}}));
  EXPECT_THAT(requests[1].Header("Content-Type"),
              Optional(std::string("application/json-patch+json")));
  EXPECT_THAT(requests[2].Header("Content-Type"),
              Optional(std::string("application/apply-patch+yaml")));
  EXPECT_EQ(requests[2].target,
            "/apis/rollouts.agentops.dev/v1alpha1/namespaces/ns/agentrollouts/r/status"
            "?fieldManager=agentrollout&force=true");

  auto no_manager = client->Patch(kConfigMaps, "ns", "x", PatchType::kApply, json::object());
  ASSERT_FALSE(no_manager.ok());
  EXPECT_THAT(no_manager.error().message(), HasSubstr("needs a field manager"));
}

TEST_F(RestClientTest, DeleteSendsPreconditions) {
  server_.ThenJson(200, {{"kind", "Status"}, {"status", "Success"}});
  DeleteOptions options;
  options.precondition_uid = "u-1";
  options.precondition_resource_version = "9";
  options.propagation_policy = "Background";
  ASSERT_TRUE(MakeClient()->Delete(kConfigMaps, "ns", "x", options).ok());
  auto request = server_.requests().at(0);
  EXPECT_EQ(request.method, "DELETE");
  json body = json::parse(request.body);
  EXPECT_EQ(body["kind"], "DeleteOptions");
  EXPECT_EQ(body["preconditions"], json({{"uid", "u-1"}, {"resourceVersion", "9"}}));
  EXPECT_EQ(body["propagationPolicy"], "Background");
}

TEST_F(RestClientTest, WatchStreamsEvents) {
  server_.Then([](Exchange& ex) {
    ex.StartChunked(200, {{"Content-Type", "application/json"}});
    ex.WriteChunk(R"({"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"11"}}})"
                  "\n");
    ex.WriteChunk(R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"15"}}})"
                  "\n");
    ex.WriteChunk(R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired",)");
    ex.WriteChunk(R"j("message":"too old resource version: 1 (5)"}})j"
                  "\n");
    ex.EndChunks();
  });
  WatchOptions options;
  options.resource_version = "10";
  options.timeout = std::chrono::seconds(300);
  options.label_selector = "app=web";
  auto watch = MakeClient()->Watch(kConfigMaps, "ns", options);
  ASSERT_TRUE(watch.ok()) << watch.error().ToString();
  auto first = (*watch)->Next();
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->type, WatchEvent::Type::kAdded);
  EXPECT_EQ((*first)->object["metadata"]["name"], "a");
  auto bookmark = (*watch)->Next();
  ASSERT_TRUE(bookmark.ok() && bookmark->has_value());
  EXPECT_EQ((*bookmark)->type, WatchEvent::Type::kBookmark);
  auto error = (*watch)->Next();
  ASSERT_TRUE(error.ok() && error->has_value());
  EXPECT_EQ((*error)->type, WatchEvent::Type::kError);
  EXPECT_TRUE(IsGone(ErrorFromStatus(StatusFromJson((*error)->object, 500))));
  auto end = (*watch)->Next();
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end->has_value());
  EXPECT_EQ(server_.requests()[0].target,
            "/api/v1/namespaces/ns/configmaps?watch=true&resourceVersion=10"
            "&allowWatchBookmarks=true&timeoutSeconds=300&labelSelector=app%3Dweb");
}

TEST_F(RestClientTest, WatchRefusedWithGone) {
  server_.ThenStatus(410, "Gone", "too old resource version");
  WatchOptions options;
  options.resource_version = "1";
  auto watch = MakeClient()->Watch(kConfigMaps, "", options);
  ASSERT_FALSE(watch.ok());
  EXPECT_TRUE(IsGone(watch.error()));
  EXPECT_EQ(watch.api_status()->code, 410);
}

TEST_F(RestClientTest, RereadsARotatedTokenFileAfterAMinute) {
  char tmpl[] = "/tmp/token-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/token";
  std::ofstream(path) << "first\n";
  auto clock = std::make_shared<FakeClock>();
  auto client = MakeClient(NewFileTokenSource(path, std::chrono::minutes(1), clock));
  for (int i = 0; i < 3; ++i) server_.ThenJson(200, json::object());
  ASSERT_TRUE(client->Get(kConfigMaps, "ns", "x").ok());
  std::ofstream(path) << "second\n";
  clock->Advance(std::chrono::seconds(59));
  ASSERT_TRUE(client->Get(kConfigMaps, "ns", "x").ok());
  clock->Advance(std::chrono::seconds(2));
  ASSERT_TRUE(client->Get(kConfigMaps, "ns", "x").ok());
  auto requests = server_.requests();
  EXPECT_THAT(requests[0].Header("Authorization"), Optional(std::string("Bearer first")));
  EXPECT_THAT(requests[1].Header("Authorization"), Optional(std::string("Bearer first")));
  EXPECT_THAT(requests[2].Header("Authorization"), Optional(std::string("Bearer second")));
  std::filesystem::remove_all(tmpl);
}

// Hands out "bad" until the server refuses it, then "good"; counts refreshes.
class RotatingTokens final : public TokenSource {
 public:
  Result<std::string> Token() override {
    std::lock_guard<std::mutex> lock(mu_);
    return token_;
  }
  bool Refresh(std::string_view rejected) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++refreshes_;
    if (rejected == token_) token_ = token_ == "bad" ? "good" : "bad";
    return true;
  }
  int refreshes() {
    std::lock_guard<std::mutex> lock(mu_);
    return refreshes_;
  }

 private:
  std::mutex mu_;
  std::string token_ = "bad";
  int refreshes_ = 0;
};

TEST_F(RestClientTest, A401RefreshesTheCredentialAndSendsTheRequestOnceMore) {
  auto tokens = std::make_shared<RotatingTokens>();
  auto client = MakeClient(tokens);
  server_.ThenStatus(401, "Unauthorized", "Unauthorized");
  server_.ThenJson(201, json{{"metadata", {{"name", "x"}}}});
  // A create (never retried on 5xx) is sent again after a 401: the server did nothing.
  auto created = client->Create(kConfigMaps, "ns", json{{"metadata", {{"name", "x"}}}});
  ASSERT_TRUE(created.ok()) << created.error().ToString();
  auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_THAT(requests[0].Header("Authorization"), Optional(std::string("Bearer bad")));
  EXPECT_THAT(requests[1].Header("Authorization"), Optional(std::string("Bearer good")));
  EXPECT_TRUE(sleeps_.empty());

  // Refused again after the refresh: once per request, the 401 is the answer.
  server_.ThenStatus(401, "Unauthorized", "Unauthorized");
  server_.ThenStatus(401, "Unauthorized", "Unauthorized");
  auto refused = client->Get(kConfigMaps, "ns", "x");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.api_status()->code, 401);
  EXPECT_EQ(server_.requests().size(), 4u);
  EXPECT_EQ(tokens->refreshes(), 2);
}

TEST_F(RestClientTest, AStaticTokenIsNotSentAgainAfterA401) {
  server_.ThenStatus(401, "Unauthorized", "Unauthorized");
  auto refused = MakeClient()->Get(kConfigMaps, "ns", "x");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.api_status()->code, 401);
  EXPECT_EQ(server_.requests().size(), 1u);
}

TEST_F(RestClientTest, AWatchRefusedWith401IsOpenedAgainWithAFreshCredential) {
  server_.ThenStatus(401, "Unauthorized", "Unauthorized");
  server_.Then([](Exchange& ex) {
    ex.StartChunked(200, {{"Content-Type", "application/json"}});
    ex.WriteChunk(R"({"type":"ADDED","object":{"metadata":{"name":"a"}}})"
                  "\n");
    ex.EndChunks();
  });
  auto watch = MakeClient(std::make_shared<RotatingTokens>())->Watch(kConfigMaps, "ns", {});
  ASSERT_TRUE(watch.ok()) << watch.error().ToString();
  auto first = (*watch)->Next();
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->object["metadata"]["name"], "a");
  EXPECT_THAT(server_.requests()[1].Header("Authorization"), Optional(std::string("Bearer good")));
}

TEST(FileTokenSource, RereadsTheFileAtOnceAfterA401) {
  char tmpl[] = "/tmp/token-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/token";
  auto clock = std::make_shared<FakeClock>();
  auto tokens = NewFileTokenSource(path, std::chrono::minutes(1), clock);
  std::ofstream(path) << "old";
  EXPECT_EQ(*tokens->Token(), "old");
  // Not rewritten yet: nothing new to send.
  EXPECT_FALSE(tokens->Refresh("old"));
  std::ofstream(path) << "new";
  EXPECT_TRUE(tokens->Refresh("old"));
  EXPECT_EQ(*tokens->Token(), "new");
  std::filesystem::remove_all(tmpl);
}

TEST(FileTokenSource, KeepsTheLastTokenWhenTheFileIsBrieflyMissing) {
  char tmpl[] = "/tmp/token-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/token";
  auto clock = std::make_shared<FakeClock>();
  auto tokens = NewFileTokenSource(path, std::chrono::minutes(1), clock);
  auto none = tokens->Token();
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), ErrorCode::kUnauthenticated);
  std::ofstream(path) << "t1";
  EXPECT_EQ(*tokens->Token(), "t1");
  std::filesystem::remove(path);
  clock->Advance(std::chrono::minutes(2));
  EXPECT_EQ(*tokens->Token(), "t1");
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace agentrollout::kube
