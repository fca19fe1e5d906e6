#include "controllers/notify/webhook_notifier.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "api/names.h"
#include "controllers/notify/fake_channel.h"
#include "controllers/notify/notify_test_support.h"
#include "controllers/notify/webhook_channel.h"
#include "http/test_server.h"
#include "kube/fake_client.h"

namespace agentrollout::controllers {
namespace {

using http::testing::Exchange;
using http::testing::ReceivedRequest;
using nlohmann::json;
using notify_testing::Base64;
using notify_testing::Eventually;
using notify_testing::Secret;
using std::chrono::milliseconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;

// Keeps every formatted log line; owned by the logger, so it outlives detached workers.
class CaptureSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::string Text() {
    std::lock_guard<std::mutex> lock(mutex_);
    return text_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    text_.append(formatted.data(), formatted.size());
  }
  void flush_() override {}

 private:
  std::string text_;
};

// A local HTTP server that records each request and answers with `respond(exchange, n)`,
// n = 0 for the first request.
class RecordingServer {
 public:
  using Respond = std::function<void(Exchange&, int)>;
  explicit RecordingServer(Respond respond) : respond_(std::move(respond)) {
    auto server = http::testing::StartTestServer([this](Exchange& ex) {
      int index = 0;
      {
        std::lock_guard<std::mutex> lock(mu_);
        index = static_cast<int>(requests_.size());
        requests_.push_back(ex.request());
        times_.push_back(Clock::now());
      }
      respond_(ex, index);
    });
    EXPECT_TRUE(server.ok()) << server.error().ToString();
    server_ = std::move(server).value();
  }
  ~RecordingServer() { server_->Stop(); }

  std::string url() const { return server_->url(); }
  void Stop() { server_->Stop(); }
  std::size_t Count() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_.size();
  }
  std::vector<ReceivedRequest> Requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  std::vector<Clock::time_point> Times() {
    std::lock_guard<std::mutex> lock(mu_);
    return times_;
  }

 private:
  Respond respond_;
  std::mutex mu_;
  std::vector<ReceivedRequest> requests_;
  std::vector<Clock::time_point> times_;
  http::testing::TestServerPtr server_;
};

void Ok(Exchange& ex, int) { ex.Respond(200, {}, "ok"); }

// The delivery tests use the generic webhook body; the kinds' bodies have tests of their
// own (channels_test.cc, receivers_test.cc).
api::NotificationSpec Target(std::string url, std::vector<api::EventReason> events = {},
                             api::NotificationType type = api::NotificationType::kWebhook) {
  api::NotificationSpec target;
  target.url = std::move(url);
  target.events = std::move(events);
  target.type = type;
  return target;
}

Notification RolledBack(std::vector<api::NotificationSpec> targets, std::string text = "") {
  Notification n;
  n.namespace_ = "voice";
  n.name = "voice-agent-v2";
  n.reason = api::EventReason::kRolledBack;
  n.text = text.empty() ? "voice/voice-agent-v2 rolled back: error-rate 0.071 is > 0.05" : text;
  n.rollout = {{"namespace", "voice"},  {"name", "voice-agent-v2"}, {"revision", "2.0.0"},
               {"phase", "RolledBack"}, {"step", "majority"},       {"flagPercent", 0},
               {"trafficWeight", 0},    {"verdict", "NoGo"},        {"reason", "RolledBack"}};
  n.targets = std::move(targets);
  return n;
}

class WebhookNotifierTest : public ::testing::Test {
 protected:
  WebhookNotifierOptions FastOptions() {
    WebhookNotifierOptions options;
    options.initial_backoff = milliseconds(1);
    options.max_backoff = milliseconds(5);
    options.max_attempts = 4;
    options.request_timeout = milliseconds(5000);
    options.shutdown_grace = milliseconds(2000);
    options.logger = std::make_shared<spdlog::logger>("webhook-test", sink_);
    options.logger->set_level(spdlog::level::debug);
    return options;
  }
  std::shared_ptr<CaptureSink> sink_ = std::make_shared<CaptureSink>();
};

