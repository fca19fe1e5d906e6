#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <thread>

#include "http/test_server.h"
#include "http/transport.h"

namespace agentrollout::http {
namespace {

using testing::Exchange;
using ::testing::HasSubstr;
using ::testing::Optional;
using testing::StartTestServer;
using testing::TestServerPtr;

TestServerPtr Serve(testing::Handler handler,
                    std::optional<testing::TlsServerOptions> tls = std::nullopt) {
  auto server = StartTestServer(std::move(handler), std::move(tls));
  EXPECT_TRUE(server.ok()) << server.error().ToString();
  return std::move(server).value();
}

ClientPtr ClientFor(const std::string& url, TlsConfig tls = {}) {
  ClientConfig config;
  config.base_url = url;
  config.tls = std::move(tls);
  auto client = NewClient(config);
  EXPECT_TRUE(client.ok()) << client.error().ToString();
  return std::move(client).value();
}

TEST(CpprestTransport, SendsRequestAndReturnsStatusAndBody) {
  testing::ReceivedRequest seen;
  auto server = Serve([&](Exchange& ex) {
    seen = ex.request();
    ex.Respond(201, {{"Content-Type", "application/json"}}, R"({"created":true})");
  });
  auto client = ClientFor(server->url());
  Request request;
  request.method = "POST";
  request.target = "/api/v1/namespaces/default/configmaps?fieldManager=test";
  request.headers = {{"Content-Type", "application/merge-patch+json"}};
  request.body = R"({"data":{"a":"b"}})";
  auto response = client->Send(request);
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(response->body, R"({"created":true})");
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.target, "/api/v1/namespaces/default/configmaps?fieldManager=test");
  EXPECT_EQ(seen.body, R"({"data":{"a":"b"}})");
  EXPECT_THAT(seen.Header("content-type"), Optional(std::string("application/merge-patch+json")));
}

TEST(CpprestTransport, PassesHeadersBothWays) {
  testing::ReceivedRequest seen;
  auto server = Serve([&](Exchange& ex) {
    seen = ex.request();
    ex.Respond(200, {{"Retry-After", "7"}, {"X-Custom", "yes"}}, "");
  });
  auto client = ClientFor(server->url());
  Request request;
  request.target = "/healthz";
  request.headers = {{"Authorization", "Bearer abc"}, {"Accept", "application/json"}};
  auto response = client->Send(request);
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  EXPECT_EQ(seen.method, "GET");
  EXPECT_THAT(seen.Header("Authorization"), Optional(std::string("Bearer abc")));
  EXPECT_THAT(seen.Header("accept"), Optional(std::string("application/json")));
  EXPECT_THAT(response->Header("retry-after"), Optional(std::string("7")));
  EXPECT_THAT(response->Header("X-CUSTOM"), Optional(std::string("yes")));
  EXPECT_EQ(response->Header("X-Missing"), std::nullopt);
}

TEST(CpprestTransport, RefusesHeadersThatCouldSmuggleARequest) {
  std::atomic<int> requests{0};
  auto server = Serve([&](Exchange& ex) {
    ++requests;
    ex.Respond(200, {}, "");
  });
  auto client = ClientFor(server->url());
  const std::vector<std::pair<Headers, std::string>> cases = {
      {{{"X-Scope-OrgID", "t1\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x"}},
       "header X-Scope-OrgID has a control character (CR, LF, NUL, ...) in its value; the "
       "request was not sent"},
      {{{"Authorization", "Bearer s3cr3t\nX-Evil: 1"}},
       "header Authorization has a control character (CR, LF, NUL, ...) in its value; the "
       "request was not sent"},
      {{{"X-A\r\nX-B", "v"}}, "header name \"X-A  X-B\" is not an HTTP token"},
      {{{"X-Evil:", "v"}}, "header name \"X-Evil:\" is not an HTTP token"},
  };
  for (const auto& [headers, message] : cases) {
    Request request;
    request.target = "/api/v1/query";
    request.headers = headers;
    auto response = client->Send(request);
    ASSERT_FALSE(response.ok()) << message;
    EXPECT_EQ(response.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(response.error().message(), HasSubstr(message));
    EXPECT_THAT(response.error().message(), ::testing::Not(HasSubstr("s3cr3t")));
    auto stream = client->Stream(request);
    ASSERT_FALSE(stream.ok()) << message;
    EXPECT_THAT(stream.error().message(), HasSubstr(message));
  }
  EXPECT_EQ(requests.load(), 0);
  // A tab and non-ASCII bytes are fine.
  Request request;
  request.headers = {{"X-Scope-OrgID", "a\tb caf\xc3\xa9"}};
  auto response = client->Send(request);
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  EXPECT_EQ(requests.load(), 1);
}

TEST(CpprestTransport, ReturnsErrorStatusesAsResponses) {
  auto server = Serve([](Exchange& ex) { ex.Respond(404, {}, R"({"kind":"Status"})"); });
  auto response = ClientFor(server->url())->Send(Request{});
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(response->body, R"({"kind":"Status"})");
}

TEST(CpprestTransport, TimeoutIsDeadlineExceeded) {
  auto server = Serve([](Exchange& ex) { ex.Wait(std::chrono::seconds(30)); });
  Request request;
  request.timeout = std::chrono::milliseconds(300);
  auto response = ClientFor(server->url())->Send(request);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code(), ErrorCode::kDeadlineExceeded) << response.error().ToString();
  server->Stop();
}

TEST(CpprestTransport, ConnectionRefusedIsUnavailable) {
  // A port that was free a moment ago and has no listener now.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  auto client = ClientFor("http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)));
  auto response = client->Send(Request{});
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code(), ErrorCode::kUnavailable) << response.error().ToString();
  EXPECT_THAT(response.error().message(), HasSubstr("GET http://127.0.0.1:"));
}

