# Glassbox's image: Node 24 LTS, production dependencies only, non-root, started exactly as
# `npm start` starts it. Node runs the TypeScript sources directly (type stripping), so there
# is no build step and the image holds src/ as it is in the repository.
#
#   docker build -t glassbox .
#   docker run --rm -e DATABASE_URL=… glassbox node src/migrate.ts     # migrations (init step)
#   docker run --rm -p 3000:3000 -e DATABASE_URL=… -e JWT_SECRET=… glassbox
#
# Pinned to an exact Node release, the one CI tests with (engines: >=24.12); bump it on purpose.
ARG NODE_IMAGE=node:24.22.3-bookworm-slim

# --- dependencies: resolved from the lock file, dev dependencies left out -------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# @datadog/pprof ships its prebuilt binary inside the package: no compiler needed here.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- runtime ---------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    APP_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --chown=root:root package.json package-lock.json ./
COPY --chown=root:root src ./src
COPY --chown=root:root db ./db
# The files belong to root and are read-only for the `node` user the process runs as.
USER node
EXPOSE 3000
# `npm start`'s flags, without npm in between (npm would sit between the process and SIGTERM).
CMD ["node", "--max-semi-space-size=8", "--no-allocation-site-pretenuring", "--import", "./src/observability/instrument.ts", "src/main.ts"]