TEST_F(WebhookNotifierTest, WebhookTypePostsTheGenericBody) {
  RecordingServer server(Ok);
  WebhookNotifier notifier(nullptr, FastOptions());
  Notification notification = RolledBack({Target(server.url() + "/services/T0/B0/XYZ")});
  notifier.Notify(notification);
  ASSERT_TRUE(Eventually([&] { return notifier.Stats().sent == 1; }));

  std::vector<ReceivedRequest> requests = server.Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/services/T0/B0/XYZ");
  EXPECT_EQ(requests[0].Header("Content-Type"), "application/json");
  const json body = json::parse(requests[0].body);
  EXPECT_EQ(body, json({{"text", notification.text}, {"rollout", notification.rollout}}));
  EXPECT_EQ(notifier.Stats(), (WebhookStats{.sent = 1}));
}

TEST_F(WebhookNotifierTest, EachTargetGetsTheBodyOfItsKind) {
  RecordingServer server(Ok);
  WebhookNotifier notifier(nullptr, FastOptions());
  api::NotificationSpec slack = Target(server.url() + "/slack");
  slack.type = api::NotificationType::kSlack;  // the default of the API
  notifier.Notify(RolledBack({slack, Target(server.url() + "/webhook")}));
  ASSERT_TRUE(Eventually([&] { return notifier.Stats().sent == 2; }));
  for (const ReceivedRequest& request : server.Requests()) {
    const json body = json::parse(request.body);
    if (request.target == "/slack") {
      EXPECT_TRUE(body.contains("blocks")) << body.dump();
      EXPECT_FALSE(body.contains("rollout")) << body.dump();
    } else {
      EXPECT_EQ(request.target, "/webhook");
      EXPECT_TRUE(body.contains("rollout")) << body.dump();
    }
  }
}

TEST_F(WebhookNotifierTest, RetriesServerErrorsThenSucceeds) {
  RecordingServer server(
      [](Exchange& ex, int n) { ex.Respond(n < 2 ? 500 : 200, {}, n < 2 ? "boom" : "ok"); });
  WebhookNotifier notifier(nullptr, FastOptions());
  notifier.Notify(RolledBack({Target(server.url() + "/hook")}));
  ASSERT_TRUE(Eventually([&] { return notifier.Stats().sent == 1; }));
  EXPECT_EQ(server.Count(), 3u);
  EXPECT_EQ(notifier.Stats(), (WebhookStats{.sent = 1, .retries = 2}));
  for (const ReceivedRequest& request : server.Requests()) {
    EXPECT_EQ(json::parse(request.body)["text"], RolledBack({}).text) << "same body every time";
  }
}

TEST_F(WebhookNotifierTest, ARolloutsMessagesToATargetKeepTheirOrderAcrossRetries) {
  // The first request fails; the rollout's later messages to the same target wait for its
  // retry (a resolve must not overtake its trigger), another rollout's do not.
  RecordingServer server([](Exchange& ex, int n) { ex.Respond(n == 0 ? 503 : 200, {}, ""); });
  WebhookNotifierOptions options = FastOptions();
  options.initial_backoff = milliseconds(2000);  // the retry waits 1..2 s
  options.max_backoff = milliseconds(2000);
  options.workers = 4;
  WebhookNotifier notifier(nullptr, options);
  const api::NotificationSpec target = Target(server.url() + "/hook");
  Notification trigger = RolledBack({target}, "first");
  Notification resolve = RolledBack({target}, "second");
  resolve.reason = api::EventReason::kSucceeded;
  Notification other = RolledBack({target}, "other rollout");
  other.name = "other";
  other.rollout["name"] = "other";
  notifier.Notify(trigger);
  ASSERT_TRUE(Eventually([&] { return server.Count() >= 1; }));
  notifier.Notify(resolve);
  notifier.Notify(other);
  ASSERT_TRUE(Eventually([&] { return notifier.Stats().sent == 3; }));
  std::vector<std::string> texts;
  for (const ReceivedRequest& request : server.Requests()) {
    texts.push_back(json::parse(request.body)["text"]);
  }
  // "other rollout" went while "first" waited for its retry; "second" only after "first".
  ASSERT_EQ(texts.size(), 4u);
  EXPECT_EQ(texts[0], "first");
  EXPECT_EQ(texts[1], "other rollout");
  EXPECT_EQ(texts[2], "first");
  EXPECT_EQ(texts[3], "second");
}

