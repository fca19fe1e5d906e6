// The native flag store (API.md §5.1): one JSON object, flag key -> entry, in one data key
// of a ConfigMap that many rollouts (and people) may share:
//
//   {"voice_agent_v2": {"enabled": true, "percentage": 10,
//     "enabledTenants": ["t-internal-1"], "disabledTenants": ["t-vip-bank"],
//     "rollout": "voice/voice-agent-v2", "phase": "early-adopters",
//     "updatedAt": "2026-11-22T10:00:00Z"}}
//
// Apply creates the ConfigMap or data key when missing and rewrites only the entries of
// the rollout's own flags; every other key, and any extra field inside its own entries,
// is kept (key order included). An entry already in the desired state is not touched,
// updatedAt included, and when all are, nothing is written. Writes carry the read's
// resourceVersion; a 409 means another writer got in first: read again and redo.
//
// Ownership: an entry whose `rollout` names another rollout (or is not a string) belongs
// to that rollout; an entry without `rollout` (written by hand) is taken over. Apply
// refuses with kFailedPrecondition, writing nothing, when any of its keys belongs to
// another rollout, an entry is not a JSON object, or the document is not a JSON object --
// it never overwrites what it does not understand. An empty data value counts as `{}`.
//
// Release (the rollout's deletion) removes `rollout` from the entries the rollout owns
// (with ReleaseMode::kWithState also writing their state, `phase` and updatedAt) and
// never creates the ConfigMap or data key: a namespace being deleted refuses creations.
#pragma once

#include "controllers/conflict_retry.h"
#include "controllers/flagstore/flag_store.h"
#include "kube/client.h"

namespace agentrollout::controllers {

// A store for DesiredFlags with `config_map` set, writing through `client` (which must
// outlive it).
FlagStorePtr NewConfigMapFlagStore(kube::Client& client, const ConflictRetry& retry = {});

}  // namespace agentrollout::controllers
