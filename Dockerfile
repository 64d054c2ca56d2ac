# The weir broker image. Two stages: `build` installs every dependency, compiles the TypeScript and
# prunes the dev dependencies; the final stage holds only what `weir broker` runs (dist/, the
# production node_modules, the .proto files) and runs it as the unprivileged `node` user.
#
# Dependencies are installed inside the build stage (`npm ci`), not copied from the host: the one
# native dependency (@node-rs/crc32) ships a binary per platform, and a node_modules made on macOS
# or Windows would hold the wrong one. So a clean checkout builds with `docker build .` alone.
#
# NODE_IMAGE is the base of both stages: the official image by default. Any image with node, npm, a
# shell, mkdir and chown and a `node` user (uid 1000) will do; scripts/ci/docker-check.sh builds one
# from the machine's own Node where no image registry is reachable.
# NODE_EXTRA_CA_CERTS (a path inside the build stage) is for a network whose TLS to the npm
# registry is intercepted by a proxy: npm then needs the proxy's CA, which the base must contain.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
ARG NODE_EXTRA_CA_CERTS=
WORKDIR /src
# The manifests alone first, so the install layer is reused until they change.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel warn
COPY tsconfig.json tsconfig.build.json ./
COPY proto proto
COPY storage storage
COPY broker broker
COPY client client
COPY scripts scripts
RUN npm run build --silent && npm prune --omit=dev --no-audit --no-fund --loglevel warn

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    WEIR_HOST=0.0.0.0 \
    WEIR_DATA_DIR=/var/lib/weir
WORKDIR /opt/weir
# Owned by root and so read-only to the broker; only the data directory is its own.
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/dist dist
COPY --from=build /src/proto/weir.proto /src/proto/replication.proto proto/
# A named volume mounted here starts as a copy of this directory, owner included.
RUN mkdir -p /var/lib/weir && chown node:node /var/lib/weir
VOLUME /var/lib/weir
USER node
# Kafka's protocol (one broker; none with peers), gRPC, HTTP (health, metrics, admin), replication
# between brokers.
EXPOSE 9092 9093 9094 9095
# /readyz answers 200 once the broker serves and while its storage is healthy; node's own fetch,
# since the slim image has no curl. The port follows WEIR_HTTP_PORT when it is set. Unhealthy
# unless an answer came: node can run out of work with a fetch unsettled, and exits 0 then.
HEALTHCHECK --interval=5s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "process.exitCode = 1; fetch('http://127.0.0.1:' + (process.env.WEIR_HTTP_PORT || 9094) + '/readyz').then((r) => { process.exitCode = r.ok ? 0 : 1; }, () => {})"]
ENTRYPOINT ["node", "dist/client/cli/bin.js"]
CMD ["broker"]
