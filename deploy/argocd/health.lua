-- Argo CD resource health check for AgentRollout (rollouts.agentops.dev/v1alpha1).
-- Argo CD sets the global `obj` to the live object and reads the returned table:
-- hs.status is Healthy | Progressing | Suspended | Degraded, hs.message is shown in the UI.
-- Install: deploy/argocd/argocd-cm-patch.yaml (key
-- resource.customizations.health.rollouts.agentops.dev_AgentRollout).
--
--   Pending, Progressing, RollingBack  -> Progressing  (the operator is working)
--   Paused, AwaitingApproval           -> Suspended    (a person must act: resume/promote)
--   Succeeded                          -> Healthy
--   RolledBack, Failed                 -> Degraded     (kstatus: Stalled=True)
-- A spec change the operator has not yet observed (status.observedGeneration <
-- metadata.generation) and a missing status are Progressing: the old status would lie.
local hs = {}

local phases = {
  Pending = "Progressing",
  Progressing = "Progressing",
  RollingBack = "Progressing",
  Paused = "Suspended",
  AwaitingApproval = "Suspended",
  Succeeded = "Healthy",
  RolledBack = "Degraded",
  Failed = "Degraded",
}

local status = obj.status
if status == nil or status.phase == nil or status.phase == "" then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to reconcile the AgentRollout"
  return hs
end

local generation = obj.metadata and obj.metadata.generation
local observed = status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

hs.status = phases[status.phase]
if hs.status == nil then
  hs.status = "Progressing"
  hs.message = "Unknown phase " .. tostring(status.phase)
  return hs
end

local text = status.phase
if status.currentPhase ~= nil and status.currentPhase.name ~= nil then
  text = text .. " (" .. status.currentPhase.name .. ")"
end
if status.message ~= nil and status.message ~= "" then
  text = text .. ": " .. status.message
end
hs.message = text
return hs
