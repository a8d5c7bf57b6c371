# Talon's container image (worker and webhook: `talon worker` / `talon webhook`), published as
# ghcr.io/talon-orchestrator/talon:<version>. Not built in this repository's CI (the development machine
# has no container runtime); deploy/kustomize references it by that name.
#   docker build -t ghcr.io/talon-orchestrator/talon:0.1.0 .
# Debian, not Alpine: onnxruntime-node and Temporal's Rust core are glibc builds.
# The image holds what the npm package holds (package.json `files`: bin/, dist/, models/,
# data/taxonomy.json) and the production dependencies; no training/, tools/, tests or dev dependencies.
# test/integration/shipped-package.test.ts runs this file's ENTRYPOINT and CMD from the packed package.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# onnxruntime-node's install script fetches GPU files; the CPU build ships in the package.
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts=false
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
COPY workers ./workers
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# dist/ holds the compiled workflows and their prebuilt bundle: the worker loads it instead of running
# webpack at start (≈ 110 MiB less RSS, faster start).
ENV TALON_WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js
COPY bin ./bin
COPY models ./models
# The measured task taxonomy the webhook's task routes and the worker's task activities read.
COPY data/taxonomy.json ./data/taxonomy.json
USER 10001:10001
EXPOSE 8080 9464
ENTRYPOINT ["node", "bin/talon"]
CMD ["worker"]
