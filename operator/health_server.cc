#include "operator/health_server.h"

#include <CivetServer.h>

#include <exception>
#include <utility>

namespace agentrollout::operator_ {
namespace {

void Respond(mg_connection* conn, int status, const char* reason, const std::string& body) {
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: %zu\r\n"
            "Cache-Control: no-store\r\n"
            "Connection: close\r\n\r\n",
            status, reason, body.size());
  mg_write(conn, body.data(), body.size());
}

}  // namespace

std::vector<std::string> ReadinessGate::Missing() const {
  std::vector<std::string> missing;
  if (!caches_synced_) missing.emplace_back("caches not synced");
  if (leader_election_ && !leader_known_) missing.emplace_back("no leader known");
  return missing;
}

// Answers one path; `probe` empty means "always ok" (/healthz).
class HealthServer::Handler final : public CivetHandler {
 public:
  explicit Handler(ReadinessProbe probe) : probe_(std::move(probe)) {}

  using CivetHandler::handleGet;
  bool handleGet(CivetServer* /*server*/, mg_connection* conn) override {
    std::vector<std::string> missing;
    if (probe_) {
      try {
        missing = probe_();
      } catch (const std::exception& e) {
        missing.push_back(std::string("readiness check failed: ") + e.what());
      }
    }
    if (missing.empty()) {
      Respond(conn, 200, "OK", "ok\n");
      return true;
    }
    std::string body = "not ready: ";
    for (std::size_t i = 0; i < missing.size(); ++i) {
      if (i > 0) body += "; ";
      body += missing[i];
    }
    body += "\n";
    Respond(conn, 503, "Service Unavailable", body);
    return true;
  }

 private:
  ReadinessProbe probe_;
};

Result<std::unique_ptr<HealthServer>> HealthServer::Start(const ListenAddress& address,
                                                          ReadinessProbe readiness) {
  std::unique_ptr<HealthServer> health(new HealthServer());
  health->healthz_ = std::make_unique<Handler>(nullptr);
  health->readyz_ = std::make_unique<Handler>(std::move(readiness));
  const std::vector<std::string> options = {
      "listening_ports", address.ToCivetweb(),
      // Probes are tiny and periodic; two workers keep a slow probe from blocking the other.
      "num_threads", "2"};
  try {
    health->server_ = std::make_unique<CivetServer>(options);
  } catch (const std::exception& e) {
    return Unavailable("health server: cannot listen on " + address.ToCivetweb() + ": " + e.what());
  }
  // "$" anchors the match: civetweb otherwise also routes "/healthz/anything" here.
  health->server_->addHandler("/healthz$", health->healthz_.get());
  health->server_->addHandler("/readyz$", health->readyz_.get());
  const auto ports = health->server_->getListeningPorts();
  if (ports.empty()) {
    return Unavailable("health server: no listening port on " + address.ToCivetweb());
  }
  health->port_ = static_cast<std::uint16_t>(ports.front());
  return health;
}

HealthServer::~HealthServer() = default;

}  // namespace agentrollout::operator_
