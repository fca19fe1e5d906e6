// The PostgreSQL flag store (API.md §5.3): the table the application already reads, so it
// needs no change -- a row per flag (row mode: `columns`) or one jsonb document of flags
// in a config row (document mode: `jsonColumn` + `jsonPaths`).
//
// Each Apply is one transaction on a pooled connection: read the table's column types from
// the catalog (once per connection), lock the rows it writes (`SELECT … FOR UPDATE`, in key
// order), then UPDATE only the mapped columns / paths that differ, and COMMIT. Rollouts
// sharing a table or a document therefore lose nothing, and the application never sees a
// half-written flag. The store never inserts or deletes rows and records no owner: a
// missing table, column or row is kNotFound naming it (the rollout shows Ready=False,
// reason FlagTargetNotFound) with nothing written; a database that is down or slower than
// the statement timeout is kUnavailable / kDeadlineExceeded (the executor retries, §4.8).
//
// The connection URI comes from a Secret (the §2 label rule) and is never logged: libpq's
// messages are scrubbed of the URI and its password before they leave this file.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

#include "api/types.h"
#include "common/result.h"
#include "controllers/flagstore/flag_store.h"
#include "kube/client.h"

namespace agentrollout::controllers {

// The libpq connection URI a store's connectionSecretRef names, in the rollout's namespace.
using ConnectionUriSource =
    std::function<Result<std::string>(const std::string& namespace_, const api::SecretKeyRef&)>;

// URIs read from Secrets through `client` (which must outlive the source), only from those
// labelled rollouts.agentops.dev/use: "true" (kube::LabelledSecretData), each kept for
// `cache_for` so a busy operator does not read the Secret on every write.
ConnectionUriSource LabelledSecretUris(kube::Client& client,
                                       std::chrono::seconds cache_for = std::chrono::seconds(30));

struct PostgresOptions {
  // Per statement, the wait for a competing writer's row lock included.
  std::chrono::milliseconds statement_timeout = std::chrono::seconds(5);
  std::chrono::seconds connect_timeout = std::chrono::seconds(5);
  // Idle connections kept per Secret; more are opened while writers overlap.
  std::size_t connections_per_secret = 4;
};

// A store for DesiredFlags with `postgres` set.
FlagStorePtr NewPostgresFlagStore(ConnectionUriSource uris, PostgresOptions options = {});

// `text` without any occurrence of `uri` or the password it holds (libpq's messages may
// quote connection parameters), cut to a bounded length.
std::string ScrubConnectionSecrets(const std::string& text, const std::string& uri);

}  // namespace agentrollout::controllers
