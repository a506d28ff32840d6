// Package gocompat is the drop-in compatibility suite for kesrs.
//
// Its tests start a real key server (kesrs by default, or Go KES for
// checking the assertions against ground truth) and drive it with the Go
// client that MinIO links, github.com/minio/kms-go/kes. Everything lives in
// the _test.go files; see README.md for how to run it.
package gocompat
