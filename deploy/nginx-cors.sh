#!/bin/sh
# The allowed origins of deploy/nginx.conf's own answers, from CORS_ORIGINS (the
# services' list, comma-separated): one `map` line per origin in ridewire-cors.map.
# The nginx image runs /docker-entrypoint.d/*.sh before nginx starts
# (docker-compose.yml mounts this file there). RIDEWIRE_CORS_MAP: where to write.
set -eu
out="${RIDEWIRE_CORS_MAP:-/etc/nginx/ridewire-cors.map}"
: > "$out"
printf '%s\n' "${CORS_ORIGINS:-}" | tr ',' '\n' | while read -r origin; do
    case "$origin" in
        "") ;;
        "*") echo '~. "*";' >> "$out" ;;
        *[!A-Za-z0-9.:/_-]*) echo "nginx-cors.sh: ignoring origin '$origin'" >&2 ;;
        *) printf '"%s" "%s";\n' "$origin" "$origin" >> "$out" ;;
    esac
done
