# The simulator as a container: build on the Rust image, run on Debian slim as a
# non-root user.
#   docker build -t paymetrics-simulator .
#   docker run --rm paymetrics-simulator run --count 10 --from 2026-11-26T00:00:00Z --to 2026-11-26T01:00:00Z
#   docker run --rm -e AZURE_TENANT_ID -e AZURE_CLIENT_ID -e AZURE_CLIENT_SECRET \
#     paymetrics-simulator run --sink eventhubs --auth client-secret \
#     --namespace evhns-paymetrics-dev-weu-001.servicebus.windows.net \
#     --hub evh-paymetrics-dev-weu-001 --duration 10m
FROM rust:1.95-slim-bookworm AS build
# The Event Hubs (AMQP) client's TLS links OpenSSL.
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin simulator

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin simulator
WORKDIR /app
COPY --from=build /src/target/release/simulator /usr/local/bin/simulator
COPY --from=build /src/config/simulator.yaml /app/config/simulator.yaml
USER 10001
ENTRYPOINT ["simulator"]
CMD ["run", "--config", "/app/config/simulator.yaml", "--duration", "1m"]