TEST(CpprestTransport, RejectsBadUrls) {
  for (const char* url : {"", "ftp://127.0.0.1", "http://", "not a url"}) {
    ClientConfig config;
    config.base_url = url;
    auto client = NewClient(config);
    ASSERT_FALSE(client.ok()) << url;
    EXPECT_EQ(client.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(client.error().message(), HasSubstr("base_url"));
  }
}

TEST(CpprestTransport, RejectsIpv6LiteralHostsClearly) {
  ClientConfig config;
  config.base_url = "https://[fd00::1]:443";
  auto client = NewClient(config);
  ASSERT_FALSE(client.ok());
  EXPECT_THAT(client.error().message(), HasSubstr("IPv6 literal hosts are not supported"));
}

TEST(CpprestTransport, EnforcesBodySizeLimitWithContentLength) {
  auto server = Serve([](Exchange& ex) { ex.Respond(200, {}, std::string(10000, 'x')); });
  Request request;
  request.max_body_bytes = 1000;
  auto response = ClientFor(server->url())->Send(request);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_THAT(response.error().message(), HasSubstr("exceeds 1000"));
}

TEST(CpprestTransport, EnforcesBodySizeLimitWhenChunked) {
  auto server = Serve([](Exchange& ex) {
    ex.StartChunked(200, {});
    for (int i = 0; i < 10; ++i) ex.WriteChunk(std::string(500, 'y'));
    ex.EndChunks();
  });
  Request request;
  request.max_body_bytes = 1000;
  auto client = ClientFor(server->url());
  auto response = client->Send(request);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code(), ErrorCode::kResourceExhausted);
  request.max_body_bytes = 5000;
  response = client->Send(request);
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  EXPECT_EQ(response->body.size(), 5000u);
}

TEST(CpprestTransport, StreamsLinesSplitAcrossChunksAsTheyArrive) {
  std::promise<void> first_line_read;
  auto first_line_read_future = first_line_read.get_future().share();
  auto server = Serve([&](Exchange& ex) {
    ex.StartChunked(200, {{"Content-Type", "application/json"}});
    ex.WriteChunk(R"({"type":"ADD)");
    ex.Wait(std::chrono::milliseconds(50));
    ex.WriteChunk("ED\"}\n{\"type\":");
    // The second line is only finished after the client has read the first one: the
    // stream hands out lines as they arrive, not when the body ends.
    first_line_read_future.wait();
    ex.WriteChunk("\"MODIFIED\"}\n\n");
    ex.WriteChunk("{\"type\":\"DELETED\"}\n");
    ex.EndChunks();
  });
  Request request;
  request.target = "/watch";
  auto stream = ClientFor(server->url())->Stream(request);
  ASSERT_TRUE(stream.ok()) << stream.error().ToString();
  ASSERT_EQ(stream->status, 200);
  ASSERT_NE(stream->lines, nullptr);
  auto line = stream->lines->NextLine();
  ASSERT_TRUE(line.ok()) << line.error().ToString();
  EXPECT_THAT(*line, Optional(std::string(R"({"type":"ADDED"})")));
  first_line_read.set_value();
  line = stream->lines->NextLine();
  ASSERT_TRUE(line.ok());
  EXPECT_THAT(*line, Optional(std::string(R"({"type":"MODIFIED"})")));
  line = stream->lines->NextLine();
  ASSERT_TRUE(line.ok());
  EXPECT_THAT(*line, Optional(std::string("")));
  line = stream->lines->NextLine();
  ASSERT_TRUE(line.ok());
  EXPECT_THAT(*line, Optional(std::string(R"({"type":"DELETED"})")));
  line = stream->lines->NextLine();
  ASSERT_TRUE(line.ok()) << line.error().ToString();
  EXPECT_EQ(*line, std::nullopt);
}

