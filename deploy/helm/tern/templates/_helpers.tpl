{{/* Names, labels and the pieces every workload shares. */}}

{{- define "tern.labels" -}}
app.kubernetes.io/part-of: tern
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{- define "tern.secretName" -}}
{{- default (printf "%s-secrets" .Release.Name) .Values.secrets.existingSecret -}}
{{- end }}

{{- define "tern.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end }}

{{- define "tern.laneName" -}}
{{- if not (regexMatch "^[a-z0-9][a-z0-9-]{0,62}$" .) -}}
{{- fail (printf "lane %q: a lane name is lowercase letters, digits and dashes" .) -}}
{{- end -}}
{{- /* Lane x's marketing consumer group is named as lane x-bulk's would be. */ -}}
{{- if hasSuffix "-bulk" . -}}
{{- fail (printf "lane %q: a lane name does not end in -bulk (the name of a lane's marketing consumers)" .) -}}
{{- end -}}
{{- . -}}
{{- end }}

{{/*
Every lane, as YAML: name -> countries, the settings of laneDefaults it does not override, and the ids of the
channels that reach its countries. The default lane (countries in no lane) is one of them when a channel
reaches such a country. Fails on a country in two lanes, a lane no channel serves, or a channel whose lanes
could submit more than its tps (counting the lanes' bulk connectors when marketing is apart).
*/}}
{{- define "tern.lanes" -}}
{{- $root := . -}}
{{- $laneOf := dict -}}
{{- $lanes := dict -}}
{{- range $name, $lane := .Values.lanes -}}
{{- $_ := include "tern.laneName" $name -}}
{{- if eq $name $root.Values.defaultLane -}}
{{- fail (printf "lane %q is the defaultLane: it takes the countries no lane lists, do not list it" $name) -}}
{{- end -}}
{{- if empty $lane.countries -}}
{{- fail (printf "lane %q lists no countries" $name) -}}
{{- end -}}
{{- range $lane.countries -}}
{{- if not (regexMatch "^[A-Z]{2}$" .) -}}
{{- fail (printf "lane %q: country %q is not an ISO 3166-1 alpha-2 code" $name .) -}}
{{- end -}}
{{- if hasKey $laneOf . -}}
{{- fail (printf "country %s is in lanes %s and %s" . (get $laneOf .) $name) -}}
{{- end -}}
{{- $_ := set $laneOf . $name -}}
{{- end -}}
{{- $_ := set $lanes $name (mergeOverwrite (deepCopy $root.Values.laneDefaults) (deepCopy $lane)) -}}
{{- end -}}
{{- $default := include "tern.laneName" .Values.defaultLane -}}
{{- $_ := set $lanes $default (mergeOverwrite (deepCopy .Values.laneDefaults) (get .Values.lanes $default | default dict) (dict "countries" list)) -}}
{{- range $name, $lane := $lanes -}}
{{- $ids := list -}}
{{- range $root.Values.channels -}}
{{- $serves := false -}}
{{- range $country, $_ := .countries -}}
{{- if eq (get $laneOf $country | default $default) $name -}}{{- $serves = true -}}{{- end -}}
{{- end -}}
{{- if $serves -}}{{- $ids = append $ids .id -}}{{- end -}}
{{- end -}}
{{- if and (empty $ids) (ne $name $default) -}}
{{- fail (printf "lane %q: no channel reaches %s" $name (join ", " $lane.countries)) -}}
{{- end -}}
{{- $_ := set $lane "channels" $ids -}}
{{- end -}}
{{- if empty (get (get $lanes $default) "channels") -}}
{{- $_ := unset $lanes $default -}}
{{- end -}}
{{- range $root.Values.channels -}}
{{- $channel := . -}}
{{- $most := 0.0 -}}
{{- range $name, $lane := $lanes -}}
{{- if has $channel.id $lane.channels -}}
{{- $replicas := ternary (add $lane.maxReplicas $lane.bulk.maxReplicas) $lane.maxReplicas $root.Values.marketingApart.enabled -}}
{{- $most = addf $most (mulf $replicas ($channel.smpp.binds | default 1) $channel.smpp.tpsPerBind) -}}
{{- end -}}
{{- end -}}
{{- if gt $most (float64 $channel.tps) -}}
{{- fail (printf "channel %s: its lanes' connectors could submit %v/s (maxReplicas x binds x tpsPerBind%s), more than its tps %v" $channel.id $most (ternary ", bulk connectors' too" "" $root.Values.marketingApart.enabled) $channel.tps) -}}
{{- end -}}
{{- end -}}
{{- toYaml $lanes -}}
{{- end }}

{{/*
The traffic classes each of risk, the router and a lane's connectors is split into, as a YAML list: one
Deployment of both ("") or, with marketingApart, one of OTP and transactional traffic and one of marketing.
*/}}
{{- define "tern.trafficClasses" -}}
{{- toYaml (ternary (list "priority" "bulk") (list "") .Values.marketingApart.enabled) -}}
{{- end }}

{{/* A Deployment's name suffix and TERN_TRAFFIC_CLASSES for one of those classes. */}}
{{- define "tern.classSuffix" -}}
{{- ternary "-bulk" "" (eq . "bulk") -}}
{{- end }}

{{- define "tern.classEnv" -}}
{{- if . }}
- name: TERN_TRAFFIC_CLASSES
  value: {{ . }}
{{- end }}
{{- end }}

{{/* Every lane name the platform has topics for: the listed lanes and the default lane. */}}
{{- define "tern.topicLanes" -}}
{{- $names := list (include "tern.laneName" .Values.defaultLane) -}}
{{- range $name, $_ := .Values.lanes -}}{{- $names = append $names $name -}}{{- end -}}
{{- join "," (uniq $names) -}}
{{- end }}

{{/* Kafka settings every process takes (services and the topics Job). */}}
{{- define "tern.kafkaEnv" -}}
- name: TERN_KAFKA_BROKERS
  value: {{ required "kafka.brokers: list the Kafka bootstrap servers (host:port)" (join "," .Values.kafka.brokers | default "") | quote }}
{{- with .Values.kafka.topicNamespace }}
- name: TERN_KAFKA_TOPIC_NAMESPACE
  value: {{ . | quote }}
{{- end }}
{{- if .Values.kafka.tls.enabled }}
- name: TERN_KAFKA_TLS
  value: 'true'
{{- if .Values.kafka.tls.caSecret }}
- name: TERN_KAFKA_TLS_CA_FILE
  value: /etc/tern/kafka-ca/ca.crt
{{- end }}
{{- end }}
{{- with .Values.kafka.sasl.mechanism }}
- name: TERN_KAFKA_SASL_MECHANISM
  value: {{ . | quote }}
- name: TERN_KAFKA_SASL_USERNAME
  value: {{ required "kafka.sasl.username: SASL needs a user" $.Values.kafka.sasl.username | quote }}
- name: TERN_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef: { name: {{ include "tern.secretName" $ }}, key: kafka-sasl-password }
{{- end }}
{{- end }}

{{/*
A service's container env: Kafka, the common settings, its own files and secrets (.env, a list), then the
operator's extra settings (common.env, then the service's env), which override what the chart set.
*/}}
{{- define "tern.commonEnv" -}}
- name: TERN_HTTP_PORT
  value: '8080'
- name: TERN_LOG_LEVEL
  value: {{ .Values.common.logLevel | quote }}
- name: TERN_SHUTDOWN_TIMEOUT_MS
  value: {{ .Values.common.shutdownTimeoutMs | quote }}
{{- with .Values.common.otlpEndpoint }}
- name: TERN_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- with .Values.common.nodeOptions }}
- name: NODE_OPTIONS
  value: {{ . | quote }}
{{- end }}
{{- end }}

