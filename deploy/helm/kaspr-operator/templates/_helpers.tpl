{{/* The release's name for every object: the chart's name unless the release says otherwise. */}}
{{- define "kaspr-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kaspr-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kaspr-operator.labels" -}}
{{ include "kaspr-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "kaspr-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kaspr-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The operator's namespaced rules: with the StorageClass rule the ClusterRole adds, the same as
deploy/rbac.yaml's ClusterRole (a test compares them). */}}
{{- define "kaspr-operator.rules" -}}
- apiGroups: [kaspr.io]
  resources: [kasprapps]
  verbs: [list, watch, patch]
- apiGroups: [kaspr.io]
  resources: [kasprapps/status]
  verbs: [patch]
- apiGroups: [kaspr.io]
  resources: [kaspragents, kasprtables, kasprwebviews, kasprtasks, kasprjoins]
  verbs: [list, watch]
- apiGroups: [kaspr.io]
  resources: [kaspragents/status, kasprtables/status, kasprwebviews/status, kasprtasks/status, kasprjoins/status]
  verbs: [patch]
- apiGroups: [apps]
  resources: [statefulsets]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [services, persistentvolumeclaims]
  verbs: [get, list, watch, create, patch]
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, create, patch]
- apiGroups: [""]
  resources: [serviceaccounts]
  verbs: [get, create, patch]
- apiGroups: [""]
  resources: [configmaps, persistentvolumeclaims]
  verbs: [delete]
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [pods]
  verbs: [list, watch, delete]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end -}}