TEST_F(WebhookNotifierTest, ClientErrorsAreNotRetried) {
  RecordingServer server([](Exchange& ex, int) { ex.Respond(404, {}, "no_service"); });
  WebhookNotifier notifier(nullptr, FastOptions());
  notifier.Notify(RolledBack({Target(server.url() + "/hook")}));
  ASSERT_TRUE(Eventually([&] { return notifier.Stats().failed == 1; }));
  std::this_thread::sleep_for(milliseconds(100));  // several backoffs: no second attempt
  EXPECT_EQ(server.Count(), 1u);
  EXPECT_EQ(notifier.Stats(), (WebhookStats{.failed = 1}));
  EXPECT_THAT(sink_->Text(), HasSubstr("HTTP 404"));
}

TEST_F(WebhookNotifierTest, TooManyRequestsIsRetriedHonouringRetryAfter) {
  RecordingServer server([](Exchange& ex, int n) {
    if (n == 0) {
      ex.Respond(429, {{"Retry-After", "1"}}, "slow down");
    } else {
      ex.Respond(200, {}, "ok");
    }
  });
  WebhookNotifierOptions options = FastOptions();
  options.max_backoff = milliseconds(3000);  // Retry-After is capped at max_backoff
  WebhookNotifier notifier(nullptr, options);
  notifier.Notify(RolledBack({Target(server.url() + "/hook")}));
  ASSERT_TRUE(Eventually([&] { return notifier.Stats().sent == 1; }));
  std::vector<Clock::time_point> times = server.Times();
  ASSERT_EQ(times.size(), 2u);
  EXPECT_GE(times[1] - times[0], milliseconds(950));
  EXPECT_EQ(notifier.Stats(), (WebhookStats{.sent = 1, .retries = 1}));
}

TEST_F(WebhookNotifierTest, GivesUpAfterMaxAttempts) {
  RecordingServer server([](Exchange& ex, int) { ex.Respond(503, {}, "unavailable"); });
  WebhookNotifier notifier(nullptr, FastOptions());
  notifier.Notify(RolledBack({Target(server.url() + "/hook")}));
  ASSERT_TRUE(Eventually([&] { return notifier.Stats().failed == 1; }));
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(server.Count(), 4u);
  EXPECT_EQ(notifier.Stats(), (WebhookStats{.failed = 1, .retries = 3}));
  EXPECT_THAT(sink_->Text(), HasSubstr("given up after 4 attempt(s): HTTP 503"));
}

TEST_F(WebhookNotifierTest, ConnectionFailuresAreRetriedAndNeverLogTheUrlPath) {
  std::string url;
  {
    RecordingServer closed(Ok);
    url = closed.url();
  }  // nothing listens on the port any more
  WebhookNotifier notifier(nullptr, FastOptions());
  notifier.Notify(RolledBack({Target(url + "/services/T0/B0/SECRETTOKEN?x=SECRETQUERY")}));
  ASSERT_TRUE(Eventually([&] { return notifier.Stats().failed == 1; }));
  EXPECT_EQ(notifier.Stats(), (WebhookStats{.failed = 1, .retries = 3}));
  const std::string log = sink_->Text();
  EXPECT_THAT(log, HasSubstr(url)) << "the origin is named";
  EXPECT_THAT(log, Not(HasSubstr("SECRETTOKEN")));
  EXPECT_THAT(log, Not(HasSubstr("SECRETQUERY")));
  EXPECT_THAT(log, Not(HasSubstr("/services")));
}