TEST(CpprestTransport, StreamErrorStatusCarriesBody) {
  auto server = Serve([](Exchange& ex) { ex.Respond(410, {}, R"({"reason":"Expired"})"); });
  auto stream = ClientFor(server->url())->Stream(Request{});
  ASSERT_TRUE(stream.ok()) << stream.error().ToString();
  EXPECT_EQ(stream->status, 410);
  EXPECT_EQ(stream->lines, nullptr);
  EXPECT_EQ(stream->error_body, R"({"reason":"Expired"})");
}

TEST(CpprestTransport, CancelUnblocksAPendingRead) {
  auto server = Serve([](Exchange& ex) {
    ex.StartChunked(200, {});
    ex.WriteChunk("first\n");
    ex.Wait(std::chrono::seconds(60));
  });
  auto stream = ClientFor(server->url())->Stream(Request{});
  ASSERT_TRUE(stream.ok()) << stream.error().ToString();
  auto line = stream->lines->NextLine();
  ASSERT_TRUE(line.ok());
  EXPECT_THAT(*line, Optional(std::string("first")));
  std::promise<Result<std::optional<std::string>>> pending;
  auto pending_result = pending.get_future();
  std::thread reader([&] { pending.set_value(stream->lines->NextLine()); });
  // The reader is blocked: the server sends nothing more.
  EXPECT_EQ(pending_result.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  stream->lines->Cancel();
  auto cancelled = pending_result.get();
  reader.join();
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(*cancelled, std::nullopt);
  auto after = stream->lines->NextLine();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, std::nullopt);
  server->Stop();
}

TEST(CpprestTransport, SilentStreamFailsAfterInactivityTimeout) {
  auto server = Serve([](Exchange& ex) {
    ex.StartChunked(200, {});
    ex.Wait(std::chrono::seconds(60));
  });
  Request request;
  request.timeout = std::chrono::milliseconds(500);
  auto stream = ClientFor(server->url())->Stream(request);
  ASSERT_TRUE(stream.ok()) << stream.error().ToString();
  auto line = stream->lines->NextLine();
  EXPECT_FALSE(line.ok());
  server->Stop();
}

TEST(CpprestTransport, ManyOpenStreamsDoNotStarveOtherRequests) {
  // More concurrent blocked readers than cpprest has pool threads (40).
  auto server = Serve([](Exchange& ex) {
    if (ex.request().target == "/watch") {
      ex.StartChunked(200, {});
      ex.WriteChunk("hello\n");
      ex.Wait(std::chrono::seconds(60));
    } else {
      ex.Respond(200, {}, "ok");
    }
  });
  auto client = ClientFor(server->url());
  std::vector<LineStreamPtr> streams;
  std::vector<std::thread> readers;
  Request watch;
  watch.target = "/watch";
  for (int i = 0; i < 45; ++i) {
    auto stream = client->Stream(watch);
    ASSERT_TRUE(stream.ok()) << stream.error().ToString();
    streams.push_back(std::move(stream->lines));
  }
  for (auto& stream : streams) {
    readers.emplace_back([s = stream.get()] {
      auto first = s->NextLine();
      auto blocked = s->NextLine();  // returns when cancelled
      (void)first;
      (void)blocked;
    });
  }
  for (int i = 0; i < 20; ++i) {
    auto response = client->Send(Request{});
    ASSERT_TRUE(response.ok()) << response.error().ToString();
    EXPECT_EQ(response->body, "ok");
  }
  for (auto& stream : streams) stream->Cancel();
  for (auto& reader : readers) reader.join();
  server->Stop();
}

class CpprestTransportTls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto pki = testing::GenerateTestPki();
    ASSERT_TRUE(pki.ok()) << pki.error().ToString();
    pki_ = new testing::TestPki(std::move(pki).value());
  }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }

  TestServerPtr ServeTls(bool require_client_cert) {
    testing::TlsServerOptions options;
    options.cert_pem = pki_->server_cert_pem;
    options.key_pem = pki_->server_key_pem;
    if (require_client_cert) options.client_ca_pem = pki_->ca_cert_pem;
    return Serve([](Exchange& ex) { ex.Respond(200, {}, "secure"); }, options);
  }

  static testing::TestPki* pki_;
};
testing::TestPki* CpprestTransportTls::pki_ = nullptr;

