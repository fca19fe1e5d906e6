# syntax=docker/dockerfile:1
# agentrollout-operator container image.
#
#   docker build -t agentrollout-operator:0.1.0 .
#
# The builder runs the same steps as CI (hack/install-deps.sh, `cmake --preset default`),
# so the image's binary is the one the tests ran against. The runtime image holds only the
# binary and the shared libraries it links (its ldd closure), runs as 65532:65532 and
# works with a read-only root filesystem (charts/agentrollout-operator).
#
# Not built on the development machine: it has no container engine. tests/gitops/
# dockerfile_test.sh checks this file statically (base images, copied paths exist, non-root
# user, the build target).

FROM debian:bookworm AS build
WORKDIR /src
# Dependencies first, so source edits reuse this layer.
COPY hack/install-deps.sh hack/install-deps.sh
RUN bash hack/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake --preset default \
 && cmake --build --preset default --target agentrollout-operator \
 && install -D -m 0755 build/default/operator/agentrollout-operator /out/usr/local/bin/agentrollout-operator \
 && strip --strip-unneeded /out/usr/local/bin/agentrollout-operator
# The shared libraries the binary needs, except glibc and the GCC runtime that
# bookworm-slim already has (same Debian release, so the same ABI). Copied under their
# resolved directory (/lib is a symlink to /usr/lib on bookworm).
RUN set -eu; \
    ldd /out/usr/local/bin/agentrollout-operator | awk '/=> \// { print $3 }' | while read -r lib; do \
      case "$(basename "$lib")" in \
        libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|ld-linux*|libstdc++.so.*|libgcc_s.so.*) continue ;; \
      esac; \
      dir="$(readlink -f "$(dirname "$lib")")"; \
      install -D -m 0644 "$(readlink -f "$lib")" "/out$dir/$(basename "$lib")"; \
    done

FROM debian:bookworm-slim
# CA certificates for HTTPS to Prometheus/Thanos/Mimir and notification webhooks (the
# Kubernetes API's CA comes from the service-account mount).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /
# Fails the build if a library is missing from the copied closure.
RUN ldconfig && /usr/local/bin/agentrollout-operator --help >/dev/null
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/agentrollout-operator"]
