{{- define "batchwire.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "batchwire.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "batchwire.selectorLabels" -}}
app.kubernetes.io/name: {{ include "batchwire.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "batchwire.labels" -}}
{{ include "batchwire.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "batchwire.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "batchwire.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "batchwire.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if eq $tag "latest" -}}
{{- fail "image.tag: pin a version, not latest" -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* batchwire.config is .Values.config with what the chart owns set. */}}
{{- define "batchwire.config" -}}
{{- $config := deepCopy .Values.config -}}
{{- $owned := dict "http" (dict "listen" (printf "0.0.0.0:%d" (int .Values.service.port))) "data_dir" "/var/lib/batchwire" -}}
{{- if .Values.temporal.tls.existingSecret -}}
{{- $tls := dict "cert_file" (printf "/var/run/secrets/batchwire/temporal-tls/%s" .Values.temporal.tls.certKey) "key_file" (printf "/var/run/secrets/batchwire/temporal-tls/%s" .Values.temporal.tls.keyKey) -}}
{{- if .Values.temporal.tls.caKey -}}
{{- $_ := set $tls "ca_file" (printf "/var/run/secrets/batchwire/temporal-tls/%s" .Values.temporal.tls.caKey) -}}
{{- end -}}
{{- if .Values.temporal.tls.serverName -}}
{{- $_ := set $tls "server_name" .Values.temporal.tls.serverName -}}
{{- end -}}
{{- $_ := set $owned "temporal" (dict "tls" $tls) -}}
{{- end -}}
{{- if .Values.nats.credentials.existingSecret -}}
{{- $_ := set $owned "nats" (dict "credentials_file" (printf "/var/run/secrets/batchwire/nats/%s" .Values.nats.credentials.key)) -}}
{{- end -}}
{{- toYaml (mergeOverwrite $config $owned) -}}
{{- end -}}
