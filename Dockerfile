# Builds the congthu binary and runs it on a small Debian base.
FROM golang:1.26-bookworm AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends libssl-dev && rm -rf /var/lib/apt/lists/*
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# -tags openssl: DKIM's RSA signatures through libcrypto (3x faster than
# Go's; see dkim/openssl.go), so the binary links libssl3.
RUN CGO_ENABLED=1 go build -trimpath -tags openssl -o /out/congthu ./cmd/congthu

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tzdata libssl3 \
	&& rm -rf /var/lib/apt/lists/* \
	&& useradd --system --home /var/lib/congthu --create-home congthu
COPY --from=build /out/congthu /usr/local/bin/congthu
USER congthu
ENV CONGTHU_DATA_DIR=/var/lib/congthu
VOLUME /var/lib/congthu
EXPOSE 587 465 143 993 25 8080
ENTRYPOINT ["/usr/local/bin/congthu"]
CMD ["serve"]