TEST_F(WebhookNotifierTest, ServerErrorsNeverLogTheUrlPath) {
  RecordingServer server([](Exchange& ex, int) { ex.Respond(500, {}, "boom"); });
  WebhookNotifier notifier(nullptr, FastOptions());
  notifier.Notify(RolledBack({Target(server.url() + "/services/T0/B0/SECRETTOKEN")}));
  ASSERT_TRUE(Eventually([&] { return notifier.Stats().failed == 1; }));
  const std::string log = sink_->Text();
  EXPECT_THAT(log, HasSubstr(server.url() + " for voice/voice-agent-v2 (RolledBack)"));
  EXPECT_THAT(log, Not(HasSubstr("SECRETTOKEN")));
}

// A pagerduty target served by a FakeChannel, its routing key in Secret voice/pd.
struct FakePagerDuty {
  std::shared_ptr<FakeChannel> channel = std::make_shared<FakeChannel>();
  std::shared_ptr<kube::FakeClient> kube = std::make_shared<kube::FakeClient>();
  api::NotificationSpec target;

  FakePagerDuty(WebhookNotifierOptions& options, bool labelled) {
    json secret = Secret("pd", "key", Base64("R0UT1NGKEY"));
    if (!labelled) secret["metadata"].erase("labels");
    EXPECT_TRUE(kube->Create(kube::kSecrets, "voice", secret).ok());
    options.channels[api::NotificationType::kPagerDuty] = channel;
    target = Target("https://events.example/v2/enqueue?x=1");
    target.type = api::NotificationType::kPagerDuty;
    target.routing_key_secret_ref = api::SecretKeyRef{"pd", "key"};
  }
};

TEST_F(WebhookNotifierTest, ChannelsDecideWhoIsToldAndGetTheirSecretsPerAttempt) {
  WebhookNotifierOptions options = FastOptions();
  FakePagerDuty pagerduty(options, /*labelled=*/true);
  pagerduty.channel->set_message(json{{"m", 1}});
  pagerduty.channel->set_answer(http::Response{503, {}, ""});
  WebhookNotifier notifier(pagerduty.kube, options);
  notifier.Notify(RolledBack({pagerduty.target}));
  ASSERT_TRUE(Eventually([&] { return notifier.Stats().failed == 1; }));
  const auto attempts = pagerduty.channel->attempts();
  ASSERT_EQ(attempts.size(), 4u) << "a 503 is retried up to max_attempts";
  for (const auto& attempt : attempts) {
    EXPECT_EQ(attempt.message, json({{"m", 1}}));
    EXPECT_EQ(attempt.credentials.routing_key, "R0UT1NGKEY");
    EXPECT_EQ(attempt.base_path, "/v2/enqueue?x=1");
  }
  EXPECT_EQ(notifier.Stats(), (WebhookStats{.failed = 1, .retries = 3}));
  EXPECT_THAT(sink_->Text(), Not(HasSubstr("R0UT1NGKEY")));

  pagerduty.channel->set_message(std::nullopt);  // the channel tells this target nothing
  notifier.Notify(RolledBack({pagerduty.target}));
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(pagerduty.channel->attempts().size(), 4u);
}

TEST_F(WebhookNotifierTest, AnUnlabelledRoutingKeySecretIsNotUsed) {
  WebhookNotifierOptions options = FastOptions();
  FakePagerDuty pagerduty(options, /*labelled=*/false);
  WebhookNotifier notifier(pagerduty.kube, options);
  notifier.Notify(RolledBack({pagerduty.target}));
  ASSERT_TRUE(Eventually([&] { return notifier.Stats().failed == 1; }));
  EXPECT_TRUE(pagerduty.channel->attempts().empty());
  EXPECT_THAT(sink_->Text(), HasSubstr("Secret voice/pd key key"));
  EXPECT_THAT(sink_->Text(), HasSubstr("lacks the label"));
  EXPECT_THAT(sink_->Text(), Not(HasSubstr("R0UT1NGKEY")));
}

