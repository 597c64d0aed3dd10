#!/usr/bin/env bash
# publint and arethetypeswrong (ESM-only profile) over every public package, as packed for npm (pnpm pack
# applies publishConfig, so the checked package.json is the published one). Needs `pnpm build`.
set -euo pipefail
cd "$(dirname "$0")/.."
PACKAGES=(core express fastify hono upstream stores/sqlite stores/postgres stores/mysql stores/redis)
bin=docs/node_modules/.bin
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
filters=()
for dir in "${PACKAGES[@]}"; do filters+=(--filter "./packages/$dir"); done
npx -y pnpm@10 -r "${filters[@]}" pack --pack-destination "$tmp" >/dev/null
failed=0
# The published exports (publishConfig) must offer every subpath the workspace exports, or an adapter that
# imports one works here and breaks for users.
for dir in "${PACKAGES[@]}"; do
  node -e '
    const pkg = require(process.argv[1]);
    const published = pkg.publishConfig?.exports;
    if (!published) process.exit(0);
    const missing = Object.keys(pkg.exports).filter((key) => !(key in published));
    if (missing.length) { console.error(`FAIL ${pkg.name}: publishConfig.exports lacks ${missing.join(", ")}`); process.exit(1); }
  ' "$PWD/packages/$dir/package.json" || failed=1
done
for tarball in "$tmp"/*.tgz; do
  name="$(basename "$tarball")"
  if "$bin/publint" run "$tarball" --strict --level suggestion >"$tmp/publint.log" 2>&1; then
    echo "publint ok: $name"
  else
    cat "$tmp/publint.log"; echo "FAIL publint: $name"; failed=1
  fi
  if "$bin/attw" "$tarball" --profile esm-only --format ascii >"$tmp/attw.log" 2>&1; then
    echo "attw ok:    $name"
  else
    cat "$tmp/attw.log"; echo "FAIL attw: $name"; failed=1
  fi
done
exit "$failed"