TEST_F(CpprestTransportTls, VerifiesServerAgainstTheGivenCa) {
  auto server = ServeTls(false);
  TlsConfig tls;
  tls.ca_pem = pki_->ca_cert_pem;
  auto response = ClientFor(server->url(), tls)->Send(Request{});
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  EXPECT_EQ(response->body, "secure");
}

TEST_F(CpprestTransportTls, WrongCaIsAClearTlsError) {
  auto server = ServeTls(false);
  TlsConfig tls;
  tls.ca_pem = pki_->other_ca_cert_pem;
  auto response = ClientFor(server->url(), tls)->Send(Request{});
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code(), ErrorCode::kUnavailable);
  EXPECT_THAT(response.error().message(), HasSubstr("TLS handshake failed"));
  EXPECT_THAT(response.error().message(), HasSubstr("certificate verification failed"));
  EXPECT_EQ(server->requests_served(), 0);
}

TEST_F(CpprestTransportTls, HostNameMismatchIsNamed) {
  auto server = ServeTls(false);
  TlsConfig tls;
  tls.ca_pem = pki_->ca_cert_pem;
  tls.server_name = "kubernetes.example";
  auto response = ClientFor(server->url(), tls)->Send(Request{});
  ASSERT_FALSE(response.ok());
  EXPECT_THAT(response.error().message(), HasSubstr("does not match the host name"));
}

TEST_F(CpprestTransportTls, ServerNameOverrideVerifiesThatName) {
  auto server = ServeTls(false);
  TlsConfig tls;
  tls.ca_pem = pki_->ca_cert_pem;
  tls.server_name = "localhost";
  auto response = ClientFor(server->url(), tls)->Send(Request{});
  ASSERT_TRUE(response.ok()) << response.error().ToString();
}

TEST_F(CpprestTransportTls, InsecureSkipVerifyAcceptsAnyServer) {
  auto server = ServeTls(false);
  TlsConfig tls;
  tls.ca_pem = pki_->other_ca_cert_pem;
  tls.insecure_skip_verify = true;
  auto response = ClientFor(server->url(), tls)->Send(Request{});
  ASSERT_TRUE(response.ok()) << response.error().ToString();
}

TEST_F(CpprestTransportTls, PresentsClientCertificate) {
  auto server = ServeTls(true);
  TlsConfig tls;
  tls.ca_pem = pki_->ca_cert_pem;
  auto without = ClientFor(server->url(), tls)->Send(Request{});
  ASSERT_FALSE(without.ok());
  EXPECT_EQ(without.error().code(), ErrorCode::kUnavailable);
  tls.client_cert_pem = pki_->client_cert_pem;
  tls.client_key_pem = pki_->client_key_pem;
  auto with = ClientFor(server->url(), tls)->Send(Request{});
  ASSERT_TRUE(with.ok()) << with.error().ToString();
  EXPECT_EQ(with->body, "secure");
}

TEST_F(CpprestTransportTls, StreamsOverTls) {
  testing::TlsServerOptions options;
  options.cert_pem = pki_->server_cert_pem;
  options.key_pem = pki_->server_key_pem;
  auto server = Serve(
      [](Exchange& ex) {
        ex.StartChunked(200, {});
        ex.WriteChunk("one\ntw");
        ex.WriteChunk("o\n");
        ex.EndChunks();
      },
      options);
  TlsConfig tls;
  tls.ca_pem = pki_->ca_cert_pem;
  auto stream = ClientFor(server->url(), tls)->Stream(Request{});
  ASSERT_TRUE(stream.ok()) << stream.error().ToString();
  EXPECT_THAT(*stream->lines->NextLine(), Optional(std::string("one")));
  EXPECT_THAT(*stream->lines->NextLine(), Optional(std::string("two")));
  EXPECT_EQ(*stream->lines->NextLine(), std::nullopt);
}

TEST_F(CpprestTransportTls, RejectsUnusablePem) {
  ClientConfig config;
  config.base_url = "https://127.0.0.1:1";
  config.tls.ca_pem = "not a certificate";
  auto client = NewClient(config);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(client.error().message(), HasSubstr("tls.ca_pem"));

  config.tls.ca_pem = pki_->ca_cert_pem;
  config.tls.client_cert_pem = pki_->client_cert_pem;
  config.tls.client_key_pem = pki_->server_key_pem;  // does not match the certificate
  client = NewClient(config);
  ASSERT_FALSE(client.ok());
  EXPECT_THAT(client.error().message(), HasSubstr("tls.client_key_pem"));

  config.tls.client_key_pem = "";
  client = NewClient(config);
  ASSERT_FALSE(client.ok());
  EXPECT_THAT(client.error().message(), HasSubstr("must be given together"));
}

}  // namespace
}  // namespace agentrollout::http
