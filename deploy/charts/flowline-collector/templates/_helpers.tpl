{{- define "flowline.labels" -}}
app: flow-aggregator
app.kubernetes.io/name: flowline-collector
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "flowline.selectorLabels" -}}
app.kubernetes.io/name: flowline-collector
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "flowline.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Comma-separated FLOWLINE_LISTEN from the transport switches. */}}
{{- define "flowline.listen" -}}
{{- $address := .Values.ipfix.listenAddress -}}
{{- if contains ":" $address }}{{ $address = printf "[%s]" $address }}{{ end -}}
{{- $listeners := list -}}
{{- if .Values.ipfix.tls }}{{ $listeners = append $listeners (printf "tls://%s:%d" $address (int .Values.ipfix.port)) }}{{ end -}}
{{- if .Values.ipfix.udp }}{{ $listeners = append $listeners (printf "udp://%s:%d" $address (int .Values.ipfix.port)) }}{{ end -}}
{{- if .Values.ipfix.tcp }}{{ $listeners = append $listeners (printf "tcp://%s:%d" $address (int .Values.ipfix.tcpPort)) }}{{ end -}}
{{- join "," $listeners -}}
{{- end -}}

{{/* The Service and NetworkPolicy ports, one per enabled transport. */}}
{{- define "flowline.ipfixPorts" -}}
{{- if .Values.ipfix.tls }}
- { name: ipfix-tls, port: {{ .Values.ipfix.port }}, protocol: TCP }
{{- end }}
{{- if .Values.ipfix.udp }}
- { name: ipfix-udp, port: {{ .Values.ipfix.port }}, protocol: UDP }
{{- end }}
{{- if .Values.ipfix.tcp }}
- { name: ipfix-tcp, port: {{ .Values.ipfix.tcpPort }}, protocol: TCP }
{{- end }}
{{- end -}}

{{/* Checks across values; the type and format of each value is values.schema.json's. */}}
{{- define "flowline.validate" -}}
{{- if not (or .Values.ipfix.tls .Values.ipfix.udp .Values.ipfix.tcp) }}
{{- fail "ipfix: enable at least one of tls, udp and tcp" }}
{{- end }}
{{- if and .Values.ipfix.tls .Values.ipfix.tcp (eq (int .Values.ipfix.port) (int .Values.ipfix.tcpPort)) }}
{{- fail "ipfix.tcpPort must differ from ipfix.port: TLS holds that TCP port" }}
{{- end }}
{{- if and .Values.ipfix.tls (eq .Values.tls.certificates "existingSecret") (not .Values.tls.existingSecret) }}
{{- fail "tls.certificates=existingSecret needs tls.existingSecret (a Secret with tls.crt, tls.key, ca.crt)" }}
{{- end }}
{{- if and .Values.aws.podIdentity.createAssociation (not (and .Values.aws.podIdentity.clusterName .Values.aws.podIdentity.roleArn)) }}
{{- fail "aws.podIdentity.createAssociation needs aws.podIdentity.clusterName and aws.podIdentity.roleArn (the stack's CollectorRoleArn)" }}
{{- end }}
{{- end -}}

{{- define "flowline.generatesCertificates" -}}
{{- if and .Values.ipfix.tls (eq .Values.tls.certificates "generate") }}true{{ end -}}
{{- end -}}