{{/*
A service's container env: Kafka, the common settings and the service's own (.env, a list), with the
operator's extra settings (common.env, then the service's env map) in place of any of them they name.
*/}}
{{- define "tern.env" -}}
{{- $root := .root -}}
{{- $extra := mergeOverwrite (deepCopy $root.Values.common.env) (deepCopy (.extra | default dict)) -}}
{{- $chart := concat (include "tern.kafkaEnv" $root | fromYamlArray) (include "tern.commonEnv" $root | fromYamlArray) .env -}}
{{- range $chart }}
{{- if not (hasKey $extra .name) }}
- {{ toYaml . | nindent 2 | trim }}
{{- end }}
{{- end }}
{{- range $k, $v := $extra }}
- name: {{ $k }}
  value: {{ $v | toString | quote }}
{{- end }}
{{- end }}

{{- define "tern.redisEnv" -}}
- name: TERN_REDIS_URL
  valueFrom:
    secretKeyRef: { name: {{ include "tern.secretName" . }}, key: redis-url }
{{- if .Values.redis.tlsCaSecret }}
- name: TERN_REDIS_TLS_CA_FILE
  value: /etc/tern/redis-ca/ca.crt
{{- end }}
{{- end }}

{{- define "tern.clickhouseEnv" -}}
- name: TERN_CLICKHOUSE_URL
  valueFrom:
    secretKeyRef: { name: {{ include "tern.secretName" . }}, key: clickhouse-url }
