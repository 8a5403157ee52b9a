{{- define "vnfm.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "vnfm.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "vnfm.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "vnfm.instanceLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "vnfm.instanceLabels" -}}
app.kubernetes.io/name: {{ include "vnfm.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The vnfm replicas (not the bundled PostgreSQL). */}}
{{- define "vnfm.selectorLabels" -}}
{{ include "vnfm.instanceLabels" . }}
app.kubernetes.io/component: server
{{- end }}

{{- define "vnfm.postgresSelectorLabels" -}}
{{ include "vnfm.instanceLabels" . }}
app.kubernetes.io/component: postgresql
{{- end }}

{{/* The bundled PostgreSQL runs unless an external database is given. */}}
{{- define "vnfm.bundledPostgres" -}}
{{- if not (or .Values.postgresql.external.url .Values.postgresql.external.existingSecret) }}true{{ end }}
{{- end }}

{{- define "vnfm.postgresName" -}}
{{- printf "%s-postgresql" (include "vnfm.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "vnfm.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "vnfm.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding the encryption key. */}}
{{- define "vnfm.keySecret" -}}
{{- default (printf "%s-keys" (include "vnfm.fullname" .)) .Values.encryptionKey.existingSecret }}
{{- end }}

{{/* The Secret holding the database URL. */}}
{{- define "vnfm.databaseSecret" -}}
{{- default (printf "%s-database" (include "vnfm.fullname" .)) .Values.postgresql.external.existingSecret }}
{{- end }}

