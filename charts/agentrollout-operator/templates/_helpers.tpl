{{/* Names and labels shared by every template. */}}

{{- define "agentrollout-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "agentrollout-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "agentrollout-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "agentrollout-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "agentrollout-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "agentrollout-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: agentrollout
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "agentrollout-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "agentrollout-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
What the operator does in the namespaces it watches: exactly the verbs and resources
its code uses, no wildcards. Deployments themselves only with deploymentEnv.enabled (the
flag.deploymentEnv store patches their pod templates); the replicas traffic router needs
only their scale subresource. README.md has the same table with the reason for each rule;
tests/gitops/chart_test.cc fails if the two drift apart from this list, and
tests/gitops/rbac_verbs_test.cc if it grants a verb the code never calls or lacks one it does.
*/}}
{{- define "agentrollout-operator.watchRules" -}}
- apiGroups: ["rollouts.agentops.dev"]
  resources: ["agentrollouts"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["rollouts.agentops.dev"]
  resources: ["agentrollouts/status"]
  verbs: ["update"]
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch", "create", "update"]
- apiGroups: ["core.openfeature.dev"]
  resources: ["featureflags"]
  verbs: ["get", "list", "watch", "create", "update"]
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["httproutes"]
  verbs: ["get", "list", "watch", "update"]
- apiGroups: ["networking.istio.io"]
  resources: ["virtualservices"]
  verbs: ["get", "list", "watch", "update"]
- apiGroups: ["apps"]
  resources: ["deployments/scale"]
  verbs: ["get", "patch"]
{{- if .Values.deploymentEnv.enabled }}
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "patch"]
{{- end }}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}