- name: TERN_CLICKHOUSE_DATABASE
  value: {{ .Values.clickhouse.database | quote }}
{{- if .Values.clickhouse.tlsCaSecret }}
- name: TERN_CLICKHOUSE_TLS_CA_FILE
  value: /etc/tern/clickhouse-ca/ca.crt
{{- end }}
{{- end }}

{{- define "tern.grpcTlsEnv" -}}
{{- if .Values.grpcTls.secret }}
- name: TERN_GRPC_TLS_CERT_FILE
  value: /etc/tern/grpc-tls/tls.crt
- name: TERN_GRPC_TLS_KEY_FILE
  value: /etc/tern/grpc-tls/tls.key
{{- if .Values.grpcTls.clientCaSecret }}
- name: TERN_GRPC_TLS_CLIENT_CA_FILE
  value: /etc/tern/grpc-client-ca/ca.crt
{{- end }}
{{- end }}
{{- end }}

{{/* CA bundles and certificates from Secrets of their own, as volumes and mounts, where configured. */}}
{{- define "tern.caVolumes" -}}
{{- range $name, $secret := .secrets }}
{{- if $secret }}
- name: {{ $name }}
  secret: { secretName: {{ $secret }} }
{{- end }}
{{- end }}
{{- end }}

{{- define "tern.caMounts" -}}
{{- range $name, $secret := .secrets }}
{{- if $secret }}
- { name: {{ $name }}, mountPath: /etc/tern/{{ $name }}, readOnly: true }
{{- end }}
{{- end }}
{{- end }}

{{/*
A lane's channels file (channels-<lane>.yaml in the files ConfigMap): each channel that reaches its countries,
with its SMPP bind and where its password is mounted. Arguments: root, spec (the lane, from tern.lanes).
*/}}
{{- define "tern.laneChannelsFile" -}}
{{- $spec := .spec -}}
{{- $channels := list -}}
{{- range .root.Values.channels -}}
{{- if has .id $spec.channels -}}
{{- $channels = append $channels (merge (dict "id" .id "password" (dict "file" (printf "/etc/tern/secrets/smpp-%s" .id))) .smpp) -}}
{{- end -}}
{{- end -}}
{{- toYaml (dict "channels" $channels) -}}
{{- end -}}

{{/*
One Deployment. Arguments: root, name (of the Deployment), component (its TERN_SERVICE), replicas, env (the
service's own, as a list), extra (its values' env map), secretKeys (keys of the Secret it mounts at
/etc/tern/secrets), files (keys of the files ConfigMap mounted at /etc/tern/files), rollOn (name -> the
content of a file it reads only as it starts: a change rolls its pods), cas (volume name -> Secret, for CA
and certificate Secrets), ports (list), resources, labels (extra labels). Without replicas, an autoscaler
sets them.
*/}}
{{- define "tern.deployment" -}}
{{- $root := .root -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .name }}
  labels:
    {{- include "tern.labels" $root | nindent 4 }}
    app.kubernetes.io/name: {{ .name }}
    app.kubernetes.io/component: {{ .component }}
    {{- with .labels }}{{ toYaml . | nindent 4 }}{{ end }}
