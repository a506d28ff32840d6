module github.com/kesrs/kesrs/tests/go-compat

go 1.26.0

require (
	github.com/minio/kms-go/kes v0.3.1
	github.com/minio/sio v0.4.1
	golang.org/x/crypto v0.59.0
)

require (
	aead.dev/mem v0.2.0 // indirect
	github.com/prometheus/client_model v0.6.0 // indirect
	github.com/prometheus/common v0.51.1 // indirect
	golang.org/x/sys v0.50.0 // indirect
	google.golang.org/protobuf v1.33.0 // indirect
)