TEST_F(WebhookNotifierTest, UrlFromSecretWinsAndRotationIsPickedUp) {
  RecordingServer server(Ok);
  auto kube = std::make_shared<kube::FakeClient>();
  ASSERT_TRUE(kube->Create(kube::kSecrets, "voice",
                           Secret("slack-webhook", "url", Base64(server.url() + "/from-secret\n")))
                  .ok());
  api::NotificationSpec target = Target(server.url() + "/from-spec");
  target.secret_ref = api::SecretKeyRef{"slack-webhook", "url"};

  WebhookNotifier notifier(kube, FastOptions());
  notifier.Notify(RolledBack({target}));
  ASSERT_TRUE(Eventually([&] { return notifier.Stats().sent == 1; }));

  json rotated = *kube->Get(kube::kSecrets, "voice", "slack-webhook");
  rotated["data"]["url"] = Base64(server.url() + "/rotated");
  ASSERT_TRUE(kube->Update(kube::kSecrets, "voice", rotated).ok());
  notifier.Notify(RolledBack({target}));
  ASSERT_TRUE(Eventually([&] { return notifier.Stats().sent == 2; }));

  std::vector<ReceivedRequest> requests = server.Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].target, "/from-secret");
  EXPECT_EQ(requests[1].target, "/rotated");
}

TEST_F(WebhookNotifierTest, MissingSecretFailsWithoutRetryAndNamesIt) {
  auto kube = std::make_shared<kube::FakeClient>();
  ASSERT_TRUE(kube->Create(kube::kSecrets, "voice", Secret("bad", "url", "%%not-base64%%")).ok());
  api::NotificationSpec missing;
  missing.secret_ref = api::SecretKeyRef{"slack-webhook", "url"};
  api::NotificationSpec wrong_key;
  wrong_key.secret_ref = api::SecretKeyRef{"bad", "other"};
  api::NotificationSpec bad_value;
  bad_value.secret_ref = api::SecretKeyRef{"bad", "url"};

  WebhookNotifier notifier(kube, FastOptions());
  notifier.Notify(RolledBack({missing, wrong_key, bad_value}));
  ASSERT_TRUE(Eventually([&] { return notifier.Stats().failed == 3; }));
  EXPECT_EQ(notifier.Stats(), (WebhookStats{.failed = 3}));
  const std::string log = sink_->Text();
  EXPECT_THAT(log, HasSubstr("Secret voice/slack-webhook key url"));
  EXPECT_THAT(log, HasSubstr("not found"));
  EXPECT_THAT(log, HasSubstr("webhook Secret voice/bad key other"));
  EXPECT_THAT(log, HasSubstr("secret voice/bad has no key \"other\""));
  EXPECT_THAT(log, HasSubstr("secret voice/bad: data[url] is not valid base64"));
}

TEST_F(WebhookNotifierTest, UnlabelledSecretIsNotReadAndNothingIsSent) {
  RecordingServer server(Ok);
  auto kube = std::make_shared<kube::FakeClient>();
  json secret = Secret("slack-webhook", "url", Base64(server.url() + "/from-secret"));
  secret["metadata"].erase("labels");
  ASSERT_TRUE(kube->Create(kube::kSecrets, "voice", secret).ok());
  api::NotificationSpec target;
  target.secret_ref = api::SecretKeyRef{"slack-webhook", "url"};

  WebhookNotifier notifier(kube, FastOptions());
  notifier.Notify(RolledBack({target}));
  ASSERT_TRUE(Eventually([&] { return notifier.Stats().failed == 1; }));
  EXPECT_EQ(notifier.Stats(), (WebhookStats{.failed = 1}));
  EXPECT_EQ(server.Count(), 0u);
  EXPECT_THAT(sink_->Text(),
              HasSubstr("secret voice/slack-webhook lacks the label rollouts.agentops.dev/use: "
                        "\"true\""));
}

