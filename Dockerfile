# gspbot: one image for every role — `migrate`, `serve` (the API and dashboard), `worker` (the pool,
# each worker with its own headless Chromium) and the demo's portal simulator (`gspbot-sim`).
#
#   docker build -t gspbot .
#   docker run --rm --env-file .env gspbot migrate
#
# Two stages from debian:bookworm-slim: `build` compiles with the -dev packages; the runtime stage
# has only the shared libraries, Debian's chromium and fonts. Runs as the non-root user gspbot
# (uid 10001) under tini, so that no Chromium helper is ever left a zombie. See docker/ for the
# helper scripts and README.md ("Docker Compose deployment") for how the pieces fit.
ARG DEBIAN_IMAGE=debian:bookworm-slim

FROM ${DEBIAN_IMAGE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      build-essential cmake pkg-config \
      libwebsockets-dev libcjson-dev libcurl4-openssl-dev libpq-dev libzip-dev libexpat1-dev libssl-dev \
      libcmocka-dev libxlsxwriter-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The whole tree configures (the simulator lives under tests/; the tests' -dev packages are needed
# for that); only the two programs are built, two jobs at a time (a build next to other work).
COPY CMakeLists.txt ./
COPY cmake cmake
COPY schema schema
COPY data data
COPY cdp cdp
COPY loader loader
COPY src src
COPY tests tests
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr >/dev/null \
 && cmake --build /build -j2 --target gspbot gspbot-sim \
 && DESTDIR=/out cmake --install /build --strip \
 && install -m 0755 -s /build/tests/sim/gspbot-sim /out/usr/bin/gspbot-sim

FROM ${DEBIAN_IMAGE}
# curl: the health check. socat: lets the demo's simulator (which listens on loopback only) be
# reached by the other containers. tzdata: TZ for `gspbot start --at 02:00`.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      libwebsockets17 libcjson1 libcurl4 libpq5 libzip4 libexpat1 libssl3 \
      chromium fonts-liberation tini ca-certificates curl socat tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 gspbot \
 && useradd --uid 10001 --gid 10001 --home-dir /var/lib/gspbot --create-home \
      --shell /usr/sbin/nologin gspbot \
 && install -d -m 0700 -o gspbot -g gspbot /var/lib/gspbot/evidence
COPY --from=build /out/usr/ /usr/
COPY docker/chromium-container.conf /etc/chromium.d/gspbot-container
COPY docker/entrypoint.sh /usr/local/bin/gspbot-entrypoint
COPY docker/healthcheck.sh /usr/local/bin/gspbot-healthcheck
COPY docker/sim.sh /usr/local/bin/gspbot-sim-demo
RUN chmod 0755 /usr/local/bin/gspbot-entrypoint /usr/local/bin/gspbot-healthcheck /usr/local/bin/gspbot-sim-demo \
 && chmod 0644 /etc/chromium.d/gspbot-container
ENV GSPBOT_FLOW=/usr/share/gspbot/flows/gsp-sim.json \
    GSPBOT_SCREENSHOT_DIR=/var/lib/gspbot/evidence \
    CHROMIUM_PATH=/usr/bin/chromium
USER gspbot
WORKDIR /var/lib/gspbot
EXPOSE 8000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=10s --start-period=30s --retries=3 CMD ["gspbot-healthcheck"]
# tini -s: reaps every orphan (Chromium's helpers) even when `init: true` puts docker-init first.
ENTRYPOINT ["/usr/bin/tini", "-s", "--", "gspbot-entrypoint"]
CMD ["serve"]
