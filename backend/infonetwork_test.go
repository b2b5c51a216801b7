package backend_test

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nicplug/nicplug/backend"
)

func client(name, typ, info string) *backend.Client {
	return &backend.Client{Name: name, Type: typ, Info: info}
}

func TestParseInfoNetwork(t *testing.T) {
	tests := []struct {
		file string
		want *backend.NetworkInfo
	}{
		{
			// Captured from QEMU 7.2: two hub-peered NICs, a user backend
			// on hub 0, a standalone user backend, sockets.
			file: "testdata/info-network-qemu72-mixed.txt",
			want: &backend.NetworkInfo{
				Hubs: []backend.Hub{
					{ID: 7, Ports: []backend.HubPort{{Name: "lonely"}}},
					{ID: 1, Ports: []backend.HubPort{
						{Name: "y", Peer: client("sock1", "socket", "socket: connection from 127.0.0.1:58870")},
						{Name: "np.net1.b3.habcd.hp", Peer: client("np.net1.b3.habcd", "tap", "fd=14")},
						{Name: "np.net1.nic", Peer: client("net1", "nic", "model=e1000,macaddr=52:54:00:00:00:02")},
					}},
					{ID: 0, Ports: []backend.HubPort{
						{Name: "np.net0.b1.h1234.hp"},
						{Name: "np.net0.nic", Peer: client("net0", "nic", "model=virtio-net-pci,macaddr=52:54:00:00:00:01")},
					}},
				},
				Clients: []backend.Client{
					*client("np.net1.b2.h1234", "user", "net=10.0.2.0,restrict=off"),
					*client("sock2", "socket", "socket: udp=127.0.0.1:12346"),
					*client("sock3", "socket", "socket: mcast=230.0.0.1:1234"),
					*client("sock4", "socket", "socket: connect to 127.0.0.1:12345"),
				},
			},
		},
		{
			file: "testdata/info-network-qemu72-attached.txt",
			want: &backend.NetworkInfo{
				Hubs: []backend.Hub{
					{ID: 7, Ports: []backend.HubPort{{Name: "lonely"}}},
					{ID: 1, Ports: []backend.HubPort{
						{Name: "np.net1.b3.habcd.hp", Peer: client("np.net1.b3.habcd", "tap", "fd=14")},
						{Name: "np.net1.nic", Peer: client("net1", "nic", "model=e1000,macaddr=52:54:00:00:00:02")},
					}},
					{ID: 0, Ports: []backend.HubPort{
						{Name: "np.net0.b1.h1234.hp", Peer: client("np.net0.b1.h1234", "user", "net=10.0.2.0,restrict=off")},
						{Name: "np.net0.nic", Peer: client("net0", "nic", "model=virtio-net-pci,macaddr=52:54:00:00:00:01")},
					}},
				},
				Clients: []backend.Client{
					*client("np.net1.b2.h1234", "user", "net=10.0.2.0,restrict=off"),
					*client("sock1", "socket", "socket: connection from 127.0.0.1:58870"),
					*client("sock2", "socket", "socket: udp=127.0.0.1:12346"),
					*client("sock3", "socket", "socket: mcast=230.0.0.1:1234"),
					*client("sock4", "socket", "socket: connect to 127.0.0.1:12345"),
				},
			},
		},
		{
			// A NIC peered directly with a tap (no hub), as libvirt boots
			// them, with a filter.
			file: "testdata/info-network-direct-peer.txt",
			want: &backend.NetworkInfo{
				Clients: []backend.Client{
					{Name: "net0", Type: "nic", Info: "model=virtio-net-pci,macaddr=52:54:00:12:34:56",
						Peer: client("hostnet0", "tap", "ifname=tap0,script=no,downscript=no")},
					*client("lone", "user", "net=10.0.2.0,restrict=off"),
				},
			},
		},
		{file: "testdata/info-network-empty.txt", want: &backend.NetworkInfo{}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			got, err := backend.ParseInfoNetwork(string(data))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseInfoNetworkLookups(t *testing.T) {
	data, err := os.ReadFile("testdata/info-network-qemu72-attached.txt")
	if err != nil {
		t.Fatal(err)
	}
	ni, err := backend.ParseInfoNetwork(string(data))
	if err != nil {
		t.Fatal(err)
	}
	h, p, ok := ni.Port("np.net0.nic")
	if !ok || h.ID != 0 || p.Peer.Name != "net0" {
		t.Errorf("Port(np.net0.nic) = %+v, %+v, %v", h, p, ok)
	}
	if _, _, ok := ni.Port("nope"); ok {
		t.Error("Port(nope) found")
	}
	if c, ok := ni.Client("sock2"); !ok || c.Type != "socket" {
		t.Errorf("Client(sock2) = %+v, %v", c, ok)
	}
	if _, ok := ni.Client("net0"); ok {
		t.Error("Client(net0) found at top level, it is on a hub")
	}
}

func TestParseInfoNetworkRejects(t *testing.T) {
	for _, text := range []string{
		"hub x\r\n",
		" \\ orphan: x: index=0,type=user,\r\n",
		"garbage line\r\n",
		"hub 0\r\n \\ p: q: index=z,type=user,\r\n",
		"name: index=0,kind=user\r\n",
	} {
		if ni, err := backend.ParseInfoNetwork(text); err == nil {
			t.Errorf("ParseInfoNetwork(%q) = %+v, want error", text, ni)
		} else if !strings.HasPrefix(err.Error(), "backend: info network line") {
			t.Errorf("error %q lacks context", err)
		}
	}
}