TEST_F(WebhookNotifierTest, KeepsClientsOfTheOriginsUsedLastOnly) {
  std::vector<std::unique_ptr<RecordingServer>> servers;
  for (int i = 0; i < 3; ++i) servers.push_back(std::make_unique<RecordingServer>(Ok));
  std::atomic<int> made{0};
  WebhookNotifierOptions options = FastOptions();
  options.max_clients = 2;
  options.new_http_client = [&](const http::ClientConfig& config) {
    ++made;
    return http::NewClient(config);
  };
  WebhookNotifier notifier(nullptr, options);
  std::uint64_t sent = 0;
  const auto post = [&](int server) {
    notifier.Notify(RolledBack({Target(servers[server]->url() + "/hook")}));
    ++sent;
    return Eventually([&] { return notifier.Stats().sent == sent; });
  };
  // a, b, a (kept: used last), c (drops b, the least recently used), a (still kept).
  for (int server : {0, 1, 0, 2, 0}) ASSERT_TRUE(post(server)) << server;
  EXPECT_EQ(made.load(), 3);
  ASSERT_TRUE(post(1));  // b again: made anew
  EXPECT_EQ(made.load(), 4);
}

TEST(SecretValue, RefusesASecretWithoutTheLabel) {
  json secret = Secret("slack", "url", Base64("https://hooks.slack.com/services/X"));
  secret["metadata"]["namespace"] = "voice";
  secret["metadata"]["labels"] = {{"rollouts.agentops.dev/use", "yes"}};
  auto url = SecretValue(secret, "url");
  ASSERT_FALSE(url.ok());
  EXPECT_EQ(url.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_THAT(url.error().message(), HasSubstr("secret voice/slack lacks the label"));
  EXPECT_THAT(url.error().message(), Not(HasSubstr("hooks.slack.com")));
}

TEST_F(WebhookNotifierTest, SendsOnlyToTargetsSubscribedToTheReason) {
  RecordingServer server(Ok);
  WebhookNotifier notifier(nullptr, FastOptions());
  notifier.Notify(RolledBack({
      Target(server.url() + "/rolled-back", {api::EventReason::kRolledBack}),
      Target(server.url() + "/everything"),
      Target(server.url() + "/advances", {api::EventReason::kPhaseAdvanced}),
      Target(server.url() + "/several",
             {api::EventReason::kSucceeded, api::EventReason::kRolledBack}),
  }));
  ASSERT_TRUE(Eventually([&] { return notifier.Stats().sent == 3; }));
  std::this_thread::sleep_for(milliseconds(100));
  std::vector<std::string> targets;
  for (const ReceivedRequest& request : server.Requests()) targets.push_back(request.target);
  std::sort(targets.begin(), targets.end());
  EXPECT_THAT(targets, ElementsAre("/everything", "/rolled-back", "/several"));
  EXPECT_EQ(notifier.Stats(), (WebhookStats{.sent = 3}));
}

// A server whose handlers hang until released (or the server stops).
struct HangingServer {
  std::atomic<bool> released{false};
  RecordingServer server{[this](Exchange& ex, int) {
    while (!released && ex.Wait(milliseconds(10))) {
    }
    if (released) ex.Respond(200, {}, "ok");
  }};
};

TEST_F(WebhookNotifierTest, NotifyNeverBlocksWhileTheWebhookHangs) {
  HangingServer hanging;
  WebhookNotifierOptions options = FastOptions();
  options.workers = 1;
  WebhookNotifier notifier(nullptr, options);
  milliseconds slowest{0};
  for (int i = 0; i < 50; ++i) {
    const auto start = Clock::now();
    notifier.Notify(RolledBack({Target(hanging.server.url() + "/hook")}, "n" + std::to_string(i)));
    slowest = std::max(slowest, std::chrono::duration_cast<milliseconds>(Clock::now() - start));
    if (i == 0) {
      ASSERT_TRUE(Eventually([&] { return hanging.server.Count() == 1; }));
    }
  }
  EXPECT_LT(slowest, milliseconds(50));
  EXPECT_EQ(hanging.server.Count(), 1u) << "one worker, held by the hung request";
  hanging.released = true;
  ASSERT_TRUE(Eventually([&] { return notifier.Stats().sent == 50; }));
}

TEST_F(WebhookNotifierTest, FullQueueDropsTheOldest) {
  HangingServer hanging;
  WebhookNotifierOptions options = FastOptions();
  options.workers = 1;
  options.queue_capacity = 2;
  WebhookNotifier notifier(nullptr, options);
  const std::string url = hanging.server.url() + "/hook";
  notifier.Notify(RolledBack({Target(url)}, "first"));
  ASSERT_TRUE(Eventually([&] { return hanging.server.Count() == 1; }));  // in flight
  notifier.Notify(RolledBack({Target(url)}, "second"));
  notifier.Notify(RolledBack({Target(url)}, "third"));
  notifier.Notify(RolledBack({Target(url)}, "fourth"));
  EXPECT_EQ(notifier.Stats().dropped, 1u);
  hanging.released = true;
  ASSERT_TRUE(Eventually([&] { return notifier.Stats().sent == 3; }));
  std::vector<std::string> texts;
  for (const ReceivedRequest& request : hanging.server.Requests()) {
    texts.push_back(json::parse(request.body)["text"]);
  }
  EXPECT_THAT(texts, ElementsAre("first", "third", "fourth"));
  EXPECT_THAT(sink_->Text(), HasSubstr("webhook queue full (2 deliveries): dropped the oldest"));
}

TEST_F(WebhookNotifierTest, ShutdownWithAHungWebhookReturnsInBoundedTime) {
  HangingServer hanging;
  WebhookNotifierOptions options = FastOptions();
  options.workers = 1;
  options.request_timeout = milliseconds(60000);
  options.shutdown_grace = milliseconds(300);
  auto notifier = std::make_unique<WebhookNotifier>(nullptr, options);
  const std::string url = hanging.server.url() + "/hook";
  notifier->Notify(RolledBack({Target(url)}, "in flight"));
  ASSERT_TRUE(Eventually([&] { return hanging.server.Count() == 1; }));
  notifier->Notify(RolledBack({Target(url)}, "queued"));

  const auto start = Clock::now();
  notifier->Shutdown();
  const auto took = Clock::now() - start;
  EXPECT_GE(took, milliseconds(250));
  EXPECT_LT(took, milliseconds(2000));
  EXPECT_EQ(notifier->Stats(), (WebhookStats{.dropped = 1})) << "the queued one";

  notifier->Notify(RolledBack({Target(url)}, "after shutdown"));
  EXPECT_EQ(notifier->Stats().dropped, 2u);

  // The server goes away: the detached worker's POST fails and is not retried.
  hanging.server.Stop();
  ASSERT_TRUE(Eventually([&] { return notifier->Stats().dropped == 3; }));
  const auto destroy_start = Clock::now();
  notifier.reset();
  EXPECT_LT(Clock::now() - destroy_start, milliseconds(500));
}

TEST_F(WebhookNotifierTest, DestructorSendsWhatIsQueuedWithinTheGrace) {
  RecordingServer server(Ok);
  WebhookNotifierOptions options = FastOptions();
  options.workers = 1;
  auto notifier = std::make_unique<WebhookNotifier>(nullptr, options);
  for (int i = 0; i < 5; ++i) notifier->Notify(RolledBack({Target(server.url() + "/hook")}));
  notifier.reset();
  EXPECT_EQ(server.Count(), 5u);
}

TEST_F(WebhookNotifierTest, UnusableUrlFailsAtOnce) {
  WebhookNotifier notifier(nullptr, FastOptions());
  notifier.Notify(RolledBack({Target("ftp://example.com/hook"), api::NotificationSpec{}}));
  ASSERT_TRUE(Eventually([&] { return notifier.Stats().failed == 2; }));
  EXPECT_EQ(notifier.Stats(), (WebhookStats{.failed = 2}));
  const std::string log = sink_->Text();
  EXPECT_THAT(log, HasSubstr("notifications[0].url"));
  EXPECT_THAT(log, HasSubstr("must start with http:// or https://"));
  EXPECT_THAT(log, HasSubstr("notifications[1]"));
  EXPECT_THAT(log, HasSubstr("neither url nor secretRef is set"));
}

// ------------------------------------------------------------- pure pieces

TEST(ParseWebhookUrl, SplitsOriginAndTarget) {
  auto url = ParseWebhookUrl("https://hooks.slack.com/services/T0/B0/XYZ?a=1#frag");
  ASSERT_TRUE(url.ok()) << url.error().ToString();
  EXPECT_EQ(url->origin, "https://hooks.slack.com");
  EXPECT_EQ(url->target, "/services/T0/B0/XYZ?a=1");

  url = ParseWebhookUrl("HTTP://127.0.0.1:8080");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->origin, "http://127.0.0.1:8080");
  EXPECT_EQ(url->target, "/");

  url = ParseWebhookUrl("http://host?token=1");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->target, "/?token=1");
}

