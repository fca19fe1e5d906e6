-- Runs deploy/argocd/health.lua the way Argo CD does (global `obj`, the returned table is
-- the health) against sample AgentRollouts, and checks that the copy embedded in
-- deploy/argocd/argocd-cm-patch.yaml is identical.
-- Usage: lua5.4 tests/gitops/health_test.lua <repo root>
local root = assert(arg[1], "usage: health_test.lua <repo root>")
local script_path = root .. "/deploy/argocd/health.lua"
local patch_path = root .. "/deploy/argocd/argocd-cm-patch.yaml"

local function read(path)
  local f = assert(io.open(path, "r"))
  local text = f:read("a")
  f:close()
  return text
end

-- Argo CD's Lua VM offers only the safe standard libraries (no io, os, require, load):
-- run the script with just those, so a script that needs more fails here too.
local function sandbox(object)
  return {
    obj = object,
    pairs = pairs, ipairs = ipairs, next = next, type = type, tostring = tostring,
    tonumber = tonumber, error = error, pcall = pcall, select = select,
    string = string, table = table, math = math,
  }
end

local function run(source, object)
  local chunk, err = load(source, "=health.lua", "t", sandbox(object))
  assert(chunk, err)
  return chunk()
end

local function rollout(generation, status)
  return {
    apiVersion = "rollouts.agentops.dev/v1alpha1",
    kind = "AgentRollout",
    metadata = {name = "voice-agent-v2", namespace = "voice", generation = generation},
    spec = {revision = "2.0.0"},
    status = status,
  }
end

local function at(phase, name, message)
  return {
    observedGeneration = 3,
    phase = phase,
    currentPhase = name and {index = 1, name = name, flagPercent = 10, trafficWeight = 10} or nil,
    message = message,
  }
end

local cases = {
  {"no status yet", rollout(1, nil), "Progressing",
   "Waiting for the operator to reconcile the AgentRollout"},
  {"empty status", rollout(1, {}), "Progressing",
   "Waiting for the operator to reconcile the AgentRollout"},
  {"empty phase", rollout(1, {observedGeneration = 1, phase = ""}), "Progressing",
   "Waiting for the operator to reconcile the AgentRollout"},
  {"Pending", rollout(3, at("Pending", nil, "starting phase canary")), "Progressing",
   "Pending: starting phase canary"},
  {"Progressing", rollout(3, at("Progressing", "early-adopters",
     "holding in early-adopters: latency-p95-ms 912 is not < 800 (go); 3h12m of bake left")),
   "Progressing",
   "Progressing (early-adopters): holding in early-adopters: latency-p95-ms 912 is not < 800 (go); 3h12m of bake left"},
  {"RollingBack", rollout(3, at("RollingBack", "expansion", "error-rate 0.071 crossed > 0.05")),
   "Progressing", "RollingBack (expansion): error-rate 0.071 crossed > 0.05"},
  {"Paused", rollout(3, at("Paused", "early-adopters", "paused by spec.paused")), "Suspended",
   "Paused (early-adopters): paused by spec.paused"},
  {"AwaitingApproval", rollout(3, at("AwaitingApproval", "majority",
     "awaiting approval to leave majority (kubectl agentrollout promote)")), "Suspended",
   "AwaitingApproval (majority): awaiting approval to leave majority (kubectl agentrollout promote)"},
  {"Succeeded", rollout(3, at("Succeeded", "complete", "")), "Healthy", "Succeeded (complete)"},
  {"RolledBack", rollout(3, at("RolledBack", "expansion", "rolled back: error-rate 0.071 > 0.05")),
   "Degraded", "RolledBack (expansion): rolled back: error-rate 0.071 > 0.05"},
  {"Failed", rollout(3, at("Failed", nil, "spec.phases[2].trafficWeight: must be 0..100, got 140")),
   "Degraded", "Failed: spec.phases[2].trafficWeight: must be 0..100, got 140"},
  {"spec changed, not yet observed", rollout(4, at("Succeeded", "complete", "")), "Progressing",
   "Waiting for the operator to observe generation 4"},
  {"status without observedGeneration", rollout(2, {phase = "Succeeded"}), "Progressing",
   "Waiting for the operator to observe generation 2"},
  {"no generation in metadata", {metadata = {}, status = {phase = "Succeeded"}}, "Healthy",
   "Succeeded"},
  {"unknown phase from a newer operator", rollout(3, at("Exploding", nil, "boom")), "Progressing",
   "Unknown phase Exploding"},
}

local script = read(script_path)

-- The copy in the ConfigMap patch: the block scalar under the customization key,
-- indented four spaces.
local key = "  resource.customizations.health.rollouts.agentops.dev_AgentRollout: |\n"
local patch = read(patch_path)
local start = assert(patch:find(key, 1, true), "key not found in " .. patch_path)
local embedded_lines = {}
for line in patch:sub(start + #key):gmatch("([^\n]*)\n") do
  if line == "" then
    embedded_lines[#embedded_lines + 1] = ""
  elseif line:sub(1, 4) == "    " then
    embedded_lines[#embedded_lines + 1] = line:sub(5)
  else
    break
  end
end
local embedded = table.concat(embedded_lines, "\n") .. "\n"

local failures = 0
local function check(ok, text)
  if not ok then
    failures = failures + 1
    print("FAIL: " .. text)
  end
end

check(embedded == script,
      patch_path .. " does not embed a verbatim copy of " .. script_path ..
      " (re-generate it: see the comment at its top)")

for _, c in ipairs(cases) do
  local name, object, want_status, want_message = c[1], c[2], c[3], c[4]
  for _, source in ipairs({script, embedded}) do
    local ok, hs = pcall(run, source, object)
    if not ok then
      check(false, name .. ": script raised " .. tostring(hs))
    else
      check(hs.status == want_status,
            string.format("%s: status %q, want %q", name, tostring(hs.status), want_status))
      check(hs.message == want_message,
            string.format("%s: message %q, want %q", name, tostring(hs.message), want_message))
    end
  end
end

if failures > 0 then
  print(string.format("%d failure(s)", failures))
  os.exit(1)
end
print(string.format("ok: %d sample objects, health.lua and its argocd-cm copy agree", #cases))
