# syntax=docker/dockerfile:1
#
# The Airbyte image of source-push-delivery-metrics.
#
#   docker build -t airbyte/source-push-delivery-metrics:0.3.0 .
#
# CI has no Docker engine: test/e2e/package.test.ts reads this file (stages, USER, ENV, LABEL,
# ENTRYPOINT) and rehearses its steps on the host: npm pack, the production-only install, then
# spec, check and read through the ENTRYPOINT below.
#
# Base image: Node.js 26 on Debian 13 "trixie", slim variant.
# - Node 26 is the Active LTS line (LTS since October 2026, security fixes until April 2029);
#   Node 24 is in Maintenance LTS until April 2028 and is the fallback if 26 ever misbehaves:
#   build with --build-arg NODE_IMAGE=node:24-trixie-slim. The code is ES2022 CommonJS and
#   needs Node >= 20.15 (package.json "engines"; zlib.crc32); it uses no native addons.
# - Debian slim rather than Alpine: glibc builds are a Tier 1 Node.js platform while musl ones
#   are "experimental", and glibc's resolver behaves predictably in the Kubernetes pods Airbyte
#   runs connectors in. Slim still has /bin/sh, which the platform needs: it starts the connector
#   with `sh -c 'eval "$AIRBYTE_ENTRYPOINT read …"'`, so a shell-less (distroless) image fails.
# - For a release, pin the base by digest: NODE_IMAGE=node:26-trixie-slim@sha256:…
ARG NODE_IMAGE=node:26-trixie-slim

# ---- build: compile, pack, and install the packed package with production dependencies only.
FROM ${NODE_IMAGE} AS build
WORKDIR /build
# Dependencies first, so that source edits do not invalidate the npm ci layer.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
# The package's own build (tsc to lib/), then the exact tarball that would be published:
# package.json "files" keeps it to bin/, lib/src/ and resources/.
RUN npm run build \
 && mkdir -p /build/pack \
 && npm pack --pack-destination /build/pack
# The tarball unpacked where the image keeps the code, with the lock file beside it, so that
# `npm ci --omit=dev` installs exactly the pinned production dependency tree and nothing else.
WORKDIR /airbyte/integration_code
RUN tar -xzf /build/pack/source-push-delivery-metrics-*.tgz --strip-components=1 \
 && cp /build/package-lock.json ./package-lock.json \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf /root/.npm

# ---- runtime: Node, the connector and its production dependencies; no npm, no compiler.
FROM ${NODE_IMAGE}
# Airbyte's pods run connectors as uid/gid 1000 and expect a user `airbyte` with a writable
# /airbyte. The base image's `node` user holds uid 1000, so it makes way. npm, npx, corepack and
# yarn are not needed to run the connector and are removed (less to patch, a smaller image).
RUN userdel node \
 && rm -rf /home/node \
 && (groupdel node 2>/dev/null || true) \
 && groupadd --gid 1000 airbyte \
 && useradd --uid 1000 --gid airbyte --home-dir /airbyte --no-create-home --shell /usr/sbin/nologin airbyte \
 && mkdir -p /airbyte \
 && chown airbyte:airbyte /airbyte \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
    /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
    /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
# The code is owned by root and read-only for the connector's user.
COPY --from=build /airbyte/integration_code /airbyte/integration_code

LABEL io.airbyte.name="airbyte/source-push-delivery-metrics" \
      io.airbyte.version="0.3.0" \
      org.opencontainers.image.title="source-push-delivery-metrics" \
      org.opencontainers.image.description="Airbyte source: Apple APNs data exports, OneSignal audience activity, Pushwoosh push logs" \
      org.opencontainers.image.licenses="MIT"

# Heap: 768 MiB, three quarters of the 1 GiB that metadata.yaml requests for sync pods
# (resourceRequirements); the other quarter is for memory outside the heap (code, socket and
# zlib buffers, stream chunks). V8 derives its default limit from the memory it detects, which
# need not be the pod's limit; an explicit limit inside the pod makes running out of memory a
# JavaScript heap error in the sync log instead of a silent OOM kill (exit 137). The connector
# streams every export from a temp file (in /tmp) to stdout with backpressure: the whole e2e
# suite passes with a 96 MiB heap, so 768 MiB is headroom for large real accounts.
# AIRBYTE_ENTRYPOINT must equal the ENTRYPOINT, with absolute paths: the platform runs it from
# another working directory.
ENV NODE_OPTIONS="--max-old-space-size=768" \
    AIRBYTE_ENTRYPOINT="/usr/local/bin/node /airbyte/integration_code/bin/source-push-delivery-metrics.js"

USER airbyte
WORKDIR /airbyte
# Fails the build if the installed package cannot start (a missing dependency or resource).
RUN /usr/local/bin/node /airbyte/integration_code/bin/source-push-delivery-metrics.js spec > /dev/null

# Node runs as PID 1, to which the kernel gives no default action for SIGTERM or SIGINT: the
# connector installs its own handlers (src/util/shutdown.ts), so `docker stop` and the platform's
# cancel stop a sync within seconds, with its temp files removed and exit code 143. No init needed.
ENTRYPOINT ["/usr/local/bin/node", "/airbyte/integration_code/bin/source-push-delivery-metrics.js"]
