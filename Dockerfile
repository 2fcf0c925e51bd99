# syntax=docker/dockerfile:1
# relais in a container: a build stage with the Rust toolchain, and a small Debian
# runtime with only the binary, CA certificates (partner feeds are https) and curl for
# the health check. The store lives on a volume; the config is mounted read-only.
#
#   docker build -t relais .
#   docker run -d --name relais -p 8080:8080 \
#     -v relais-data:/var/lib/relais \
#     -v /srv/relais/relais.toml:/etc/relais/relais.toml:ro \
#     --env-file /srv/relais/relais.env relais
#   docker kill -s HUP relais        # reload the configuration
#
# In the mounted config: [server] listen = "0.0.0.0:8080" (inside the container) and
# [store] path = "/var/lib/relais/relais.db".

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# The registry and target folders are BuildKit caches: a rebuild after a source change
# does not download or recompile the dependencies. The binary is copied out of the cache.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin relais \
    && install -m 0755 target/release/relais /usr/local/bin/relais

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/relais --shell /usr/sbin/nologin relais \
    && install -d -o relais -g relais -m 0750 /var/lib/relais \
    && install -d -m 0755 /etc/relais
COPY --from=build /usr/local/bin/relais /usr/local/bin/relais
COPY config/relais.toml /usr/local/share/doc/relais/relais.toml.example
COPY README.md /usr/local/share/doc/relais/README.md

USER relais:relais
WORKDIR /var/lib/relais
VOLUME ["/var/lib/relais"]
ENV RELAIS_CONFIG=/etc/relais/relais.toml \
    RUST_LOG=info
EXPOSE 8080
# relais answers 200 `ok` on /healthz once its store is open and its port bound.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8080/healthz || exit 1
# SIGTERM (docker stop): polls cancelled, requests finished, store flushed. Give it time.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/relais"]
CMD ["run"]
