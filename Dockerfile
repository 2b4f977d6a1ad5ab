# syntax=docker/dockerfile:1
# goldmane-edge-aggregator: one image for every command; the runbook's Deployment runs it with
# args ["aggregate"], its CronJob with args ["digest"].

# 1. Compile TypeScript (needs the dev dependencies).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# 2. Production dependencies only, in a layer of their own.
FROM node:20-bookworm-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

# 3. The runtime: no compiler, no dev dependencies, not root.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=dependencies /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY proto ./proto
COPY migrations ./migrations
COPY data ./data
# The node user of the official image (uid 1000).
USER node
EXPOSE 8080
# V8 flags chosen from measurement (docs/operations.md, "Memory"; docs/performance.md): 2 MiB
# semi-spaces instead of 16 (a burst no longer grows the young generation to ~48 MiB; 1 MiB cost
# 10-35% of the throughput for 3 MiB less), an old generation capped well above the ~12 MiB heap the
# aggregator uses, and no V8 worker threads beyond the main one.
ENTRYPOINT ["node", "--max-semi-space-size=2", "--max-old-space-size=32", "--v8-pool-size=0", "dist/cli/bin.js"]
CMD ["aggregate"]
