{{/* Chart name, used for app.kubernetes.io/name and the Prometheus job label. */}}
{{- define "jss.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Object name: the release name (or fullnameOverride), so the Service is
<release>.<namespace>.svc and KEDA's scalerAddress is <release>.<namespace>.svc:<grpc.port>.
*/}}
{{- define "jss.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "jss.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "jss.selectorLabels" -}}
app.kubernetes.io/name: {{ include "jss.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "jss.labels" -}}
helm.sh/chart: {{ include "jss.chart" . }}
{{ include "jss.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/component: external-scaler
app.kubernetes.io/part-of: keda
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "jss.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "jss.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "jss.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/* The scaler's address as KEDA's scalerAddress. */}}
{{- define "jss.scalerAddress" -}}
{{- printf "%s.%s.svc:%d" (include "jss.fullname" .) .Release.Namespace (int .Values.grpc.port) -}}
{{- end -}}

{{/* Value of the `job` label the alert rules select on. */}}
{{- define "jss.job" -}}
{{- default (include "jss.name" .) .Values.prometheusRule.job -}}
{{- end -}}

{{/* Where secrets are mounted (directories, so rotated Secrets reach the pod). */}}
{{- define "jss.mount.natsAuth" -}}/etc/jetstream-scaler/nats-auth{{- end -}}
{{- define "jss.mount.natsTLS" -}}/etc/jetstream-scaler/nats-tls{{- end -}}
{{- define "jss.mount.grpcTLS" -}}/etc/jetstream-scaler/grpc-tls{{- end -}}
{{- define "jss.mount.grpcClientCA" -}}/etc/jetstream-scaler/grpc-client-ca{{- end -}}
{{/* The client CA's Secret: the chart's own (cert-manager) or the one brought. */}}
{{- define "jss.clientCASecret" -}}
{{- if .Values.grpc.tls.clientCA.certManager.enabled -}}
{{- printf "%s-client-ca" (include "jss.fullname" .) -}}
{{- else -}}
{{- required "grpc.tls.clientCA.existingSecret: a Secret with a CA that signs only KEDA's client certificate (not the server's issuer), or set grpc.tls.clientCA.certManager.enabled=true" .Values.grpc.tls.clientCA.existingSecret -}}
{{- end -}}
{{- end -}}
{{- define "jss.mount.policy" -}}/etc/jetstream-scaler/policy{{- end -}}
{{- define "jss.policyConfigMap" -}}
{{- .Values.policy.existingConfigMap | default (printf "%s-policy" (include "jss.fullname" .)) -}}
{{- end -}}

{{- define "jss.mount.connections" -}}/etc/jetstream-scaler/connections{{- end -}}

{{/* Given an auth block: "true" when any of its files comes from its Secret. */}}
{{- define "jss.natsAuthMounted" -}}
{{- if or .credsKey .tokenKey .passwordKey .nkeySeedKey -}}true{{- end -}}
{{- end -}}

{{/* The secret volume for an auth block: only the keys it uses. */}}
{{- define "jss.natsAuthVolume" -}}
secret:
  secretName: {{ .existingSecret }}
  defaultMode: 0440
  items:
    {{- range (list .credsKey .tokenKey .passwordKey .nkeySeedKey | compact | uniq) }}
    - key: {{ . }}
      path: {{ . }}
    {{- end }}
{{- end -}}

{{/*
NATS auth/TLS flags for one connection: prefix "" (the default connection, and the
fallback for every named connection that leaves a setting out) or "NAME=".
Only file paths: secrets never reach the command line.
*/}}
{{- define "jss.natsArgs" -}}
{{- $p := .prefix -}}
{{- $a := .auth -}}
{{- $t := .tls -}}
{{- if $a.credsKey }}
- --nats-creds={{ $p }}{{ .authDir }}/{{ $a.credsKey }}
{{- end }}
{{- if $a.nkey }}
- --nats-nkey={{ $p }}{{ $a.nkey }}
{{- end }}
{{- if $a.nkeySeedKey }}
- --nats-nkey-seed-file={{ $p }}{{ .authDir }}/{{ $a.nkeySeedKey }}
{{- end }}
{{- if $a.tokenKey }}
- --nats-token-file={{ $p }}{{ .authDir }}/{{ $a.tokenKey }}
{{- end }}
{{- if $a.user }}
- --nats-user={{ $p }}{{ $a.user }}
{{- end }}
{{- if $a.passwordKey }}
- --nats-password-file={{ $p }}{{ .authDir }}/{{ $a.passwordKey }}
{{- end }}
{{- if $t.enabled }}
- --nats-tls-ca={{ $p }}{{ .tlsDir }}/{{ $t.caKey }}
{{- if $t.certKey }}
- --nats-tls-cert={{ $p }}{{ .tlsDir }}/{{ $t.certKey }}
- --nats-tls-key={{ $p }}{{ .tlsDir }}/{{ $t.keyKey }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "jss.validate" -}}
{{- if and .Values.grpc.tls.clientCA.enabled (not .Values.grpc.tls.enabled) -}}
{{- fail "grpc.tls.clientCA.enabled needs grpc.tls.enabled=true (client certificates are only checked over TLS)" -}}
{{- end -}}
{{- if and .Values.grpc.tls.clientCA.certManager.enabled .Values.grpc.tls.clientCA.existingSecret -}}
{{- fail "grpc.tls.clientCA: set either existingSecret or certManager.enabled, not both" -}}
{{- end -}}
{{- if and .Values.grpc.tls.clientCA.certManager.enabled (not .Values.grpc.tls.clientCA.enabled) -}}
{{- fail "grpc.tls.clientCA.certManager.enabled needs grpc.tls.clientCA.enabled=true" -}}
{{- end -}}
{{- if and (.Values.nats.auth.user) (.Values.nats.auth.userKey) -}}
{{- fail "nats.auth: set either user or userKey, not both" -}}
{{- end -}}
{{- if and .Values.grpcProbes .Values.grpc.tls.enabled -}}
{{- fail "grpcProbes needs grpc.tls.enabled=false: the kubelet's gRPC probe speaks no TLS (keep the HTTP probes with TLS)" -}}
{{- end -}}
{{- /* An account selects exactly one connection (the scaler refuses the same at startup). */ -}}
{{- $owners := dict -}}
{{- range .Values.nats.accounts -}}
{{- $_ := set $owners . "default" -}}
{{- end -}}
{{- range $c := .Values.nats.namedConnections -}}
{{- range $c.accounts -}}
{{- if hasKey $owners . -}}
{{- fail (printf "nats account %q is declared for connections %q and %q: an account must select exactly one connection (nats.accounts, nats.namedConnections[].accounts)" . (get $owners .) $c.name) -}}
{{- end -}}
{{- $_ := set $owners . $c.name -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
A probe from values: as given, or with grpcProbes its httpGet replaced by the kubelet's
native gRPC probe of grpc.health.v1 service .service (timing fields kept).
*/}}
{{- define "jss.probe" -}}
{{- if .grpc -}}
{{- $p := omit .probe "httpGet" "tcpSocket" "exec" "grpc" -}}
{{- $_ := set $p "grpc" (dict "port" (int .port) "service" .service) -}}
{{- toYaml $p -}}
{{- else -}}
{{- toYaml .probe -}}
{{- end -}}
{{- end -}}
