# dmq image: one image for every role (`serve --role all|api|worker`) and for the dmctl-style
# verbs (`docker compose exec api node bin/dmq.js query-status test`).
#
#   docker build -t dmq .
#   docker run --rm -e REDIS_URL=redis://redis:6379 -p 8261:8261 dmq serve --role api
#
# Two stages: the build stage has the dev dependencies (TypeScript) and compiles src/ into
# dist/ with tsc; the runtime stage gets production dependencies, dist/ and bin/ only.

# ---------------------------------------------------------------------------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app

# Dependencies first, so that editing src/ does not invalidate the npm ci layer.
# --ignore-scripts: no dependency needs its install script here. The build uses tsc alone
# (plain JavaScript), never esbuild/tsx, and msgpackr-extract (an optional dependency of
# bullmq's msgpackr) loads its prebuilt binary from its per-platform package; without the
# script it cannot fall back to compiling with node-gyp, which this slim image cannot do anyway.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts

COPY tsconfig.json ./
COPY src ./src
RUN npm run build

# ---------------------------------------------------------------------------------------------
FROM node:20-bookworm-slim AS runtime
WORKDIR /app

# DMQ_HOST: the API must listen on all interfaces in a container (the default, 127.0.0.1, is
# unreachable from outside it). DMQ_DUMP_DIR: chunk files between dump and load; every
# processor that may load a chunk must see the same directory (see docker-compose.yml).
# DMQ_REQUIRE_SECRET_KEY: the image is for production, where passwords stored in Redis must not
# be encrypted with DM's public default key: it refuses to start without DMQ_SECRET_KEY.
# NODE_OPTIONS: with a heap limit V8 collects sooner (it lets the heap grow less past its live
# part), which keeps peak RSS under 300 MiB in a 1M-row transaction and a copy of 1 MiB rows, at
# more CPU spent in GC. The live heap of that work stayed under 80 MiB; see
# docs/operations.md#memory before lowering it, or set NODE_OPTIONS= to spend less CPU instead.
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-old-space-size=384 \
    DMQ_HOST=0.0.0.0 \
    DMQ_DUMP_DIR=/var/lib/dmq/dump \
    DMQ_REQUIRE_SECRET_KEY=true

# Production dependencies only; no TypeScript, tsx or esbuild in the final image.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts \
 && npm cache clean --force

COPY --from=build /app/dist ./dist
COPY bin ./bin

# The application files stay owned by root (read-only for the service). The dump directory
# is created here and owned by `node` (uid 1000, shipped with the base image) so that a named
# volume mounted on it starts out with that owner: Docker copies the image directory's
# ownership into an empty named volume on first mount. (A bind mount keeps the host
# directory's owner instead: make it writable by uid 1000.)
RUN mkdir -p /var/lib/dmq/dump \
 && chown node:node /var/lib/dmq/dump
VOLUME ["/var/lib/dmq/dump"]

USER node

# HTTP API (DM master's port), Bull Board at /dashboard, Prometheus /metrics, /healthz.
EXPOSE 8261

# Slim images have no curl or wget; Node 20's global fetch does the probe. The API answers
# /healthz; a `--role worker` container has no HTTP server, so docker-compose.yml disables
# this check for workers.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.DMQ_PORT || 8261) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Node runs as PID 1 and handles SIGTERM itself: `dmq serve` closes its BullMQ workers (which
# finish their active jobs) and the API before exiting.
ENTRYPOINT ["node", "bin/dmq.js"]
CMD ["serve"]
