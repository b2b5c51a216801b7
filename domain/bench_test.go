package domain_test

import (
	"testing"

	"github.com/nicplug/nicplug/domain"
)

func BenchmarkParseDomain(b *testing.B) {
	data := []byte(exampleDomain)
	for b.Loop() {
		if _, err := domain.ParseDomain(data, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseInterface(b *testing.B) {
	data := []byte(`<interface type='bridge'><mac address='52:54:00:0f:7d:ad'/><source bridge='br0'/><model type='virtio'/></interface>`)
	for b.Loop() {
		if _, err := domain.ParseInterface(data, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDomainMarshal(b *testing.B) {
	d, err := domain.ParseDomain([]byte(exampleDomain), nil)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := d.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDiff(b *testing.B) {
	old, err := domain.ParseInterface([]byte(`<interface type='none'><mac address='52:54:00:0f:7d:ad'/><model type='virtio'/></interface>`), nil)
	if err != nil {
		b.Fatal(err)
	}
	n, err := domain.ParseInterface([]byte(`<interface type='bridge'><mac address='52:54:00:0f:7d:ad'/><source bridge='br0'/><model type='virtio'/></interface>`), nil)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := domain.Diff(old, n); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkQEMUArgs(b *testing.B) {
	d, err := domain.ParseDomain([]byte(exampleDomain), nil)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := d.QEMUArgs(); err != nil {
			b.Fatal(err)
		}
	}
}