spec:
  {{- /* Lanes leave replicas to their autoscaler: a Helm upgrade then does not undo its scaling. */}}
  {{- if not (kindIs "invalid" .replicas) }}
  replicas: {{ .replicas }}
  {{- end }}
  selector:
    matchLabels:
      app.kubernetes.io/instance: {{ $root.Release.Name }}
      app.kubernetes.io/name: {{ .name }}
  template:
    metadata:
      labels:
        {{- include "tern.labels" $root | nindent 8 }}
        app.kubernetes.io/name: {{ .name }}
        app.kubernetes.io/component: {{ .component }}
        {{- with .labels }}{{ toYaml . | nindent 8 }}{{ end }}
      annotations:
        prometheus.io/scrape: 'true'
        prometheus.io/port: '8080'
        prometheus.io/path: /metrics
        {{- if not $root.Values.secrets.existingSecret }}
        # Settings read once at start-up (URLs, keys) roll the pods when they change; most files are followed
        # live, the others are in rollOn.
        checksum/secret-env: {{ omit $root.Values.secrets.values "tenants.yaml" "operators.yaml" | toJson | sha256sum }}
        {{- end }}
        {{- range $name, $content := .rollOn }}
        checksum/{{ $name }}: {{ $content | sha256sum }}
        {{- end }}
        {{- with $root.Values.podAnnotations }}{{ toYaml . | nindent 8 }}{{ end }}
    spec:
      # The service's own stop deadline (TERN_SHUTDOWN_TIMEOUT_MS) fits inside the grace period.
      terminationGracePeriodSeconds: {{ add (div $root.Values.common.shutdownTimeoutMs 1000) 5 }}
      automountServiceAccountToken: false
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets: {{ toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        runAsNonRoot: true
        runAsUser: 1000
        runAsGroup: 1000
        fsGroup: 1000
        seccompProfile: { type: RuntimeDefault }
      containers:
        - name: {{ .component }}
          image: {{ include "tern.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          env:
            - name: TERN_SERVICE
              value: {{ .component }}
            {{- include "tern.env" (dict "root" $root "env" .env "extra" .extra) | nindent 12 }}
          ports:
            - { name: http, containerPort: 8080 }
            {{- range .ports }}
            - {{ toYaml . | nindent 14 | trim }}
            {{- end }}
          # The HTTP endpoint comes up once the service has joined its consumer groups, and a join waits for
          # the group's other members to rejoin (up to the 60 s rebalance timeout when one is busy).
          startupProbe:
            httpGet: { path: /health/live, port: http }
            periodSeconds: 2
            failureThreshold: 60
          livenessProbe:
            httpGet: { path: /health/live, port: http }
            periodSeconds: 10
          readinessProbe:
            httpGet: { path: /health/ready, port: http }
            periodSeconds: 5
            failureThreshold: 3
          resources: {{ toYaml .resources | nindent 12 }}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: { drop: [ALL] }
          volumeMounts:
            - { name: tmp, mountPath: /tmp }
            {{- if .secretKeys }}
            - { name: secrets, mountPath: /etc/tern/secrets, readOnly: true }
            {{- end }}
            {{- if .files }}
            - { name: files, mountPath: /etc/tern/files, readOnly: true }
            {{- end }}
            {{- include "tern.caMounts" (dict "secrets" .cas) | nindent 12 }}
      volumes:
        - name: tmp
          emptyDir: { sizeLimit: 64Mi }
        {{- if .secretKeys }}
        - name: secrets
          secret:
            secretName: {{ include "tern.secretName" $root }}
            defaultMode: 0440
            items:
              {{- range .secretKeys }}
              - { key: {{ . }}, path: {{ . }} }
              {{- end }}
        {{- end }}
        {{- if .files }}
        - name: files
          configMap:
            name: {{ $root.Release.Name }}-files
            items:
              {{- range .files }}
              - { key: {{ . }}, path: {{ . }} }
              {{- end }}
        {{- end }}
        {{- include "tern.caVolumes" (dict "secrets" .cas) | nindent 8 }}
      {{- with $root.Values.nodeSelector }}
      nodeSelector: {{ toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.tolerations }}
      tolerations: {{ toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.affinity }}
      affinity: {{ toYaml . | nindent 8 }}
      {{- end }}
{{- end }}

{{- define "tern.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ .name }}
  labels:
    {{- include "tern.labels" .root | nindent 4 }}
    app.kubernetes.io/name: {{ .name }}
spec:
  maxUnavailable: {{ .root.Values.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      app.kubernetes.io/instance: {{ .root.Release.Name }}
      app.kubernetes.io/name: {{ .name }}
{{- end }}