TEST(ParseWebhookUrl, RejectsWithoutQuotingTheUrl) {
  for (const char* bad : {"hooks.slack.com/services/SECRET", "ftp://host/SECRET", "https:///SECRET",
                          "https://user:SECRET@host/x", "https://host/SECRET with space", ""}) {
    auto url = ParseWebhookUrl(bad);
    ASSERT_FALSE(url.ok()) << bad;
    EXPECT_EQ(url.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(url.error().message(), Not(HasSubstr("SECRET"))) << bad;
    EXPECT_THAT(url.error().message(), HasSubstr("webhook URL: ")) << bad;
  }
}

TEST(Subscribed, EmptyEventsMeansEvery) {
  EXPECT_TRUE(Subscribed(Target("x"), api::EventReason::kPhaseStarted));
  EXPECT_TRUE(
      Subscribed(Target("x", {api::EventReason::kSucceeded}), api::EventReason::kSucceeded));
  EXPECT_FALSE(
      Subscribed(Target("x", {api::EventReason::kSucceeded}), api::EventReason::kRolledBack));
}

TEST(WebhookBody, FillsWhatTheCallerLeftOut) {
  Notification n;
  n.namespace_ = "voice";
  n.name = "v2";
  n.reason = api::EventReason::kSucceeded;
  EXPECT_EQ(WebhookBody(n),
            json({{"text", "voice/v2: Succeeded"},
                  {"rollout", {{"namespace", "voice"}, {"name", "v2"}, {"reason", "Succeeded"}}}}));
  n.text = "done";
  n.rollout = {{"name", "other"}, {"phase", "Succeeded"}};
  EXPECT_EQ(WebhookBody(n), json({{"text", "done"},
                                  {"rollout",
                                   {{"namespace", "voice"},
                                    {"name", "other"},
                                    {"phase", "Succeeded"},
                                    {"reason", "Succeeded"}}}}));
}

TEST(BackoffDelay, DoublesCapsAndJitters) {
  const milliseconds initial(100);
  const milliseconds max(1000);
  EXPECT_EQ(BackoffDelay(1, initial, max, 1.0), milliseconds(100));
  EXPECT_EQ(BackoffDelay(2, initial, max, 1.0), milliseconds(200));
  EXPECT_EQ(BackoffDelay(3, initial, max, 1.0), milliseconds(400));
  EXPECT_EQ(BackoffDelay(5, initial, max, 1.0), milliseconds(1000));
  EXPECT_EQ(BackoffDelay(60, initial, max, 1.0), milliseconds(1000)) << "no overflow";
  EXPECT_EQ(BackoffDelay(3, initial, max, 0.0), milliseconds(200));
  EXPECT_EQ(BackoffDelay(3, initial, max, 0.5), milliseconds(300));
}

TEST(SecretValue, DecodesAndTrims) {
  json secret = Secret("slack", "url", Base64("https://hooks.slack.com/services/X\n"));
  secret["metadata"]["namespace"] = "voice";
  auto url = SecretValue(secret, "url");
  ASSERT_TRUE(url.ok()) << url.error().ToString();
  EXPECT_EQ(*url, "https://hooks.slack.com/services/X");

  auto missing = SecretValue(secret, "other");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(kube::IsNotFound(missing.error()));

  secret["data"]["url"] = Base64("  \n");
  auto blank = SecretValue(secret, "url");
  ASSERT_FALSE(blank.ok());
  EXPECT_EQ(blank.error().message(), "data[url] is empty");
}

}  // namespace
}  // namespace agentrollout::controllers
