// Pins nats-server v2.10.5 and everything it links, for the test matrix (scripts/nats-server.sh).
module jetstream-scaler/test/nats-servers/v2.10.5

go 1.24

tool github.com/nats-io/nats-server/v2

require (
	github.com/klauspost/compress v1.17.2 // indirect
	github.com/minio/highwayhash v1.0.2 // indirect
	github.com/nats-io/jwt/v2 v2.5.3 // indirect
	github.com/nats-io/nats-server/v2 v2.10.5 // indirect
	github.com/nats-io/nkeys v0.4.6 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	go.uber.org/automaxprocs v1.5.3 // indirect
	golang.org/x/crypto v0.15.0 // indirect
	golang.org/x/sys v0.14.0 // indirect
	golang.org/x/time v0.4.0 // indirect
)
