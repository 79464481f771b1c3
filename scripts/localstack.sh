#!/usr/bin/env bash
# LocalStack target. Needs a running LocalStack (which needs a Docker engine: it runs the Lambdas in
# containers). Without one this script says so and exits non-zero; it never pretends to have run.
#
#   scripts/localstack.sh deploy   cdklocal bootstrap + deploy FlowlineStack; outputs -> cdk-outputs.localstack.json
#   scripts/localstack.sh test     the integration suite (test/integration) against LocalStack
#
# Environment:
#   LOCALSTACK_ENDPOINT   edge URL (default http://localhost.localstack.cloud:4566)
#   AWS_REGION            default us-east-1
#   CDK_DEPLOY_ARGS       extra cdklocal deploy arguments, e.g. "-c clickHouseUrl=http://host.docker.internal:8123"
#   CLICKHOUSE_URL/USER/PASSWORD   ClickHouse for the suite (otherwise the test starts chDB on loopback)
set -euo pipefail
cd "$(dirname "$0")/.."

command="${1:-}"
endpoint="${LOCALSTACK_ENDPOINT:-http://localhost.localstack.cloud:4566}"
outputs_file="cdk-outputs.localstack.json"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_DEFAULT_REGION="$AWS_REGION"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"

fail() {
  echo "localstack: $*" >&2
  exit 1
}

case "$command" in
  deploy | test) ;;
  *) fail "usage: scripts/localstack.sh deploy|test" ;;
esac

# LocalStack answers its health endpoint when it runs (locally or on a reachable host).
localstack_healthy() {
  node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(5000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' \
    "$endpoint/_localstack/health"
}
if ! localstack_healthy; then
  if ! docker_error="$(docker info 2>&1 >/dev/null)"; then
    fail "NOT RUN: no LocalStack at $endpoint, and no Docker engine on this machine to start one.
  \`docker info\` said: $(printf '%s' "$docker_error" | grep -v '^$' | tail -n 1)
  LocalStack runs in Docker (and runs each Lambda in a container), so it cannot run here.
  Use the local mode instead (npm test, npm start), or run this on a machine with Docker:
    docker run -d --name localstack -p 4566:4566 -v /var/run/docker.sock:/var/run/docker.sock \\
      -e LOCALSTACK_AUTH_TOKEN localstack/localstack
  or point LOCALSTACK_ENDPOINT at a running LocalStack."
  fi
  fail "NOT RUN: Docker is available but no LocalStack answers at $endpoint/_localstack/health.
  Start it first (docker run ... localstack/localstack, or \`localstack start -d\`; current images need
  LOCALSTACK_AUTH_TOKEN), or set LOCALSTACK_ENDPOINT."
fi
echo "localstack: LocalStack is up at $endpoint"

# cdklocal and the SDK read these; cdklocal insists on an explicit S3 endpoint next to AWS_ENDPOINT_URL.
export AWS_ENDPOINT_URL="$endpoint"
if [ -z "${AWS_ENDPOINT_URL_S3:-}" ]; then
  if [ "$endpoint" = "http://localhost.localstack.cloud:4566" ]; then
    export AWS_ENDPOINT_URL_S3="http://s3.localhost.localstack.cloud:4566"
  else
    export AWS_ENDPOINT_URL_S3="$endpoint"
    export AWS_S3_FORCE_PATH_STYLE=1
  fi
fi

case "$command" in
  deploy)
    # retainData=false: LocalStack stacks are disposable (cdklocal destroy removes everything).
    npx cdklocal bootstrap -c retainData=false
    # shellcheck disable=SC2086 # CDK_DEPLOY_ARGS is a list of arguments on purpose
    npx cdklocal deploy --require-approval never --outputs-file "$outputs_file" -c retainData=false ${CDK_DEPLOY_ARGS:-}
    echo "localstack: deployed; stack outputs in $outputs_file"
    ;;
  test)
    [ -f "$outputs_file" ] || fail "NOT RUN: $outputs_file missing; run npm run deploy:localstack first"
    export FLOWLINE_TEST_TARGET=localstack
    export FLOWLINE_STACK_OUTPUTS="$PWD/$outputs_file"
    npx vitest run test/integration
    ;;
esac
